// Scenario loader: YAML text -> definition (personality and rules), strictly. Every mapping is read
// through one table of allowed keys, every value through one typed reader, and the first problem
// raises load_error at the 1-based line:column of the offending key (unknown, duplicate) or value.
// YAML arrives as a bounded yaml::document (scenario/yaml_tree.hpp, the only yaml-cpp user);
// values past the maximums of scenario/load_limits.hpp are errors at the value.
// Adding a section means one parser function and one table row. Rules are checked as a whole
// after their keys are read: the event they are on and effects that exclude each other.
#include "scenario/loader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "scenario/load_limits.hpp"
#include "scenario/rules.hpp"
#include "scenario/yaml_tree.hpp"
#include "smtp/limits.hpp"
#include "smtp/reply.hpp"

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

namespace {

constexpr long long saturated_ms = std::numeric_limits<long long>::max();

/// parse_duration's grammar: a sequence of <digits><unit> groups ("1m30s"), units as in Go and
/// Prometheus. A total past what milliseconds hold saturates at saturated_ms, so the loader can
/// say "over the maximum" instead of "malformed" for 99999999999999999999h.
std::optional<long long> parse_duration_ms(std::string_view text) {
  static constexpr std::pair<std::string_view, long long> units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};
  if (text.empty()) return std::nullopt;
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;  // no sign, no space
    long long number = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), number);
    if (ec == std::errc::result_out_of_range) {
      number = saturated_ms;
    } else if (ec != std::errc()) {
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
    total = number > (saturated_ms - total) / found->second ? saturated_ms
                                                            : total + number * found->second;
    i = unit_end;
  }
  return total;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto ms = parse_duration_ms(text);
  if (!ms || *ms == saturated_ms) return std::nullopt;
  return std::chrono::milliseconds(*ms);
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

