// Scenario loader: YAML text -> smtp::personality, strictly. Every mapping is read through one
// table of allowed keys, every value through one typed reader, and the first problem raises
// load_error at the 1-based line:column of the offending key (unknown, duplicate) or value.
// yaml-cpp stays inside this file (and config_file.cpp); its Marks are 0-based.
// Adding a section (such as `rules:`) means one parser function and one table row.
#include "scenario/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "smtp/limits.hpp"

namespace smtpmock::scenario {

namespace fs = std::filesystem;

namespace {

std::string format_error(const std::string& file, int line, int column,
                         const std::string& message) {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

}  // namespace

load_error::load_error(std::string file, int line, int column, std::string message)
    : std::runtime_error(format_error(file, line, column, message)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      message_(std::move(message)) {}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // A sequence of <digits><unit> groups ("1m30s"); units as in Go and Prometheus.
  static constexpr std::pair<std::string_view, long long> units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};
  if (text.empty()) return std::nullopt;
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    long long number = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data() + i || text[i] == '-' || text[i] == '+') {
      return std::nullopt;
    }
    i = static_cast<std::size_t>(end - text.data());
    std::size_t unit_end = i;
    while (unit_end < text.size() && text[unit_end] >= 'a' && text[unit_end] <= 'z')
      ++unit_end;
    const std::string_view unit = text.substr(i, unit_end - i);
    const auto* found = std::find_if(std::begin(units), std::end(units),
                                     [&](const auto& u) { return u.first == unit; });
    if (found == std::end(units)) return std::nullopt;
    constexpr long long max = std::numeric_limits<long long>::max();
    if (number > (max - total) / found->second) return std::nullopt;
    total += number * found->second;
    i = unit_end;
  }
  return std::chrono::milliseconds(total);
}

namespace {

/// Optimal string alignment distance: edits, counting a swap of neighbours as one ("hostnmae").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::optional<std::string> did_you_mean(std::string_view word,
                                        const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    // A typo is a couple of edits, fewer for short words: "nam" -> "name", not "seed" -> "name".
    const std::size_t allowed = std::clamp<std::size_t>(candidate.size() / 3, 1, 3);
    if (distance <= allowed && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

namespace {

/// The template names reply texts may use (SPEC §3); others are typos, not literal text.
const std::vector<std::string> template_names = {"hostname",  "client_ip", "helo", "sender",
                                                 "recipient", "argument",  "user", "queue_id",
                                                 "size",      "session_id"};

/// One key: value pair of a mapping, with the dotted path used in messages.
struct field {
  std::string path;  ///< "limits.idle_timeout"; empty for the document itself
  YAML::Node key;    ///< undefined for the document itself
  YAML::Node value;
};

/// Everything a scenario file declares. Rules will join the personality here.
struct parsed_scenario {
  smtp::personality personality;
  YAML::Node auth_required;  ///< where auth.required was set, for the consistency check
};

/// Reads typed values out of one file's YAML; every failure is a load_error with a position.
class reader {
 public:
  explicit reader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  [[noreturn]] void fail_at(const YAML::Mark& mark, const std::string& message) const {
    if (mark.is_null()) throw load_error(file_, 1, 1, message);
    throw load_error(file_, mark.line + 1, mark.column + 1, message);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
    fail_at(node.Mark(), message);
  }
  /// An error about a value; a missing value (`key:` alone) is reported at its key, since
  /// yaml-cpp marks an empty value at the next token, often on another line.
  [[noreturn]] void fail_value(const field& f, const std::string& message) const {
    if (f.value.IsNull() && f.key.IsDefined()) fail(f.key, "missing value for '" + f.path + "'");
    fail(f.value, message);
  }

  /// The one YAML document in `text`; syntax errors, no document or several are load errors.
  YAML::Node parse(std::string_view text) const {
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
      fail_at(e.mark, "YAML syntax error: " + e.msg);
    }
    if (documents.empty() || documents.front().IsNull()) {
      throw load_error(file_, 1, 1, "empty scenario: expected a mapping such as 'name: example'");
    }
    for (std::size_t i = 1; i < documents.size(); ++i) {
      if (!documents[i].IsNull()) fail(documents[i], "only one YAML document per file");
    }
    return documents.front();
  }

  /// Calls `on_field` for each key of the mapping `section`, after checking that it is a
  /// mapping, that each key is a plain name in `allowed`, and that no key repeats.
  template <class F>
  void for_each_field(const field& section, const std::vector<std::string>& allowed,
                      F&& on_field) const {
    if (!section.value.IsMap()) {
      fail_value(section, section.path.empty() ? "a scenario must be a mapping of keys "
                                                 "(name, hostname, ehlo, ...)"
                                               : "expected a mapping for '" + section.path + "'");
    }
    std::map<std::string, int> seen;  // key -> 1-based line of its first occurrence
    for (auto it = section.value.begin(); it != section.value.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) fail(key, "keys must be plain names");
      const std::string& name = key.Scalar();
      const std::string path = section.path.empty() ? name : section.path + "." + name;
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        fail(key, unknown_key_message(name, section.path, allowed));
      }
      if (const auto [first, inserted] = seen.emplace(name, key.Mark().line + 1); !inserted) {
        fail(key, "duplicate key '" + path + "' (first given on line " +
                      std::to_string(first->second) + ")");
      }
      on_field(field{path, key, it->second});
    }
  }

