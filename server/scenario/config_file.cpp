// Config file reader: one YAML mapping of `setting: value`, values kept as their text, plus a
// `listeners:` list of mappings (listen, scenario, tls, name, tls-cert, tls-key).
// Strict like the scenario loader: unknown or repeated keys, nested values and YAML syntax
// errors raise load_error at the 1-based line:column of the key or value. A key with no value
// (`spool:` or `spool: ~`) is treated as not set, so the built-in default applies.
// The YAML is read through yaml::parse, bounded like a scenario (1 MiB, depth, nodes).
// Durations and numbers stay text here: the app parses them with its flags' range checks.
#include "scenario/config_file.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "scenario/listen_address.hpp"
#include "scenario/loader.hpp"
#include "scenario/yaml_tree.hpp"

namespace smtpmock::scenario {

namespace {

constexpr std::string_view listeners_key = "listeners";

[[noreturn]] void fail_at(const std::string& file, const yaml::node& node,
                          const std::string& message) {
  const yaml::mark mark = node.where();
  if (mark.line <= 0) throw load_error(file, 1, 1, message);
  throw load_error(file, mark.line, mark.column, message);
}

std::string kind_name(const yaml::node& node) {
  if (node.is_map()) return "mapping";
  if (node.is_sequence()) return "list";
  return "single value";
}

/// Where one entry's values were written, for errors that the whole list reveals.
struct entry_marks {
  yaml::node entry;
  yaml::node listen;  ///< the `listen:` value
  yaml::node name;    ///< the `name:` value; undefined when the entry has none
};

/// Reads one `listeners:` entry; `origin` is the entry's FILE:LINE:COLUMN.
listener_spec read_listener(const std::string& file, const yaml::node& entry, entry_marks& marks) {
  static const std::vector<std::string> keys = {"listen", "name",     "scenario",
                                                "tls",    "tls-cert", "tls-key"};
  if (!entry.is_map()) {
    fail_at(file, entry,
            "a listener must be a mapping such as {listen: 0.0.0.0:1025, scenario: default}, "
            "not a " +
                kind_name(entry));
  }
  listener_spec spec;
  const yaml::mark at = entry.where();
  spec.origin = file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
  marks.entry = entry;
  std::map<std::string, int> seen;
  yaml::node cert_key;
  yaml::node key_key;
  for (std::size_t i = 0; i < entry.size(); ++i) {
    const yaml::node key = entry.key(i);
    const yaml::node value = entry.value(i);
    if (!key.is_scalar()) fail_at(file, key, "listener keys must be plain names");
    const std::string& k = key.scalar();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string message = "unknown listener key '" + k + "'";
      if (const auto near = did_you_mean(k, keys)) message += " (did you mean '" + *near + "'?)";
      fail_at(file, key, message + "; expected listen, scenario, tls, name, tls-cert, tls-key");
    }
    if (const auto [first, inserted] = seen.emplace(k, key.where().line); !inserted) {
      fail_at(file, key,
              "duplicate key '" + k + "' in this listener (first given on line " +
                  std::to_string(first->second) + ")");
    }
    if (value.is_null()) {
      // `scenario:` with no value keeps the serve --scenario; an address cannot be left out.
      if (k == "listen") fail_at(file, key, "'listen' needs an address: listen: ADDR:PORT");
      continue;
    }
    if (!value.is_scalar()) {
      std::string message = "expected a single value for '" + k + "', not a " + kind_name(value);
      if (k == "listen" && value.is_sequence())
        message += " (write an IPv6 address in quotes: listen: \"[::1]:1025\")";
      fail_at(file, value, message);
    }
    const std::string& text = value.scalar();
    if (k == "listen") {
      if (auto problem = listen_address_problem(text); !problem.empty())
        fail_at(file, value, problem);
      spec.address = text;
      marks.listen = value;
    } else if (k == "scenario") {
      spec.scenario = text;
    } else if (k == "tls") {
      try {
        spec.tls = parse_listener_tls(text);
      } catch (const std::invalid_argument& e) {
        fail_at(file, value, e.what());
      }
    } else if (k == "name") {
      if (auto problem = listener_name_problem(text); !problem.empty())
        fail_at(file, value, problem);
      spec.name = text;
      marks.name = value;
    } else if (k == "tls-cert") {
      spec.tls_cert = text;
      cert_key = key;
    } else {
      spec.tls_key = text;
      key_key = key;
    }
  }
  if (!marks.listen.defined()) fail_at(file, entry, "a listener needs 'listen: ADDR:PORT'");
  if (cert_key.defined() != key_key.defined()) {
    fail_at(file, cert_key.defined() ? cert_key : key_key,
            cert_key.defined() ? "'tls-cert' needs 'tls-key' in the same listener (or neither, "
                                 "for the server's certificate)"
                               : "'tls-key' needs 'tls-cert' in the same listener (or neither, "
                                 "for the server's certificate)");
  }
  return spec;
}

std::vector<listener_spec> read_listeners(const std::string& file, const yaml::node& list) {
  if (!list.is_sequence()) {
    fail_at(file, list,
            "'listeners' must be a list, one mapping per listener, as in "
            "'- {listen: 0.0.0.0:1025, scenario: default}'");
  }
  std::vector<listener_spec> out;
  std::vector<entry_marks> marks(list.size());
  for (std::size_t i = 0; i < list.size(); ++i)
    out.push_back(read_listener(file, list.item(i), marks[i]));
  if (const auto conflict = find_listener_conflict(out)) {
    const entry_marks& first = marks[conflict->first];
    const entry_marks& second = marks[conflict->second];
    const bool by_name = conflict->what == listener_conflict::kind::name;
    // tls_pair is caught per entry above; what is left is an address or a name taken twice.
    const yaml::node& at = by_name && second.name.defined() ? second.name : second.listen;
    const yaml::node& there = by_name && first.name.defined() ? first.name : first.listen;
    fail_at(file, at,
            conflict->message + ": the one on line " + std::to_string(there.where().line) +
                " and this one" + conflict->hint);
  }
  return out;
}

}  // namespace