/// A duration as a scenario writes it, in its largest whole unit: "24h", "720h (30 days)".
std::string duration_text(std::chrono::milliseconds d) {
  const long long ms = d.count();
  if (ms % 3'600'000 == 0) {
    const long long hours = ms / 3'600'000;
    std::string text = std::to_string(hours) + "h";
    if (hours > 24 && hours % 24 == 0) text += " (" + std::to_string(hours / 24) + " days)";
    return text;
  }
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

/// The template names reply texts may use (SPEC §3); others are typos, not literal text.
const std::vector<std::string> template_names(smtp::template_values::names.begin(),
                                              smtp::template_values::names.end());

/// One key: value pair of a mapping, with the dotted path used in messages.
struct field {
  std::string path;  ///< "limits.idle_timeout"; empty for the document itself
  yaml::node key;    ///< undefined for the document itself
  yaml::node value;
};

/// Everything a scenario file declares.
struct parsed_scenario {
  smtp::personality personality;
  std::vector<rule> rules;
  yaml::node auth_required;  ///< where auth.required was set, for the consistency check
};

/// Thrown by reader::attempt when the error budget is spent; ends collecting.
struct too_many_errors {};

/// Reads typed values out of one file's YAML; every failure is a load_error with a position.
class reader {
 public:
  /// With `errors`, a failing key or rule is recorded there and reading goes on with the next
  /// one (lint reports every error); without, the first failure is thrown.
  explicit reader(std::string file, std::vector<load_error>* errors = nullptr,
                  std::size_t max_errors = 0)
      : file_(std::move(file)), errors_(errors), max_errors_(max_errors) {}

  const std::string& file() const { return file_; }

  /// Runs `step`; when collecting, a load_error it raises is recorded instead of propagated.
  /// Once `max_errors` are recorded, the next one stops reading (too_many_errors).
  template <class F>
  void attempt(F&& step) const {
    if (errors_ == nullptr) {
      step();
      return;
    }
    try {
      step();
    } catch (const load_error& e) {
      if (errors_->size() >= max_errors_) throw too_many_errors{};
      errors_->push_back(e);
    }
  }
  /// How many errors have been recorded so far (0 when not collecting).
  std::size_t error_count() const { return errors_ == nullptr ? 0 : errors_->size(); }

  [[noreturn]] void fail_at(const yaml::mark& mark, const std::string& message) const {
    if (mark.line <= 0) throw load_error(file_, 1, 1, message);
    throw load_error(file_, mark.line, mark.column, message);
  }
  [[noreturn]] void fail(const yaml::node& node, const std::string& message) const {
    fail_at(node.where(), message);
  }
  /// An error about a value; a missing value (`key:` alone) is reported at its key, since
  /// the YAML parser marks an empty value at the next token, often on another line.
  [[noreturn]] void fail_value(const field& f, const std::string& message) const {
    if (f.value.is_null() && f.key.defined()) fail(f.key, "missing value for '" + f.path + "'");
    fail(f.value, message);
  }

  /// The one YAML document in `text`, bounded (scenario/limits.hpp); syntax errors, no
  /// document or several are load errors.
  yaml::document parse(std::string_view text) const {
    yaml::document document = yaml::parse(text, file_);
    if (!document.root().defined() || document.root().is_null()) {
      throw load_error(file_, 1, 1, "empty scenario: expected a mapping such as 'name: example'");
    }
    return document;
  }

  /// Calls `on_field` for each key of the mapping `section`, after checking that it is a
  /// mapping, that each key is a plain name in `allowed`, and that no key repeats.
  template <class F>
  void for_each_field(const field& section, const std::vector<std::string>& allowed,
                      F&& on_field) const {
    if (!section.value.is_map()) {
      fail_value(section, section.path.empty() ? "a scenario must be a mapping of keys "
                                                 "(name, hostname, ehlo, ...)"
                                               : "expected a mapping for '" + section.path + "'");
    }
    std::map<std::string, int> seen;  // key -> 1-based line of its first occurrence
    for (std::size_t i = 0; i < section.value.size(); ++i) {
      attempt([&] {
        const yaml::node key = section.value.key(i);
        if (!key.is_scalar()) fail(key, "keys must be plain names");
        const std::string& name = key.scalar();
        const std::string path = section.path.empty() ? name : section.path + "." + name;
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
          fail(key, unknown_key_message(name, section.path, allowed));
        }
        if (const auto [first, inserted] = seen.emplace(name, key.where().line); !inserted) {
          fail(key, "duplicate key '" + path + "' (first given on line " +
                        std::to_string(first->second) + ")");
        }
        on_field(field{path, key, section.value.value(i)});
      });
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
        if (row.key == f.key.scalar()) row.parse(*this, f, target);
      }
    });
  }

  /// A scalar as text (numbers and booleans included, as written).
  std::string string_value(const field& f) const {
    if (!f.value.is_scalar()) fail_value(f, "expected a string for '" + f.path + "'");
    return f.value.scalar();
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
    if (f.value.plain()) {
      if (yes.count(f.value.scalar()) > 0) return true;
      if (no.count(f.value.scalar()) > 0) return false;
    }
    fail_value(f, "expected a boolean (true or false) for '" + f.path + "'");
  }

  /// An unquoted whole number in [min, max].
  unsigned long long integer_value(const field& f, unsigned long long min,
                                   unsigned long long max) const {
    unsigned long long number = 0;
    if (f.value.plain()) {
      const std::string& text = f.value.scalar();
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

  std::size_t count_value(const field& f, std::size_t min,
                          std::size_t max = std::numeric_limits<std::size_t>::max()) const {
    return static_cast<std::size_t>(integer_value(f, min, max));
  }

  /// A duration such as 300s, 500ms or 2m, greater than zero and at most `max`
  /// (scenario/load_limits.hpp: past it, deadlines computed from it overflow).
  std::chrono::milliseconds duration_value(const field& f, std::chrono::milliseconds max) const {
    const std::string text = string_value(f);
    const auto ms = parse_duration_ms(text);
    if (!ms) {
      fail(f.value, "bad duration '" + text + "' for '" + f.path +
                        "' (expected a number with a unit: ms, s, m or h, as in 300s)");
    }
    if (*ms == 0) fail(f.value, "'" + f.path + "' must be longer than 0");
    if (*ms > max.count()) {
      fail(f.value, f.path + ": " + text + " is over the maximum of " + duration_text(max));
    }
    return std::chrono::milliseconds(*ms);
  }

  /// One of the names in `choices`.
  template <class E, std::size_t N>
  E enum_value(const field& f, const std::pair<std::string_view, E> (&choices)[N]) const {
    std::string allowed;
    for (const auto& [name, value] : choices) {
      if (f.value.is_scalar() && f.value.scalar() == name) return value;
      allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    }
    const std::string got = f.value.is_scalar() ? "'" + f.value.scalar() + "'" : "a non-string";
    fail_value(f, "bad value " + got + " for '" + f.path + "' (allowed: " + allowed + ")");
  }

  /// A reply line as written in a scenario: "250 2.1.0 MAIL ok". `klass` (2 or 3) is the
  /// class the reply must have, 0 for any; templates must be known names. A line that is not
  /// the last of a multi-line reply may be written as on the wire, "250-text" (RFC 5321
  /// 4.2.1); it is returned as "250 text", the form the serialiser adds the dashes to.
  std::string reply_value(const field& f, int klass, bool last = true) const {
    std::string text = string_value(f);
    check_reply(f, text, klass, last);
    check_templates(f.value, text);
    if (text.size() > 3 && text[3] == '-') text[3] = ' ';
    return text;
  }

  /// A sequence of one-line strings.
  std::vector<std::pair<std::string, yaml::node>> string_list(const field& f) const {
    if (!f.value.is_sequence()) fail_value(f, "expected a list of strings for '" + f.path + "'");
    std::vector<std::pair<std::string, yaml::node>> items;
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const yaml::node item = f.value.item(i);
      if (!item.is_scalar()) fail(item, "expected a string in '" + f.path + "'");
      check_line(item, item.scalar(), smtp::limits::reply_line - 6);
      items.emplace_back(item.scalar(), item);
    }
    return items;
  }

  /// Rejects {names} that are not template names: a typo would otherwise go out literally.
  void check_templates(const yaml::node& at, std::string_view text) const {
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
  void check_line(const yaml::node& at, std::string_view text, std::size_t max_length) const {
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

  void check_reply(const field& f, std::string_view text, int klass, bool last) const {
    // RFC 5321 4.2: Reply-line = Reply-code [ SP textstring ] CRLF, code 2yz to 5yz here;
    // 4.2.1: every line but the last of a multi-line reply has a hyphen after the code.
    const bool digits = text.size() >= 3 && std::all_of(text.begin(), text.begin() + 3, [](char c) {
                          return c >= '0' && c <= '9';
                        });
    const int code = digits ? (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0') : 0;
    const bool dash = text.size() > 3 && text[3] == '-';
    if (!digits || code < 200 || code > 599 || (text.size() > 3 && text[3] != ' ' && !dash)) {
      fail(f.value, "bad reply '" + std::string(text) + "' for '" + f.path +
                        "' (expected a code from 200 to 599, a space and a text, as in "
                        "\"250 2.1.0 Ok\")");
    }
    if (dash && last) {
      fail(f.value, "bad reply '" + std::string(text) + "' for '" + f.path +
                        "': the last line of a reply has a space after the code, not a dash" +
                        (f.path.ends_with("]") ? "" : " (a one-line reply is its own last line)"));
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
  std::vector<load_error>* errors_;
  std::size_t max_errors_;
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
    if (upper == "SIZE" && !params.empty()) {
      std::size_t octets = 0;
      const auto [end, ec] = std::from_chars(params.data(), params.data() + params.size(), octets);
      if (ec != std::errc() || octets > load_limits::max_message_size) {
        r.fail(node, f.path + ": SIZE " + params + " is over the maximum of " +
                         std::to_string(load_limits::max_message_size) + " octets (1 GiB)");
      }
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
    const std::string& key = item.key.scalar();
    const auto* found = std::find_if(std::begin(reply_keys), std::end(reply_keys),
                                     [&](const auto& k) { return k.first == key; });
    replies[key] = r.reply_value(item, found->second);
  });
  s.personality.replies = std::move(replies);
}

void parse_users(const reader& r, const field& f, parsed_scenario& s) {
  if (!f.value.is_sequence()) {
    r.fail_value(f, "expected a list of {user, password} for '" + f.path + "'");
  }
  std::vector<smtp::auth_user> users;
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    const field item{f.path + "[" + std::to_string(i) + "]", f.key, f.value.item(i)};
    smtp::auth_user user;
    bool has_user = false;
    bool has_password = false;
    r.for_each_field(item, {"user", "password"}, [&](const field& part) {
      if (part.key.scalar() == "user") {
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
       s.personality.limits.max_recipients = r.count_value(f, 1, load_limits::max_recipients);
     }},
    {"idle_timeout",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.idle_timeout = r.duration_value(f, load_limits::max_timeout);
     }},
    {"command_timeout",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.command_timeout = r.duration_value(f, load_limits::max_timeout);
     }},
    {"data_timeout",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.data_timeout = r.duration_value(f, load_limits::max_timeout);
     }},
    {"session_timeout",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.session_timeout = r.duration_value(f, load_limits::max_timeout);
     }},
    {"stress_timeout",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.stress_timeout = r.duration_value(f, load_limits::max_timeout);
     }},
    {"max_errors",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.max_errors = r.count_value(f, 1);
     }},
    {"max_message_size",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.limits.max_message_size = r.count_value(f, 0, load_limits::max_message_size);
     }},
    {"max_auth_failures",
     [](const reader& r, const field& f, parsed_scenario& s) {
       // 0: no limit; otherwise the next AUTH after this many failures gets 421 4.7.0.
       s.personality.limits.max_auth_failures = r.count_value(f, 0);
     }},
};

