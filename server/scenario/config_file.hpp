// Reads the serve configuration file (YAML): flat key/value settings plus a `listeners:` list.
// Keys are the long flag names without dashes ("smtp-listen"); values stay strings so the
// app applies them with the same parsing as flags. Listener entries are checked here (keys,
// addresses, TLS modes, names, conflicts). Unknown keys and bad entries are load_errors with
// file:line:column. Must not resolve scenarios or touch anything but the file itself.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "scenario/listeners.hpp"

namespace smtpmock::scenario {

/// One setting read from a config file, with where it was written.
struct config_value {
  std::string value;
  int line = 0;
  int column = 0;
};

/// What a config file says.
struct config_file {
  std::map<std::string, config_value> settings;  ///< flat settings, by key
  /// `listeners:` entries in file order; each origin is "FILE:LINE:COLUMN" of its entry.
  std::vector<listener_spec> listeners;
};

/// Loads `file`; besides `listeners`, only keys in `allowed` are accepted (others raise
/// load_error, with a did-you-mean).
config_file load_config(const std::filesystem::path& file, const std::vector<std::string>& allowed);

/// load_config's flat settings only (a `listeners:` list is checked, then left out).
std::map<std::string, config_value> load_config_file(const std::filesystem::path& file,
                                                     const std::vector<std::string>& allowed);

}  // namespace smtpmock::scenario
