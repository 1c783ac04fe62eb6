// Reads the serve configuration file (YAML) into flat key/value settings.
// Keys are the long flag names without dashes ("smtp-listen"); values stay strings so the
// app applies them with the same parsing as flags. Unknown keys are errors with file:line:column.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace smtpmock::scenario {

/// One setting read from a config file, with where it was written.
struct config_value {
  std::string value;
  int line = 0;
  int column = 0;
};

/// Loads `file`; only keys in `allowed` are accepted (others raise load_error).
std::map<std::string, config_value> load_config_file(const std::filesystem::path& file,
                                                     const std::vector<std::string>& allowed);

}  // namespace smtpmock::scenario
