// SMTP replies: the value type, the named stock replies and the one serialiser.
// Every byte the server writes to a client is produced by serialise(); no other code
// formats reply lines. Enhanced status codes (RFC 2034/3463) are added only when asked.
// Invariant: a serialised line never contains CR or LF except its terminating CRLF.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smtpmock::smtp {

/// One reply: a three-digit code, an optional enhanced code and one or more text lines.
struct reply {
  int code = 0;
  std::string enhanced;            ///< "2.1.0", or empty; printed only when enabled
  std::vector<std::string> lines;  ///< text of each line, without code or CRLF

  /// Parses "250 2.1.0 MAIL ok" (as written in a scenario) into a reply; code 0 on bad input.
  static reply parse(std::string_view text);
  /// Builds a reply from a list of "CODE text" lines (a multi-line reply in a scenario).
  static reply parse_lines(const std::vector<std::string>& lines);

  bool positive() const { return code >= 200 && code < 400; }
  int klass() const { return code / 100; }
  /// The text of the first line (for logs and tests).
  std::string text() const { return lines.empty() ? std::string() : lines.front(); }
};

/// Serialises a reply to wire bytes; `enhanced_codes` says whether the enhanced code is printed.
std::string serialise(const reply& r, bool enhanced_codes);

/// Stock replies of the receiving side; the texts live in one table in reply.cpp.
enum class stock {
  service_ready,           // 220 (banner text comes from the personality)
  closing,                 // 221 2.0.0
  auth_ok,                 // 235 2.7.0
  ok,                      // 250 2.0.0 Ok
  sender_ok,               // 250 2.1.0
  recipient_ok,            // 250 2.1.5
  queued,                  // 250 2.0.0 queued as
  cannot_vrfy,             // 252 2.5.0
  help,                    // 214 2.0.0
  start_data,              // 354
  auth_challenge,          // 334
  shutting_down,           // 421 4.3.2
  too_many_connections,    // 421 4.3.2
  idle_timeout,            // 421 4.4.2
  command_timeout,         // 421 4.4.2
  session_timeout,         // 421 4.4.2
  too_many_errors,         // 421 4.7.0
  too_many_recipients,     // 452 4.5.3
  tls_not_available,       // 454 4.7.0
  line_too_long,           // 500 5.5.6
  unrecognised,            // 500 5.5.2
  bare_line_end,           // 500 5.5.2 bare LF/CR in a command
  syntax_error,            // 501 5.5.4
  bad_sender_syntax,       // 501 5.1.7
  bad_recipient_syntax,    // 501 5.1.3
  auth_cancelled,          // 501 5.7.0
  bad_base64,              // 501 5.5.2
  not_implemented,         // 502 5.5.1
  bad_sequence,            // 503 5.5.1
  need_helo,               // 503 5.5.1
  need_mail,               // 503 5.5.1
  need_rcpt,               // 503 5.5.1
  already_authenticated,   // 503 5.5.1
  auth_in_transaction,     // 503 5.5.1
  unknown_mechanism,       // 504 5.5.4
  auth_required,           // 530 5.7.0
  auth_failed,             // 535 5.7.8
  size_exceeded,           // 552 5.3.4
  no_valid_recipients,     // 554 5.5.1
  message_line_too_long,   // 500 5.5.6 (answered after end of data)
  bare_line_end_in_data,   // 554 5.6.11 (answered after end of data)
  unknown_parameter,       // 555 5.5.4
  early_talker,            // 554 5.5.0
  improper_pipelining,     // 503 5.5.0
  tls_ready,               // 220 2.0.0
  tls_already_active,      // 503 5.5.1
  tls_required,            // 530 5.7.0
  auth_needs_tls,          // 538 5.7.11
  too_many_auth_failures,  // 421 4.7.0
  storage_failed,          // 451 4.3.0
  control_character,       // 500 5.5.2 control character in a command line
  duplicate_parameter,     // 501 5.5.4 an ESMTP parameter given twice
  bad_dsn_parameter,       // 501 5.5.4 NOTIFY, RET, ENVID or ORCPT value (RFC 3461 4)
  sender_too_long,         // 501 5.1.7 (RFC 5321 4.5.3.1.1-3)
  recipient_too_long,      // 501 5.1.3 (RFC 5321 4.5.3.1.1-3)
  non_ascii_sender,        // 550 5.6.7 (RFC 6531 3.5)
  non_ascii_recipient,     // 553 5.6.7 (RFC 6531 3.5)
};

/// The stock reply `id`, with its code, enhanced code and default text.
reply make(stock id);
/// The stock reply `id` with its text replaced.
reply make(stock id, std::string text);

}  // namespace smtpmock::smtp
