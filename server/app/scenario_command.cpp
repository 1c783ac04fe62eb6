// `smtpmock scenario lint` and `smtpmock scenario list`; see scenario_command.hpp.
#include "app/scenario_command.hpp"

#include <algorithm>
#include <iostream>

#include "app/serve.hpp"
#include "scenario/lint.hpp"
#include "scenario/loader.hpp"

namespace smtpmock::app {

int run_scenario_lint(const std::vector<std::string>& files, bool quiet) {
  bool all_ok = true;
  for (const auto& result : scenario::lint(files)) {
    if (result.ok) {
      if (!quiet) std::cout << result.file << ": ok\n";
    } else {
      all_ok = false;
      for (const auto& error : result.errors)
        std::cerr << error << '\n';
    }
  }
  return all_ok ? exit_ok : 1;
}

int run_scenario_list() {
  const auto entries = scenario::list();
  std::size_t width = 0;
  for (const auto& e : entries)
    width = std::max(width, e.name.size());
  for (const auto& e : entries) {
    std::cout << e.name << std::string(width + 2 - e.name.size(), ' ') << e.description << '\n';
  }
  return exit_ok;
}

}  // namespace smtpmock::app
