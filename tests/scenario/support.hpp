// Shared helpers of the scenario tests: the error a load raises, and substring checks.
#pragma once

#include <filesystem>
#include <string>

#include "scenario/loader.hpp"

namespace smtpmock::testing {

inline const std::filesystem::path scenario_tests =
    std::filesystem::path(SMTPMOCK_TESTS_DIR) / "scenario";
inline const std::filesystem::path broken_fixtures = scenario_tests / "broken";

/// The load_error `load()` raises, or one with line -1 naming `file` when it loads.
template <class Load>
scenario::load_error error_of(const std::string& file, Load&& load) {
  try {
    load();
  } catch (const scenario::load_error& e) {
    return e;
  }
  return scenario::load_error(file, -1, -1, "loaded without error");
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace smtpmock::testing