using certificate_mode = smtp::personality::tls_settings::certificate_mode;
constexpr std::pair<std::string_view, certificate_mode> certificate_modes[] = {
    {"normal", certificate_mode::normal},
    {"expired", certificate_mode::expired},
    {"wrong_host", certificate_mode::wrong_host},
};
constexpr std::pair<std::string_view, bool> handshake_modes[] = {
    {"ok", false},
    {"fail", true},
};

constexpr row<parsed_scenario> tls_rows[] = {
    {"required", [](const reader& r, const field& f,
                    parsed_scenario& s) { s.personality.tls.required = r.bool_value(f); }},
    {"certificate",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.tls.certificate = r.enum_value(f, certificate_modes);
     }},
    {"handshake",
     [](const reader& r, const field& f, parsed_scenario& s) {
       s.personality.tls.handshake_fails = r.enum_value(f, handshake_modes);
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
       if (f.value.is_null()) {
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

// ---- rules -------------------------------------------------------------------------------

/// One rule being read, and where its keys were written, for the checks that need several.
struct rule_draft {
  rule out;
  bool has_on = false;
  yaml::node name_value;                   ///< undefined when the rule is unnamed
  std::map<std::string, yaml::node> keys;  ///< "reply", "match.header", ... -> its key node
  std::optional<std::vector<std::string>> greylist_reply;  ///< greylist.reply, if given
};

/// `greylist: {retry_after, reply}` being read.
struct greylist_draft {
  std::optional<std::chrono::milliseconds> retry_after;
  std::optional<std::vector<std::string>> reply;
};

/// The later of two nodes in the file: where a conflict became one.
const yaml::node& later(const yaml::node& a, const yaml::node& b) {
  const yaml::mark ma = a.where();
  const yaml::mark mb = b.where();
  return std::pair(ma.line, ma.column) < std::pair(mb.line, mb.column) ? b : a;
}

std::string event_list() {
  std::string list;
  for (const auto name : all_event_names())
    list += (list.empty() ? "" : ", ") + std::string(name);
  return list;
}

/// The letters JavaScript and PCRE accept after /regex/: "/x/g" is a regex with a flag we do
/// not support, not a glob that happens to start with a slash.
bool looks_like_regex_flags(std::string_view text) {
  if (text.size() < 3 || text.front() != '/') return false;
  const std::size_t last = text.rfind('/');
  if (last == 0 || last + 1 == text.size()) return false;
  const std::string_view flags = text.substr(last + 1);
  return flags != "i" && flags.find_first_not_of("gimsuyx") == std::string_view::npos;
}

/// A glob or /regex/, compiled now so that a bad regex is a load error at its value.
pattern pattern_value(const reader& r, const field& f) {
  const std::string text = r.string_value(f);
  if (looks_like_regex_flags(text)) {
    r.fail(f.value, "unsupported regular expression flags in '" + text + "' for '" + f.path +
                        "' (only /regex/i, case-insensitive, is supported)");
  }
  try {
    return pattern(text);
  } catch (const pattern_error& e) {
    r.fail(f.value, "bad regular expression '" + text + "' for '" + f.path + "': " + e.what());
  }
}

/// A rule's reply: one line, or a list of lines for a multi-line reply (RFC 5321 4.2.1: every
/// line of a multi-line reply carries the same code). A line may be written as on the wire,
/// "550-5.7.1 text" for all but the last, or without the dash ("550 5.7.1 text"), in any mix:
/// the list is one reply, so the dashes say nothing the list does not, and the serialiser adds
/// them. The last line has a space after the code. Lines come back in the dash-less form.
/// When collecting errors, each line's error is recorded; the caller sees them in the count.
std::vector<std::string> reply_lines_value(const reader& r, const field& f) {
  const auto check_one = [&](const field& line, bool last) {
    std::string text = r.reply_value(line, 0, last);
    if (smtp::reply::parse(text).code == 0) r.fail(line.value, "bad reply '" + text + "'");
    return text;
  };
  if (f.value.is_scalar()) return {check_one(f, true)};
  if (!f.value.is_sequence()) {
    r.fail_value(f, "expected a reply line or a list of reply lines for '" + f.path + "'");
  }
  if (f.value.size() == 0) r.fail(f.value, "'" + f.path + "' needs at least one reply line");
  std::vector<std::string> lines;
  std::optional<std::pair<std::size_t, std::string>> first;  // the first good line and its code
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    r.attempt([&] {
      const field line{f.path + "[" + std::to_string(i) + "]", f.key, f.value.item(i)};
      if (!line.value.is_scalar()) r.fail(line.value, "expected a reply line in '" + f.path + "'");
      std::string text = check_one(line, i + 1 == f.value.size());
      const std::string code = text.substr(0, 3);
      if (!first) first.emplace(i, code);
      if (code != first->second) {
        r.fail(line.value, "every line of a multi-line reply must have the same code: line " +
                               std::to_string(first->first + 1) + " has " + first->second +
                               ", this line has " + code);
      }
      lines.push_back(std::move(text));
    });
  }
  return lines;
}

/// nth, every, times: counting starts at 1, and 0 would make the rule never fire.
std::uint64_t counter_value(const reader& r, const field& f) {
  const auto n = r.integer_value(f, 0, std::numeric_limits<std::uint64_t>::max());
  if (n == 0) r.fail(f.value, "'" + f.path + "' must be at least 1 (the first match is 1)");
  return n;
}

/// A probability: an unquoted number from 0 to 1.
double probability_value(const reader& r, const field& f) {
  double p = 0;
  bool number = false;
  if (f.value.plain() && !f.value.scalar().empty()) {
    const std::string& text = f.value.scalar();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
    number = ec == std::errc() && end == text.data() + text.size();
  }
  if (!number) r.fail_value(f, "expected a number from 0 to 1 for '" + f.path + "', as in 0.1");
  if (!(p >= 0.0 && p <= 1.0)) {
    r.fail(f.value, "'" + f.path +
                        "' must be between 0 and 1 (a probability, not a percentage), got " +
                        f.value.scalar());
  }
  return p;
}

/// "10/min": a count per second, minute or hour.
rate_limit rate_value(const reader& r, const field& f) {
  static constexpr std::pair<std::string_view, long long> windows[] = {
      {"sec", 1000},    {"s", 1000},           {"min", 60 * 1000},
      {"m", 60 * 1000}, {"hour", 3600 * 1000}, {"h", 3600 * 1000}};
  const std::string text = r.string_value(f);
  const std::size_t slash = text.find('/');
  std::size_t count = 0;
  const char* count_end = text.data() + (slash == std::string::npos ? text.size() : slash);
  const auto [end, ec] = std::from_chars(text.data(), count_end, count);
  const std::string_view unit =
      slash == std::string::npos ? std::string_view{} : std::string_view(text).substr(slash + 1);
  const auto* window = std::find_if(std::begin(windows), std::end(windows),
                                    [&](const auto& w) { return w.first == unit; });
  const bool too_big = ec == std::errc::result_out_of_range;
  if (slash == std::string::npos || (ec != std::errc() && !too_big) || end != count_end ||
      slash == 0 || window == std::end(windows)) {
    r.fail(f.value, "bad rate '" + text + "' for '" + f.path +
                        "' (expected a count per sec, min or hour, as in \"10/min\")");
  }
  if (count == 0 && !too_big) r.fail(f.value, "'" + f.path + "' must allow at least 1 event");
  // The engine keeps a timestamp per event in the window, so the count bounds its memory.
  if (too_big || count > load_limits::max_rate_count) {
    r.fail(f.value, f.path + ": " + text + " is over the maximum of " +
                        std::to_string(load_limits::max_rate_count) + " events per window");
  }
  return rate_limit{count, std::chrono::milliseconds(window->second)};
}

void parse_match_header(const reader& r, const field& f, rule_draft& d) {
  if (!f.value.is_map()) {
    r.fail_value(f, "expected a mapping of header names to patterns for '" + f.path +
                        "', as in {Subject: \"*urgent*\"}");
  }
  std::map<std::string, int> seen;  // lower-cased name -> line: header names ignore case
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    const yaml::node key = f.value.key(i);
    if (!key.is_scalar()) r.fail(key, "header names must be plain names");
    const std::string& name = key.scalar();
    // RFC 5322 2.2: field-name = 1*ftext, printable US-ASCII except ':'.
    const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return c >= 33 && c <= 126 && c != ':';
    });
    if (!valid) {
      r.fail(
          key,
          "'" + name +
              "' is not a header name (RFC 5322 2.2: printable characters without spaces or ':')");
    }
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (const auto [first, inserted] = seen.emplace(lower, key.where().line); !inserted) {
      r.fail(key, "duplicate header '" + name + "' in '" + f.path + "' (first given on line " +
                      std::to_string(first->second) + "; header names ignore case)");
    }
    d.out.match.headers.emplace_back(
        name, pattern_value(r, field{f.path + "." + name, key, f.value.value(i)}));
  }
}

