// The SMTP command table and the parsers for command lines and MAIL/RCPT paths.
// Pure functions over strings: no state, no I/O. Parsing never throws; a malformed line is
// reported as a value so the state machine can answer it (a client's mistake is a reply).
// The table is constexpr and carries the RFC 2920 pipelining flag of each verb.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpmock::smtp {

enum class verb {
  helo,
  ehlo,
  mail,
  rcpt,
  data,
  bdat,
  rset,
  noop,
  vrfy,
  expn,
  help,
  quit,
  auth,
  starttls,
  unknown
};

/// One row of the command table.
struct command_info {
  verb id;
  std::string_view name;
  /// RFC 2920 3.1: "The EHLO, DATA, VRFY, EXPN, TURN, QUIT, and NOOP commands can only appear
  /// as the last command in a group since their success or failure produces a change of state
  /// which the client SMTP must accommodate." (AUTH and STARTTLS are added by RFC 4954 / 3207.)
  bool ends_pipeline_group;
};

inline constexpr std::array<command_info, 14> command_table{{
    {verb::helo, "HELO", true},
    {verb::ehlo, "EHLO", true},
    {verb::mail, "MAIL", false},
    {verb::rcpt, "RCPT", false},
    {verb::data, "DATA", true},
    {verb::bdat, "BDAT", false},
    {verb::rset, "RSET", false},
    {verb::noop, "NOOP", true},
    {verb::vrfy, "VRFY", true},
    {verb::expn, "EXPN", true},
    {verb::help, "HELP", true},
    {verb::quit, "QUIT", true},
    {verb::auth, "AUTH", true},
    {verb::starttls, "STARTTLS", true},
}};

/// The lowercase event name of a verb ("mail", "rcpt", ..., "unknown").
std::string_view verb_name(verb v);

/// A command line split into its verb and argument (leading/trailing spaces trimmed).
struct command {
  verb id = verb::unknown;
  std::string word;      ///< the verb as the client typed it
  std::string argument;  ///< everything after the verb
};

/// Splits a command line (without CRLF). Verbs are case-insensitive (RFC 5321 2.4).
command parse_command(std::string_view line);

/// An ESMTP parameter "KEYWORD[=value]"; the keyword is upper-cased.
struct parameter {
  std::string keyword;
  std::string value;
  bool has_value = false;
  std::string text() const { return has_value ? keyword + "=" + value : keyword; }
};

/// The argument of MAIL FROM / RCPT TO: a path and its parameters.
struct path_argument {
  std::string address;  ///< inside the angle brackets; empty for the null path <>
  std::vector<parameter> params;
};

enum class path_error {
  none,
  missing_prefix,
  bad_path,
  bad_parameter,
  too_long,  ///< RFC 5321 4.5.3.1.1-3: local part, domain or path over its limit
};

/// Parses "FROM:<a@b> SIZE=10" (prefix "FROM") or "TO:<a@b>" (prefix "TO"). Accepts the
/// telnet spelling "FROM: <a@b>" with spaces after the colon, as real servers do.
path_error parse_path(std::string_view argument, std::string_view prefix, path_argument& out);

/// Whether `line` holds an octet no SMTP command may contain: a control character (0x00-0x1F,
/// 0x7F; RFC 5321 4.1.1 separates the words of a command by SP only, and 4.1.2 allows no CTL).
bool has_control_character(std::string_view line);
/// Whether every octet of `s` is 7-bit ASCII (RFC 6531 3.4: anything else needs SMTPUTF8).
bool is_ascii(std::string_view s);
/// A fully qualified domain name (RFC 5321 4.1.2 Domain): two labels at least, each of
/// letters, digits and inner hyphens, at most 63 octets; a final dot allowed.
bool is_domain_name(std::string_view s);
/// What RFC 5321 4.1.1.1 wants as the HELO/EHLO argument: a domain name, or an address literal
/// ("[192.0.2.1]", "[IPv6:2001:db8::1]").
bool is_domain_or_address_literal(std::string_view s);
/// RFC 3461 4: xtext, "+" followed by two upper-case hex digits or a CHAR from "!" to "~"
/// other than "+" and "=".
bool valid_xtext(std::string_view s);
/// RFC 3461 4.1: NOTIFY is "NEVER" alone or a comma list of SUCCESS, FAILURE and DELAY.
bool valid_notify(std::string_view value);
/// RFC 3461 4.2: ORCPT is addr-type ";" xtext (RFC 6533 3: UTF-8 too when addr-type is utf-8).
bool valid_orcpt(std::string_view value);

/// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);
/// ASCII upper-case copy.
std::string upper(std::string_view s);

}  // namespace smtpmock::smtp
