// Config file reader: one flat YAML mapping of `setting: value`, values kept as their text.
// Strict like the scenario loader: unknown or repeated keys, nested values and YAML syntax
// errors raise load_error at the 1-based line:column of the key or value. A key with no value
// (`spool:` or `spool: ~`) is treated as not set, so the built-in default applies.
// The YAML is read through yaml::parse, bounded like a scenario (1 MiB, depth, nodes).
// Durations and numbers stay text here: the app parses them with its flags' range checks.
#include "scenario/config_file.hpp"

#include <algorithm>

#include "scenario/loader.hpp"
#include "scenario/yaml_tree.hpp"

namespace smtpmock::scenario {

namespace {

[[noreturn]] void fail_at(const std::string& file, const yaml::node& node,
                          const std::string& message) {
  const yaml::mark mark = node.where();
  if (mark.line <= 0) throw load_error(file, 1, 1, message);
  throw load_error(file, mark.line, mark.column, message);
}

}  // namespace

std::map<std::string, config_value> load_config_file(const std::filesystem::path& file,
                                                     const std::vector<std::string>& allowed) {
  const std::string name = file.string();
  const std::string text = yaml::read_file(file);
  const yaml::document document = yaml::parse(text, name);
  std::map<std::string, config_value> settings;
  // A file with nothing but comments sets nothing.
  const yaml::node root = document.root();
  if (!root.defined() || root.is_null()) return settings;
  if (!root.is_map()) {
    fail_at(name, root, "a config file must be a mapping of settings, as in 'scenario: default'");
  }
  std::map<std::string, int> seen;  // key -> 1-based line of its first occurrence
  for (std::size_t i = 0; i < root.size(); ++i) {
    const yaml::node key = root.key(i);
    const yaml::node value = root.value(i);
    if (!key.is_scalar()) fail_at(name, key, "keys must be plain setting names");
    const std::string& setting = key.scalar();
    if (std::find(allowed.begin(), allowed.end(), setting) == allowed.end()) {
      std::string message = "unknown key '" + setting + "'";
      if (const auto near = did_you_mean(setting, allowed)) {
        message += " (did you mean '" + *near + "'?)";
      }
      fail_at(name, key, message);
    }
    if (const auto [first, inserted] = seen.emplace(setting, key.where().line); !inserted) {
      fail_at(name, key,
              "duplicate key '" + setting + "' (first given on line " +
                  std::to_string(first->second) + ")");
    }
    if (value.is_null()) continue;
    if (!value.is_scalar()) {
      fail_at(name, value,
              "expected a single value for '" + setting + "', not a " +
                  (value.is_map() ? "mapping" : "list"));
    }
    settings[setting] = config_value{value.scalar(), value.where().line, value.where().column};
  }
  return settings;
}

}  // namespace smtpmock::scenario