constexpr row<rule_draft> match_rows[] = {
    {"argument", [](const reader& r, const field& f,
                    rule_draft& d) { d.out.match.argument = pattern_value(r, f); }},
    {"sender", [](const reader& r, const field& f,
                  rule_draft& d) { d.out.match.sender = pattern_value(r, f); }},
    {"recipient", [](const reader& r, const field& f,
                     rule_draft& d) { d.out.match.recipient = pattern_value(r, f); }},
    {"helo", [](const reader& r, const field& f,
                rule_draft& d) { d.out.match.helo = pattern_value(r, f); }},
    {"user", [](const reader& r, const field& f,
                rule_draft& d) { d.out.match.user = pattern_value(r, f); }},
    {"client", [](const reader& r, const field& f,
                  rule_draft& d) { d.out.match.client = pattern_value(r, f); }},
    {"header", parse_match_header},
    {"body", [](const reader& r, const field& f,
                rule_draft& d) { d.out.match.body = pattern_value(r, f); }},
    {"size_over", [](const reader& r, const field& f,
                     rule_draft& d) { d.out.match.size_over = r.count_value(f, 0); }},
};

constexpr std::pair<std::string_view, scope> scopes[] = {
    {"server", scope::server},
    {"client", scope::client},
    {"session", scope::session},
    {"transaction", scope::transaction},
};

