// swaks' transcript of a `smtpmock send` session: "===" information, "***" errors (on the
// error stream, as swaks prints them to stderr), " -> "/" ~> " sent, "<-  "/"<~  " received,
// "<** "/"<~* " an unexpected reply, and swaks' output options: --silent levels, --hide-*,
// --no-*-hints, --suppress-data, --show-time-lapse, --auth-hide-password, --auth-plaintext.
// It only formats and filters; where the lines go (stdout, stderr, --output-file) is the
// caller's, by the two streams it passes.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "client/driver.hpp"

namespace smtpmock::client {

/// swaks' output options.
struct output_options {
  /// --silent: 0 everything; 1 nothing until an error, then everything; 2 errors only;
  /// 3 nothing (--hide-all is 3 too).
  int silent = 0;
  bool suppress_data = false;  ///< -n: "N lines sent" instead of the message
  enum class lapse { off, hires, integer };
  lapse time_lapse = lapse::off;  ///< -stl [i]: "=== response in 0.001s" before each reply
  /// -ahp [STRING]: the password in AUTH PLAIN/LOGIN lines shown as this (base64'd).
  std::optional<std::string> hide_password;
  /// -apt: AUTH exchanges shown decoded ("AUTH PLAIN \0user\0password", "334 Username:").
  bool auth_plaintext = false;
  std::string auth_user;            ///< to recognise the AUTH lines that carry the password
  std::string auth_password;        ///< (never printed when hide_password is set)
  bool hide_send = false;           ///< -hs
  bool hide_receive = false;        ///< -hr
  bool hide_informational = false;  ///< -hi
  bool no_send_hints = false;       ///< -nsh (and -nth)
  bool no_receive_hints = false;    ///< -nrh (and -nth)
  bool no_info_hints = false;       ///< -nih
};

/// Prints a session as swaks does; `out` takes everything but errors, `err` the errors.
class transcript_printer : public session_observer {
 public:
  transcript_printer(std::ostream& out, std::ostream& err, output_options o);
  void info(std::string_view text) override;
  void event(const timed_event& t) override;
  /// A "***" line (an error of smtpmock's own).
  void error(std::string_view text);
  /// A "!!" line: a finding the server noted (information, as "===" lines for the options).
  void finding(std::string_view text);

 private:
  /// swaks' ptrans: `kind` is its code (11 info, 12 error, 21/22 sent, 31/32 received).
  void print(int kind, std::string_view prefix, std::string_view line);
  std::string shown_auth_line(const std::string& line) const;
  std::string shown_auth_reply(const std::string& line) const;
  std::string hidden_auth_line(const std::string& line) const;

  std::ostream& out_;
  std::ostream& err_;
  output_options o_;
  bool seen_error_ = false;
};

}  // namespace smtpmock::client