  /// Reads a mapping through a table of {key, parser} rows.
  template <class Target, class Row, std::size_t N>
  void dispatch(const field& section, const Row (&table)[N], Target& target) const {
    std::vector<std::string> allowed;
    for (const auto& row : table)
      allowed.emplace_back(row.key);
    for_each_field(section, allowed, [&](const field& f) {
      for (const auto& row : table) {
        if (row.key == f.key.Scalar()) row.parse(*this, f, target);
      }
    });
  }

  /// A scalar as text (numbers and booleans included, as written).
  std::string string_value(const field& f) const {
    if (!f.value.IsScalar()) fail_value(f, "expected a string for '" + f.path + "'");
    return f.value.Scalar();
  }

  /// A one-line text: no control characters, at most `max_length` octets.
  std::string line_value(const field& f, std::size_t max_length) const {
    std::string text = string_value(f);
    check_line(f.value, text, max_length);
    return text;
  }

  /// true or false, unquoted (YAML 1.2 core schema; "yes"/"on" are not booleans here).
  bool bool_value(const field& f) const {
    static const std::set<std::string> yes = {"true", "True", "TRUE"};
    static const std::set<std::string> no = {"false", "False", "FALSE"};
    if (f.value.IsScalar() && plain(f.value)) {
      if (yes.count(f.value.Scalar()) > 0) return true;
      if (no.count(f.value.Scalar()) > 0) return false;
    }
    fail_value(f, "expected a boolean (true or false) for '" + f.path + "'");
  }

