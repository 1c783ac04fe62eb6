// Config file reader: one flat YAML mapping of `setting: value`, values kept as their text.
// Strict like the scenario loader: unknown or repeated keys, nested values and YAML syntax
// errors raise load_error at the 1-based line:column of the key or value. A key with no value
// (`spool:` or `spool: ~`) is treated as not set, so the built-in default applies.
#include "scenario/config_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "scenario/loader.hpp"

namespace smtpmock::scenario {

namespace {

[[noreturn]] void fail_at(const std::string& file, const YAML::Mark& mark,
                          const std::string& message) {
  if (mark.is_null()) throw load_error(file, 1, 1, message);
  throw load_error(file, mark.line + 1, mark.column + 1, message);
}

std::string read_config(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    throw load_error(file.string(), 0, 0, "is a directory");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw load_error(file.string(), 0, 0, std::string("cannot open: ") + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw load_error(file.string(), 0, 0, "cannot read");
  return text.str();
}

}  // namespace

std::map<std::string, config_value> load_config_file(const std::filesystem::path& file,
                                                     const std::vector<std::string>& allowed) {
  const std::string name = file.string();
  const std::string text = read_config(file);
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    fail_at(name, e.mark, "YAML syntax error: " + e.msg);
  }
  std::map<std::string, config_value> settings;
  // A file with nothing but comments sets nothing.
  if (documents.empty() || documents.front().IsNull()) return settings;
  for (std::size_t i = 1; i < documents.size(); ++i) {
    if (!documents[i].IsNull())
      fail_at(name, documents[i].Mark(), "only one YAML document per file");
  }
  const YAML::Node root = documents.front();
  if (!root.IsMap()) {
    fail_at(name, root.Mark(),
            "a config file must be a mapping of settings, as in 'scenario: default'");
  }
  std::map<std::string, int> seen;  // key -> 1-based line of its first occurrence
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) fail_at(name, key.Mark(), "keys must be plain setting names");
    const std::string& setting = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), setting) == allowed.end()) {
      std::string message = "unknown key '" + setting + "'";
      if (const auto near = did_you_mean(setting, allowed)) {
        message += " (did you mean '" + *near + "'?)";
      }
      fail_at(name, key.Mark(), message);
    }
    if (const auto [first, inserted] = seen.emplace(setting, key.Mark().line + 1); !inserted) {
      fail_at(name, key.Mark(),
              "duplicate key '" + setting + "' (first given on line " +
                  std::to_string(first->second) + ")");
    }
    if (value.IsNull()) continue;
    if (!value.IsScalar()) {
      fail_at(name, value.Mark(),
              "expected a single value for '" + setting + "', not a " +
                  (value.IsMap() ? "mapping" : "list"));
    }
    settings[setting] =
        config_value{value.Scalar(), value.Mark().line + 1, value.Mark().column + 1};
  }
  return settings;
}

}  // namespace smtpmock::scenario