constexpr row<rule_draft> when_rows[] = {
    {"nth",
     [](const reader& r, const field& f, rule_draft& d) { d.out.when.nth = counter_value(r, f); }},
    {"every", [](const reader& r, const field& f,
                 rule_draft& d) { d.out.when.every = counter_value(r, f); }},
    {"after",
     [](const reader& r, const field& f, rule_draft& d) {
       d.out.when.after = r.integer_value(f, 0, std::numeric_limits<std::uint64_t>::max());
     }},
    {"times", [](const reader& r, const field& f,
                 rule_draft& d) { d.out.when.times = counter_value(r, f); }},
    {"per", [](const reader& r, const field& f,
               rule_draft& d) { d.out.when.per = r.enum_value(f, scopes); }},
    {"probability", [](const reader& r, const field& f,
                       rule_draft& d) { d.out.when.probability = probability_value(r, f); }},
    {"rate",
     [](const reader& r, const field& f, rule_draft& d) { d.out.when.rate = rate_value(r, f); }},
};

constexpr row<drip_settings> drip_rows[] = {
    {"bytes", [](const reader& r, const field& f,
                 drip_settings& s) { s.bytes = r.count_value(f, 1, load_limits::max_drip_bytes); }},
    {"every", [](const reader& r, const field& f,
                 drip_settings& s) { s.every = r.duration_value(f, load_limits::max_delay); }},
};