  /// An unquoted whole number in [min, max].
  unsigned long long integer_value(const field& f, unsigned long long min,
                                   unsigned long long max) const {
    unsigned long long number = 0;
    if (f.value.IsScalar() && plain(f.value)) {
      const std::string& text = f.value.Scalar();
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
        if (number < min || number > max) {
          fail(f.value, "'" + f.path + "' must be between " + std::to_string(min) + " and " +
                            std::to_string(max));
        }
        return number;
      }
    }
    fail_value(f, "expected a non-negative whole number for '" + f.path + "'");
  }

  std::size_t count_value(const field& f, std::size_t min) const {
    return static_cast<std::size_t>(integer_value(f, min, std::numeric_limits<std::size_t>::max()));
  }

  /// A duration such as 300s, 500ms or 2m, greater than zero.
  std::chrono::milliseconds duration_value(const field& f) const {
    const std::string text = string_value(f);
    const auto duration = parse_duration(text);
    if (!duration) {
      fail(f.value, "bad duration '" + text + "' for '" + f.path +
                        "' (expected a number with a unit: ms, s, m or h, as in 300s)");
    }
    if (duration->count() == 0) fail(f.value, "'" + f.path + "' must be longer than 0");
    return *duration;
  }

  /// One of the names in `choices`.
  template <class E, std::size_t N>
  E enum_value(const field& f, const std::pair<std::string_view, E> (&choices)[N]) const {
    std::string allowed;
    for (const auto& [name, value] : choices) {
      if (f.value.IsScalar() && f.value.Scalar() == name) return value;
      allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    }
    const std::string got = f.value.IsScalar() ? "'" + f.value.Scalar() + "'" : "a non-string";
    fail_value(f, "bad value " + got + " for '" + f.path + "' (allowed: " + allowed + ")");
  }

  /// A reply line as written in a scenario: "250 2.1.0 MAIL ok". `klass` (2 or 3) is the
  /// class the reply must have, 0 for any; templates must be known names.
  std::string reply_value(const field& f, int klass) const {
    std::string text = string_value(f);
    check_reply(f, text, klass);
    check_templates(f.value, text);
    return text;
  }

  /// A sequence of one-line strings.
  std::vector<std::pair<std::string, YAML::Node>> string_list(const field& f) const {
    if (!f.value.IsSequence()) fail_value(f, "expected a list of strings for '" + f.path + "'");
    std::vector<std::pair<std::string, YAML::Node>> items;
    for (const auto& item : f.value) {
      if (!item.IsScalar()) fail(item, "expected a string in '" + f.path + "'");
      check_line(item, item.Scalar(), smtp::limits::reply_line - 6);
      items.emplace_back(item.Scalar(), item);
    }
    return items;
  }

  /// Rejects {names} that are not template names: a typo would otherwise go out literally.
  void check_templates(const YAML::Node& at, std::string_view text) const {
    for (std::size_t open = text.find('{'); open != std::string_view::npos;
         open = text.find('{', open + 1)) {
      const std::size_t close = text.find('}', open);
      if (close == std::string_view::npos) return;
      const std::string_view name = text.substr(open + 1, close - open - 1);
      const bool identifier = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || c == '_';
      });
      if (!identifier ||
          std::find(template_names.begin(), template_names.end(), name) != template_names.end()) {
        continue;
      }
      std::string message = "unknown template '{" + std::string(name) + "}'";
      if (const auto near = did_you_mean(name, template_names)) {
        message += " (did you mean '{" + *near + "}'?)";
      }
      fail(at, message);
    }
  }

 private:
  static bool plain(const YAML::Node& scalar) { return scalar.Tag() == "?"; }

  void check_line(const YAML::Node& at, std::string_view text, std::size_t max_length) const {
    // RFC 5321 4.1.1: a reply line ends at CRLF; a control character in a text would let a
    // scenario split or corrupt a reply.
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte == 0x7f) fail(at, "text must be one line without control characters");
    }
    if (text.size() > max_length) {
      fail(at, "text longer than " + std::to_string(max_length) +
                   " characters (RFC 5321 4.5.3.1.5 limits a reply line to 512 octets)");
    }
  }

  void check_reply(const field& f, std::string_view text, int klass) const {
    // RFC 5321 4.2: Reply-line = Reply-code [ SP textstring ] CRLF, code 2yz to 5yz here.
    const bool digits = text.size() >= 3 && std::all_of(text.begin(), text.begin() + 3, [](char c) {
                          return c >= '0' && c <= '9';
                        });
    const int code = digits ? (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0') : 0;
    if (!digits || code < 200 || code > 599 || (text.size() > 3 && text[3] != ' ')) {
      fail(f.value, "bad reply '" + std::string(text) + "' for '" + f.path +
                        "' (expected a code from 200 to 599, a space and a text, as in "
                        "\"250 2.1.0 Ok\")");
    }
    check_line(f.value, text, smtp::limits::reply_line - 2);
    if (klass != 0 && code / 100 != klass) {
      fail(f.value, "'" + f.path + "' must be a " + std::to_string(klass) +
                        "xx reply: it is the success text; use a rule to reject");
    }
    // RFC 3463 2: the enhanced code's class repeats the reply's class.
    if (text.size() > 5 && text[5] == '.' && text[4] >= '2' && text[4] <= '5' &&
        text[4] != text[0]) {
      fail(f.value, "enhanced status code class " + std::string(1, text[4]) +
                        " does not match reply code " + std::to_string(code));
    }
  }

  std::string unknown_key_message(const std::string& name, const std::string& section,
                                  const std::vector<std::string>& allowed) const {
    std::string message = "unknown key '" + name + "'";
    if (!section.empty()) message += " in '" + section + "'";
    if (section == "replies" && name == "ehlo") {
      return message + " (the EHLO reply is ehlo.greeting and ehlo.extensions)";
    }
    if (const auto near = did_you_mean(name, allowed))
      return message + " (did you mean '" + *near + "'?)";
    std::string list;
    for (const auto& key : allowed)
      list += (list.empty() ? "" : ", ") + key;
    return message + " (allowed: " + list + ")";
  }

  std::string file_;
};

