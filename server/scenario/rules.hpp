// The scenario rule model: when a rule applies (event, match, when) and what it does (effects).
// Plain data built by the loader and read by the engine. Regexes are compiled once, here, at
// load time; nothing in this model is compiled or parsed per command.
// Must not include a regex engine's header: this header reaches much of the program (build time).
// Invariant: a rule's effects are consistent (the loader rejects reply + hang and the like).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/personality.hpp"

namespace smtpmock::scenario {

/// `on:` — the protocol moment a rule reacts to.
enum class event_type {
  connect,
  helo,
  ehlo,
  starttls,
  auth,
  mail,
  rcpt,
  data,
  message,
  bdat,
  rset,
  noop,
  vrfy,
  help,
  quit,
  unknown,
  any
};

/// The event name as written in a scenario ("rcpt"); nullopt for an unknown name.
std::optional<event_type> event_from_name(std::string_view name);
/// The name of `e` as written in a scenario ("rcpt").
std::string_view event_name(event_type e);
/// Every event name, in the order SPEC §3 lists them (for "allowed: ..." messages).
std::vector<std::string_view> all_event_names();

/// Why a /regex/ does not compile; what() is the regex library's reason.
class pattern_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A glob ("*@blocked.example", "?", case-insensitive) or a /regex/ (RE2 syntax: no
/// backreferences or lookaround, so matching is linear in the value's length).
/// A glob whose only wildcards are leading or trailing `*` is compiled at construction into a
/// literal, prefix, suffix or substring compare (no allocation, no backtracking per match).
class pattern {
 public:
  /// Builds from scenario text; throws pattern_error for a bad /regex/.
  explicit pattern(std::string text);
  /// A glob matches the whole value; a regex searches it.
  bool matches(std::string_view value) const;
  const std::string& text() const { return text_; }

  /// How a glob is matched (exposed for tests); `regex` for a /regex/.
  enum class form : unsigned char { regex, general, literal, prefix, suffix, infix, any };
  form compiled_form() const { return form_; }

 private:
  struct compiled;  // rules.cpp: the compiled regex
  void compile_glob();
  std::string text_;
  std::shared_ptr<const compiled> regex_;  // set for /regex/
  form form_ = form::general;
  std::string folded_;  ///< literal/prefix/suffix/infix: the text between the stars, lower-cased
};

/// `match:` — every condition given must hold.
struct conditions {
  std::optional<pattern> argument, sender, recipient, helo, user, client;
  std::vector<std::pair<std::string, pattern>> headers;  ///< message: header name -> pattern
  std::optional<pattern> body;                           ///< message: /regex/ over the body
  std::optional<std::size_t> size_over;                  ///< message: size in octets
};

/// The scope of a rule's counters.
enum class scope { server, client, session, transaction };

/// `rate: "10/min"`: matches once the client exceeds `count` events per `window`.
struct rate_limit {
  std::size_t count = 0;
  std::chrono::milliseconds window{0};
};

/// `when:` — counters and chance.
struct counters {
  std::optional<std::uint64_t> nth, every, after, times;
  scope per = scope::server;
  std::optional<double> probability;
  std::optional<rate_limit> rate;
};

enum class disconnect_mode { none, before_reply, after_reply };

/// `drip: {bytes, every}` — write the reply a few bytes at a time.
struct drip_settings {
  std::size_t bytes = 1;
  std::chrono::milliseconds every{200};
};

/// What a rule does; any combination the loader accepted.
struct effects {
  std::optional<std::vector<std::string>> reply;  ///< reply lines ("550 5.1.1 ..."), templates
  std::optional<std::chrono::milliseconds> delay;
  bool hang = false;
  disconnect_mode disconnect = disconnect_mode::none;
  bool reset = false;
  std::optional<drip_settings> drip;
  bool split = false;
  std::optional<std::size_t> abort_after_bytes;
  std::optional<std::chrono::milliseconds> greylist;  ///< retry_after
};

struct rule {
  std::string name;
  event_type on = event_type::any;
  conditions match;
  counters when;
  effects then;
  int line = 0;  ///< where the rule starts in its file, for messages
};

/// A loaded scenario: the personality and its rules.
struct definition {
  std::shared_ptr<const smtp::personality> personality;
  std::vector<rule> rules;
  std::string file;  ///< where it was loaded from ("" for built-in or API text)
};

}  // namespace smtpmock::scenario