constexpr row<greylist_draft> greylist_rows[] = {
    {"retry_after",
     [](const reader& r, const field& f, greylist_draft& g) {
       g.retry_after = r.duration_value(f, load_limits::max_retry_after);
     }},
    {"reply",
     [](const reader& r, const field& f, greylist_draft& g) {
       const std::size_t errors_before = r.error_count();
       g.reply = reply_lines_value(r, f);
       if (r.error_count() != errors_before) return;  // its lines' errors are recorded
       // RFC 6647 2.1: greylisting answers with a temporary failure, so the client retries.
       if (smtp::reply::parse(g.reply->front()).klass() != 4) {
         r.fail(f.value, "'" + f.path +
                             "' must be a 4xx reply: greylisting is a temporary failure the client "
                             "retries (RFC 6647 2.1)");
       }
     }},
};

constexpr std::pair<std::string_view, disconnect_mode> disconnect_modes[] = {
    {"before_reply", disconnect_mode::before_reply},
    {"after_reply", disconnect_mode::after_reply},
};

/// Runs a sub-table over a section of a rule and remembers where its keys were written.
template <const auto& Rows>
void parse_rule_section(const reader& r, const field& f, rule_draft& d) {
  r.dispatch(f, Rows, d);
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    d.keys[f.key.scalar() + "." + f.value.key(i).scalar()] = f.value.key(i);
  }
}

constexpr row<rule_draft> rule_rows[] = {
    {"name",
     [](const reader& r, const field& f, rule_draft& d) {
       d.out.name = r.line_value(f, 200);
       if (d.out.name.empty()) r.fail(f.value, "'" + f.path + "' must not be empty");
       d.name_value = f.value;
     }},
    {"on",
     [](const reader& r, const field& f, rule_draft& d) {
       const std::string name = r.string_value(f);
       const auto event = event_from_name(name);
       if (!event) {
         std::vector<std::string> names;
         for (const auto n : all_event_names())
           names.emplace_back(n);
         std::string message = "unknown event '" + name + "' for '" + f.path + "'";
         if (const auto near = did_you_mean(name, names))
           message += " (did you mean '" + *near + "'?)";
         r.fail(f.value, message + "; events: " + event_list());
       }
       d.out.on = *event;
       d.has_on = true;
     }},
    {"match", parse_rule_section<match_rows>},
    {"when", parse_rule_section<when_rows>},
    {"reply", [](const reader& r, const field& f,
                 rule_draft& d) { d.out.then.reply = reply_lines_value(r, f); }},
    {"delay",
     [](const reader& r, const field& f, rule_draft& d) {
       d.out.then.delay = r.duration_value(f, load_limits::max_delay);
     }},
    {"hang",
     [](const reader& r, const field& f, rule_draft& d) { d.out.then.hang = r.bool_value(f); }},
    {"disconnect",
     [](const reader& r, const field& f, rule_draft& d) {
       d.out.then.disconnect = r.enum_value(f, disconnect_modes);
     }},
    {"reset",
     [](const reader& r, const field& f, rule_draft& d) { d.out.then.reset = r.bool_value(f); }},
    {"drip",
     [](const reader& r, const field& f, rule_draft& d) {
       drip_settings drip;
       r.dispatch(f, drip_rows, drip);
       d.out.then.drip = drip;
     }},
    {"split",
     [](const reader& r, const field& f, rule_draft& d) { d.out.then.split = r.bool_value(f); }},
    {"abort_after_bytes",
     [](const reader& r, const field& f, rule_draft& d) {
       const auto n = r.count_value(f, 0, load_limits::max_message_size);
       if (n == 0) {
         r.fail(f.value, "'" + f.path +
                             "' must be at least 1 (to close right after the 354, use disconnect: "
                             "after_reply)");
       }
       d.out.then.abort_after_bytes = n;
     }},
    {"greylist",
     [](const reader& r, const field& f, rule_draft& d) {
       greylist_draft g;
       r.dispatch(f, greylist_rows, g);
       if (!g.retry_after) {
         r.fail(f.value, "'" + f.path + "' needs 'retry_after', as in {retry_after: 60s}");
       }
       d.out.then.greylist = g.retry_after;
       d.greylist_reply = std::move(g.reply);
     }},
};

