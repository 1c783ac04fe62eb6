// Scenario lint: every file goes through resolve() and the loader, exactly what `--scenario`
// does, so a file that lints clean is a file the server starts with; unlike the server, lint
// goes on past an error and reports them all.
#include "scenario/lint.hpp"

#include <exception>

#include "scenario/loader.hpp"
#include "scenario/rules.hpp"

namespace smtpmock::scenario {

std::vector<lint_result> lint(const std::vector<std::string>& files, std::size_t max_errors) {
  std::vector<lint_result> results;
  results.reserve(files.size());
  for (const auto& file : files) {
    lint_result result{file, false, {}};
    try {
      for (const auto& e : check_definition_file(resolve(file), max_errors))
        result.errors.emplace_back(e.what());
    } catch (const load_error& e) {
      result.errors.emplace_back(e.what());
    } catch (const std::exception& e) {
      // Not expected (the loader reports its failures as load_error), but lint must go on.
      result.errors.push_back(file + ": " + e.what());
    }
    result.ok = result.errors.empty();
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace smtpmock::scenario