// ---- sections ----------------------------------------------------------------------------

/// One allowed key of a mapping and the function that reads its value.
template <class Target>
struct row {
  std::string_view key;
  void (*parse)(const reader&, const field&, Target&);
};

void parse_ehlo_greeting(const reader& r, const field& f, parsed_scenario& s) {
  s.personality.ehlo_greeting = r.line_value(f, smtp::limits::reply_line - 6);
  r.check_templates(f.value, s.personality.ehlo_greeting);
}

void parse_extensions(const reader& r, const field& f, parsed_scenario& s) {
  std::vector<std::string> extensions;
  for (auto& [text, node] : r.string_list(f)) {
    // RFC 5321 4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param ). The keyword is not
    // checked further: recorded servers advertise things like "AUTH=LOGIN PLAIN".
    if (text.empty() || text.front() == ' ' || text.back() == ' ') {
      r.fail(node, "an extension is a keyword and optional parameters, without outer spaces");
    }
    const std::string keyword = text.substr(0, text.find(' '));
    std::string upper = keyword;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    const std::string params = text.size() > keyword.size() ? text.substr(keyword.size() + 1) : "";
    // RFC 1870 4: "SIZE" [SP number]; the session derives its message limit from it.
    if (upper == "SIZE" && !params.empty() &&
        !std::all_of(params.begin(), params.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      r.fail(node, "SIZE takes a number of octets, as in 'SIZE 52428800'");
    }
    // RFC 4954 3: "AUTH" SP mechanism-list; the session accepts exactly these mechanisms.
    if (upper == "AUTH" && params.empty()) {
      r.fail(node, "AUTH needs its mechanisms, as in 'AUTH PLAIN LOGIN'");
    }
    extensions.push_back(std::move(text));
  }
  s.personality.extensions = std::move(extensions);
}

constexpr row<parsed_scenario> ehlo_rows[] = {
    {"greeting", parse_ehlo_greeting},
    {"extensions", parse_extensions},
};

/// The reply keys and the class each success text must have (354 for DATA).
constexpr std::pair<std::string_view, int> reply_keys[] = {
    {"helo", 2}, {"mail", 2}, {"rcpt", 2}, {"data", 3}, {"message", 2}, {"quit", 2},
    {"rset", 2}, {"noop", 2}, {"vrfy", 2}, {"help", 2}, {"auth", 2},
};

void parse_replies(const reader& r, const field& f, parsed_scenario& s) {
  std::vector<std::string> allowed;
  for (const auto& [key, klass] : reply_keys)
    allowed.emplace_back(key);
  std::map<std::string, std::string> replies;
  r.for_each_field(f, allowed, [&](const field& item) {
    const std::string& key = item.key.Scalar();
    const auto* found = std::find_if(std::begin(reply_keys), std::end(reply_keys),
                                     [&](const auto& k) { return k.first == key; });
    replies[key] = r.reply_value(item, found->second);
  });
  s.personality.replies = std::move(replies);
}

void parse_users(const reader& r, const field& f, parsed_scenario& s) {
  if (!f.value.IsSequence()) {
    r.fail_value(f, "expected a list of {user, password} for '" + f.path + "'");
  }
  std::vector<smtp::auth_user> users;
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    const field item{f.path + "[" + std::to_string(i) + "]", f.key, f.value[i]};
    smtp::auth_user user;
    bool has_user = false;
    bool has_password = false;
    r.for_each_field(item, {"user", "password"}, [&](const field& part) {
      if (part.key.Scalar() == "user") {
        user.user = r.line_value(part, smtp::limits::auth_line);
        has_user = true;
      } else {
        user.password = r.line_value(part, smtp::limits::auth_line);
        has_password = true;
      }
    });
    if (!has_user || !has_password) {
      r.fail(item.value, "'" + item.path + "' needs both 'user' and 'password'");
    }
    users.push_back(std::move(user));
  }
  s.personality.auth.users = std::move(users);
}