/// Checks that need several keys of one rule: the event it is on, and effects that exclude
/// each other. A server never starts with a rule it could not carry out as written.
void check_rule(const reader& r, rule_draft& d, const yaml::node& item) {
  const rule& out = d.out;
  const std::string who = "rule '" + out.name + "'";
  if (!d.has_on) {
    r.fail(item, who + " needs 'on:', the event it reacts to (" + event_list() + ")");
  }
  const std::string on = std::string(event_name(out.on));

  // Conditions the event has no facts for.
  for (const char* key : {"match.header", "match.body", "match.size_over"}) {
    if (d.keys.count(key) > 0 && out.on != event_type::message) {
      r.fail(d.keys[key], who + ": '" + key + "' needs on: message (the message is known only " +
                              "at the end of data), not on: " + on);
    }
  }
  if (d.keys.count("match.recipient") > 0 && out.on != event_type::rcpt &&
      out.on != event_type::message && out.on != event_type::any) {
    r.fail(d.keys["match.recipient"],
           who + ": 'match.recipient' needs on: rcpt, message or any; on: " + on +
               " has no recipient");
  }

  // The effects actually in force (hang: false is no effect), by key.
  const effects& then = out.then;
  std::map<std::string, yaml::node> active;
  const auto activate = [&](const std::string& key, bool on_) {
    if (on_) active[key] = d.keys.at(key);
  };
  for (const char* key : {"reply", "delay", "drip", "abort_after_bytes", "greylist"})
    activate(key, d.keys.count(key) > 0);
  activate("hang", then.hang);
  activate("reset", then.reset);
  activate("split", then.split);
  activate("disconnect", then.disconnect != disconnect_mode::none);

  if (active.count("greylist") > 0 && out.on != event_type::rcpt) {
    r.fail(active["greylist"], who +
                                   ": 'greylist' needs on: rcpt (greylisting keys on the "
                                   "recipient: client, sender and recipient), not on: " +
                                   on);
  }
  if (active.count("abort_after_bytes") > 0 && out.on != event_type::data) {
    r.fail(active["abort_after_bytes"], who +
                                            ": 'abort_after_bytes' needs on: data (it acts while "
                                            "the message is transferred), not on: " +
                                            on);
  }

  const auto clash = [&](const std::string& a, const std::string& b, const std::string& why) {
    if (active.count(a) == 0 || active.count(b) == 0) return;
    const auto label = [&](const std::string& key) {
      if (key != "disconnect") return "'" + key + "'";
      return std::string(then.disconnect == disconnect_mode::before_reply
                             ? "'disconnect: before_reply'"
                             : "'disconnect: after_reply'");
    };
    r.fail(later(active[a], active[b]),
           who + ": " + label(a) + " and " + label(b) + " cannot be combined: " + why);
  };
  for (const char* b : {"reply", "greylist", "drip", "split"})
    clash("hang", b, "a hanging rule never sends a reply");
  for (const char* b : {"disconnect", "reset"})
    clash("hang", b, "a hanging rule keeps the connection open until the client leaves");
  clash("hang", "abort_after_bytes",
        "a hanging rule never answers DATA, so no message data arrives");
  for (const char* b : {"reply", "greylist", "drip", "split"})
    clash("reset", b, "reset closes the connection with a TCP RST instead of replying");
  if (then.disconnect == disconnect_mode::after_reply) {
    clash("reset", "disconnect", "reset closes the connection with a TCP RST instead of replying");
  }
  clash("reset", "abort_after_bytes",
        "reset closes the connection before any message data arrives");
  if (then.disconnect == disconnect_mode::before_reply) {
    for (const char* b : {"reply", "greylist", "drip", "split"})
      clash("disconnect", b,
            "the connection closes before anything is sent (after_reply sends the reply first)");
  }
  clash("disconnect", "abort_after_bytes",
        "the connection closes at the DATA reply, before any message data arrives");
  clash("reply", "greylist",
        "greylisting sends its own reply; give it as greylist: {retry_after: 60s, reply: \"451 "
        "4.7.1 ...\"}");
  if (then.abort_after_bytes && then.reply && smtp::reply::parse(then.reply->front()).code != 354) {
    r.fail(d.keys.at("reply"), who +
                                   ": 'abort_after_bytes' needs the DATA reply to be 354: after "
                                   "any other reply no message data arrives");
  }

  if (active.empty()) {
    r.fail(item, who +
                     " does nothing: give it an effect (reply, delay, hang, disconnect, reset, "
                     "drip, split, abort_after_bytes or greylist)");
  }
  if (d.greylist_reply) d.out.then.reply = std::move(d.greylist_reply);
}

