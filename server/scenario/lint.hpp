// Scenario lint: loads scenario files the way the server would and reports, per file, whether
// it loads and the first error ("file:line:column: message"). Behind `smtpmock scenario lint`.
// It only reads files: nothing is started, and one broken file does not stop the others.
#pragma once

#include <string>
#include <vector>

namespace smtpmock::scenario {

/// The verdict on one file.
struct lint_result {
  std::string file;   ///< as given
  bool ok = false;    ///< loads completely: personality and rules
  std::string error;  ///< "file:line:column: message" ("file: message" without a position)
};

/// Loads each of `files` (a path, or the name of a bundled scenario) and reports each, in order.
std::vector<lint_result> lint(const std::vector<std::string>& files);

}  // namespace smtpmock::scenario
