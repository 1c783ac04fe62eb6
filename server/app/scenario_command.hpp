// `smtpmock scenario lint FILE...` and `smtpmock scenario list`: scenario tooling for users
// and CI. Output goes to stdout (verdicts, the list) and stderr (errors); nothing is served.
#pragma once

#include <string>
#include <vector>

namespace smtpmock::app {

/// Lints each file; prints "file:line:column: message" per error, "file: ok" per good file
/// unless `quiet`. Returns 0 when every file loads, 1 otherwise.
int run_scenario_lint(const std::vector<std::string>& files, bool quiet);
/// Prints the bundled scenarios, one per line: name, then description.
int run_scenario_list();

}  // namespace smtpmock::app