config_file load_config(const std::filesystem::path& file,
                        const std::vector<std::string>& allowed) {
  const std::string name = file.string();
  const std::string text = yaml::read_file(file);
  const yaml::document document = yaml::parse(text, name);
  config_file out;
  // A file with nothing but comments sets nothing.
  const yaml::node root = document.root();
  if (!root.defined() || root.is_null()) return out;
  if (!root.is_map()) {
    fail_at(name, root, "a config file must be a mapping of settings, as in 'scenario: default'");
  }
  std::vector<std::string> known = allowed;
  known.emplace_back(listeners_key);
  std::map<std::string, int> seen;  // key -> 1-based line of its first occurrence
  for (std::size_t i = 0; i < root.size(); ++i) {
    const yaml::node key = root.key(i);
    const yaml::node value = root.value(i);
    if (!key.is_scalar()) fail_at(name, key, "keys must be plain setting names");
    const std::string& setting = key.scalar();
    if (std::find(known.begin(), known.end(), setting) == known.end()) {
      std::string message = "unknown key '" + setting + "'";
      if (const auto near = did_you_mean(setting, known)) {
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
    if (setting == listeners_key) {
      out.listeners = read_listeners(name, value);
      continue;
    }
    if (!value.is_scalar()) {
      fail_at(name, value,
              "expected a single value for '" + setting + "', not a " +
                  (value.is_map() ? "mapping" : "list"));
    }
    out.settings[setting] = config_value{value.scalar(), value.where().line, value.where().column};
  }
  return out;
}

std::map<std::string, config_value> load_config_file(const std::filesystem::path& file,
                                                     const std::vector<std::string>& allowed) {
  return load_config(file, allowed).settings;
}

}  // namespace smtpmock::scenario