void parse_rules(const reader& r, const field& f, parsed_scenario& s) {
  if (!f.value.is_sequence()) {
    r.fail_value(
        f,
        "expected a list of rules for 'rules', as in [{on: rcpt, reply: \"550 5.1.1 unknown\"}]");
  }
  std::map<std::string, int> names;  // rule name -> line of the rule that has it
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    const yaml::node item = f.value.item(i);
    const field rule_field{"rules[" + std::to_string(i) + "]", f.key, item};
    if (!item.is_map()) {
      r.attempt([&] {
        r.fail_value(rule_field, "expected a mapping for '" + rule_field.path +
                                     "' (a rule such as {name: x, on: rcpt, reply: ...})");
      });
      continue;
    }
    rule_draft d;
    d.out.line = item.where().line;
    const std::size_t errors_before = r.error_count();
    r.dispatch(rule_field, rule_rows, d);
    // A rule with a broken key is not checked as a whole: that would only repeat the error.
    if (r.error_count() != errors_before) continue;
    r.attempt([&] {
      for (std::size_t k = 0; k < item.size(); ++k)
        d.keys[item.key(k).scalar()] = item.key(k);
      // Transcripts and logs name the rule that fired; an unnamed rule gets its position.
      if (d.out.name.empty()) d.out.name = "rule-" + std::to_string(i + 1);
      if (const auto [first, inserted] = names.emplace(d.out.name, d.out.line); !inserted) {
        r.fail(d.name_value.defined() ? d.name_value : item,
               "duplicate rule name '" + d.out.name + "' (first used by the rule on line " +
                   std::to_string(first->second) + ")");
      }
      check_rule(r, d, item);
      s.rules.push_back(std::move(d.out));
    });
  }
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
    {"tls", parse_section<tls_rows>},
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

/// The whole file: personality, rules and the checks across sections.
/// With `errors`, every error is recorded there (up to `max_errors`) and the result is null
/// when there was any; without, the first error is thrown.
std::shared_ptr<definition> parse_definition(std::string_view yaml, std::string_view filename,
                                             std::vector<load_error>* errors = nullptr,
                                             std::size_t max_errors = 0) {
  const reader r{std::string(filename), errors, max_errors};
  const yaml::document document = r.parse(yaml);
  const yaml::node root = document.root();
  parsed_scenario scenario;
  if (!filename.empty()) scenario.personality.name = fs::path(filename).stem().string();
  try {
    r.dispatch(field{"", yaml::node{}, root}, top_level_rows, scenario);
  } catch (const too_many_errors&) {
    errors->push_back(
        load_error(std::string(filename), 0, 0,
                   "more errors follow; stopped after " + std::to_string(max_errors)));
    return nullptr;
  }
  // The checks across sections only mean something once every section has been read.
  if (r.error_count() > 0) return nullptr;
  check_consistency(r, scenario);
  auto result = std::make_shared<definition>();
  result->personality = std::make_shared<const smtp::personality>(std::move(scenario.personality));
  result->rules = std::move(scenario.rules);
  return result;
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

std::shared_ptr<const definition> load_definition_text(std::string_view yaml,
                                                       std::string_view filename) {
  return parse_definition(yaml, filename);
}

std::shared_ptr<const definition> load_definition_file(const fs::path& file) {
  auto result = parse_definition(yaml::read_file(file), file.string());
  result->file = file.string();
  return result;
}

std::vector<load_error> check_definition_file(const fs::path& file, std::size_t max_errors) {
  std::vector<load_error> errors;
  try {
    parse_definition(yaml::read_file(file), file.string(), &errors, max_errors);
  } catch (const load_error& e) {
    // Unreadable, a YAML syntax error or the whole document wrong: nothing more to read.
    errors.push_back(e);
  }
  return errors;
}

std::shared_ptr<const smtp::personality> load_text(std::string_view yaml,
                                                   std::string_view filename) {
  return load_definition_text(yaml, filename)->personality;
}

std::shared_ptr<const smtp::personality> load_file(const fs::path& file) {
  return load_definition_file(file)->personality;
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