constexpr row<parsed_scenario> auth_rows[] = {
    {"users", parse_users},
    {"accept_any", [](const reader& r, const field& f,
                      parsed_scenario& s) { s.personality.auth.accept_any = r.bool_value(f); }},
    {"required",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.auth.required = r.bool_value(f);
       s.auth_required = f.value;
     }},
    {"require_tls", [](const reader& r, const field& f,
                       parsed_scenario& s) { s.personality.auth.require_tls = r.bool_value(f); }},
};

constexpr row<parsed_scenario> limits_rows[] = {
    {"max_recipients",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.max_recipients = r.count_value(f, 1);
     }},
    {"idle_timeout",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.idle_timeout = r.duration_value(f);
     }},
    {"max_errors",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.max_errors = r.count_value(f, 1);
     }},
    {"max_message_size",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.max_message_size = r.count_value(f, 0);
     }},
};

constexpr std::pair<std::string_view, smtp::pipelining_mode> pipelining_modes[] = {
    {"normal", smtp::pipelining_mode::normal},
    {"hold_until_data", smtp::pipelining_mode::hold_until_data},
    {"reject", smtp::pipelining_mode::reject},
};
constexpr std::pair<std::string_view, smtp::early_talker_mode> early_talker_modes[] = {
    {"allow", smtp::early_talker_mode::allow},
    {"reject", smtp::early_talker_mode::reject},
};
constexpr std::pair<std::string_view, smtp::bare_lf_mode> bare_lf_modes[] = {
    {"reject", smtp::bare_lf_mode::reject},
    {"accept", smtp::bare_lf_mode::accept},
};

constexpr row<parsed_scenario> quirks_rows[] = {
    {"pipelining",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.quirks.pipelining = r.enum_value(f, pipelining_modes);
     }},
    {"early_talker",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.quirks.early_talker = r.enum_value(f, early_talker_modes);
     }},
    {"bare_lf",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.quirks.bare_lf = r.enum_value(f, bare_lf_modes);
     }},
    {"starttls_inject",
     [](const reader& r, const field& f, parsed_scenario& s) {
       // null (written or empty) means no injection.
       if (f.value.IsNull()) {
         s.personality.quirks.starttls_inject.reset();
       } else {
         s.personality.quirks.starttls_inject = r.reply_value(f, 0);
       }
     }},
};

/// Runs a sub-table over a section: the top-level row for `ehlo:` etc.
template <const auto& Rows>
void parse_section(const reader& r, const field& f, parsed_scenario& s) {
  r.dispatch(f, Rows, s);
}

void parse_rules(const reader& r, const field& f, parsed_scenario&) {
  r.fail(f.key, "rules are not supported by this version");
}

constexpr row<parsed_scenario> top_level_rows[] = {
    {"name",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.name = r.line_value(f, 200);
       if (s.personality.name.empty()) r.fail(f.value, "'name' must not be empty");
     }},
    {"description", [](const reader& r, const field& f,
                       parsed_scenario& s) { s.personality.description = r.string_value(f); }},
    {"hostname",
     [](const reader& r, const field& f, parsed_scenario& s) {
       std::string hostname = r.line_value(f, 255);
       if (hostname.empty() || hostname.find(' ') != std::string::npos) {
         r.fail(f.value, "'hostname' must be one word, as in mail.example.com");
       }
       s.personality.hostname = std::move(hostname);
     }},
    {"banner",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.banner = r.line_value(f, smtp::limits::reply_line - 6);
       r.check_templates(f.value, s.personality.banner);
     }},
    {"ehlo", parse_section<ehlo_rows>},
    {"replies", parse_replies},
    {"auth", parse_section<auth_rows>},
    {"limits", parse_section<limits_rows>},
    {"quirks", parse_section<quirks_rows>},
    {"seed",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.seed = r.integer_value(f, 0, std::numeric_limits<unsigned long long>::max());
     }},
    {"rules", parse_rules},
};

