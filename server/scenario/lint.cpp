// Scenario lint: every file goes through resolve() and load_definition_file(), exactly what
// `--scenario` does, so a file that lints clean is a file the server starts with.
#include "scenario/lint.hpp"

#include <exception>

#include "scenario/loader.hpp"
#include "scenario/rules.hpp"

namespace smtpmock::scenario {

std::vector<lint_result> lint(const std::vector<std::string>& files) {
  std::vector<lint_result> results;
  results.reserve(files.size());
  for (const auto& file : files) {
    lint_result result{file, false, ""};
    try {
      load_definition_file(resolve(file));
      result.ok = true;
    } catch (const load_error& e) {
      result.error = e.what();
    } catch (const std::exception& e) {
      // Not expected (the loader reports its failures as load_error), but lint must go on.
      result.error = file + ": " + e.what();
    }
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace smtpmock::scenario
