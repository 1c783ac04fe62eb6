// Scenario lint: loads scenario files the way the server would and reports, per file, whether
// it loads and every error found ("file:line:column: message"), up to a budget per file.
// Behind `smtpmock scenario lint`. It only reads files: nothing is started, and one broken file
// does not stop the others.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace smtpmock::scenario {

/// The verdict on one file.
struct lint_result {
  std::string file;                 ///< as given
  bool ok = false;                  ///< loads completely: personality and rules
  std::vector<std::string> errors;  ///< "file:line:column: message", in file order
};

/// Loads each of `files` (a path, or the name of a bundled scenario) and reports each, in order,
/// with at most `max_errors` errors per file (then one line saying more follow).
std::vector<lint_result> lint(const std::vector<std::string>& files, std::size_t max_errors = 50);

}  // namespace smtpmock::scenario