/// Checks that need several keys: combinations a session could never honour.
void check_consistency(const reader& r, const parsed_scenario& s) {
  if (s.personality.auth.required && s.personality.auth_mechanisms().empty()) {
    r.fail(s.auth_required,
           "auth.required is true but no AUTH extension is advertised, so no client could "
           "ever send mail; add e.g. 'AUTH PLAIN LOGIN' to ehlo.extensions");
  }
}

std::string read_file(const fs::path& file) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) throw load_error(file.string(), 0, 0, "is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw load_error(file.string(), 0, 0, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw load_error(file.string(), 0, 0, "cannot read");
  return text.str();
}

/// The *.yaml files of `dirs` by stem, first directory winning.
std::map<std::string, fs::path> bundled_files(const std::vector<fs::path>& dirs) {
  std::map<std::string, fs::path> files;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& path = it->path();
      if (path.extension() != ".yaml" || !it->is_regular_file(ec)) continue;
      files.emplace(path.stem().string(), path);
    }
  }
  return files;
}

}  // namespace

std::shared_ptr<const smtp::personality> load_text(std::string_view yaml,
                                                   std::string_view filename) {
  const reader r{std::string(filename)};
  const YAML::Node root = r.parse(yaml);
  parsed_scenario scenario;
  if (!filename.empty()) scenario.personality.name = fs::path(filename).stem().string();
  r.dispatch(field{"", YAML::Node(YAML::NodeType::Undefined), root}, top_level_rows, scenario);
  check_consistency(r, scenario);
  return std::make_shared<const smtp::personality>(std::move(scenario.personality));
}

std::shared_ptr<const smtp::personality> load_file(const fs::path& file) {
  return load_text(read_file(file), file.string());
}

std::vector<fs::path> search_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("SMTPMOCK_SCENARIO_DIR"); env != nullptr && *env != '\0') {
    // PATH-style: several directories separated by ':'.
    std::string_view rest = env;
    while (!rest.empty()) {
      const std::size_t colon = rest.find(':');
      if (colon != 0) dirs.emplace_back(rest.substr(0, colon));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(
        (exe.parent_path() / ".." / "share" / "smtpmock" / "scenarios").lexically_normal());
  }
#ifdef SMTPMOCK_SOURCE_SCENARIOS
  dirs.emplace_back(SMTPMOCK_SOURCE_SCENARIOS);
#endif
  std::vector<fs::path> unique;
  for (auto& dir : dirs) {
    if (std::find(unique.begin(), unique.end(), dir) == unique.end()) unique.push_back(dir);
  }
  return unique;
}

fs::path resolve(std::string_view name_or_path, const std::vector<fs::path>& dirs) {
  const std::string name(name_or_path);
  std::error_code ec;
  if (!name.empty() && fs::is_regular_file(name, ec)) return name;
  const bool looks_like_path =
      name.find('/') != std::string::npos || name.ends_with(".yaml") || name.ends_with(".yml");
  if (looks_like_path) throw load_error(name, 0, 0, "no such scenario file");
  const auto files = bundled_files(dirs);
  if (!name.empty()) {
    if (const auto it = files.find(name); it != files.end()) return it->second;
  }
  std::vector<std::string> names;
  for (const auto& [stem, path] : files)
    names.push_back(stem);
  std::string message = "no scenario named '" + name + "'";
  if (const auto near = did_you_mean(name, names)) message += " (did you mean '" + *near + "'?)";
  if (names.empty()) {
    message += "; no bundled scenarios found in";
    for (const auto& dir : dirs)
      message += " " + dir.string();
  } else {
    message += "; bundled:";
    for (std::size_t i = 0; i < names.size(); ++i)
      message += (i == 0 ? " " : ", ") + names[i];
  }
  throw load_error(name, 0, 0, message);
}

std::vector<entry> list(const std::vector<fs::path>& dirs) {
  std::vector<entry> entries;
  for (const auto& [stem, path] : bundled_files(dirs)) {
    entry e{stem, "", path};
    try {
      e.description = load_file(path)->description;
    } catch (const load_error& error) {
      // Listed anyway, so `scenario list` shows which file is broken and why.
      e.description = std::string("(invalid: ") + error.what() + ")";
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace smtpmock::scenario
