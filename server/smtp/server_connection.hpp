// The receiving side of one SMTP session as a sans-I/O state machine.
// Bytes go in with receive_data(); next_event() reports what happened, each decision point
// carrying the reply the core proposes; respond() sends the reply actually chosen (the
// proposal, or a scenario rule's) and is, beside the driver's entry points (receive_eof,
// tls_started, abandon), the only place the session state changes, keyed on that reply's code
// (a 2xx to MAIL opens a transaction, a 354 starts data, a 421 closes). The checks are const.
// It never touches a socket, a clock or a log: the driver in net/ does that.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/command.hpp"
#include "smtp/data_decoder.hpp"
#include "smtp/findings.hpp"
#include "smtp/line_reader.hpp"
#include "smtp/personality.hpp"
#include "smtp/reply.hpp"

namespace smtpmock::smtp {

/// A recipient accepted with RCPT TO.
struct recipient {
  std::string address;
  std::vector<std::string> params;  ///< "NOTIFY=SUCCESS", as sent (keyword upper-cased)
};

/// The SMTP envelope of one message.
struct envelope {
  std::string client_address;  ///< "127.0.0.1:53422"
  std::string helo;            ///< the HELO/EHLO argument
  bool esmtp = false;          ///< EHLO (true) or HELO (false)
  std::string mail_from;       ///< reverse path, empty for <>
  std::vector<std::string> mail_params;
  std::vector<recipient> recipients;
  std::string auth_user;  ///< empty when not authenticated
  std::string tls_version;
  std::string tls_cipher;
};

/// A message whose end of data was read.
struct captured_message {
  std::string id;  ///< from connection_options::new_message_id
  envelope env;
  std::string data;  ///< the message bytes after dot-unstuffing, CRLF line ends
};

enum class event_kind {
  connect,        ///< the session opened; proposal: the 220 banner
  command,        ///< a command line; proposal: the default reply to it
  auth_response,  ///< a SASL response line; proposal: 334 next challenge, 235, 535 or 501
  message,        ///< end of data; proposal: 250 (or 552/554/500 after a latched limit)
  interrupted,    ///< interrupt() was called; proposal: its 421, after which the session closes
  start_tls,      ///< a 220 to STARTTLS was sent: flush it, run the TLS handshake, then call
                  ///< tls_started() (or abandon() when the handshake fails); no respond()
  need_data,      ///< no complete input buffered: flush replies, then read
  closed,         ///< the session is over: flush replies and close
};

/// What next_event() reports. For connect/command/auth_response/message the driver must
/// call respond() before asking for the next event.
struct event {
  event_kind kind = event_kind::need_data;
  verb command = verb::unknown;  ///< for command events
  std::string line;       ///< the input line for the transcript, AUTH secrets replaced by ********
  std::string argument;   ///< the command argument (masked for AUTH)
  std::string sender;     ///< MAIL FROM address (MAIL, RCPT, DATA, message)
  std::string recipient;  ///< RCPT TO address (RCPT)
  std::string user;       ///< SASL user name once known (auth events)
  reply proposed;         ///< the reply the core would send
  const captured_message* message = nullptr;  ///< for message events, valid until respond()
};

/// Per-session inputs from the driver.
struct connection_options {
  std::string session_id;
  std::string client_address;  ///< "ip:port"
  std::string client_ip;
  bool tls = false;         ///< the connection is already inside TLS (implicit TLS)
  std::string tls_version;  ///< for implicit TLS: "TLSv1.3"
  std::string tls_cipher;   ///< for implicit TLS: "TLS_AES_256_GCM_SHA384"
  /// Whether the server can offer STARTTLS (it has a certificate); without it STARTTLS is
  /// answered 454 4.7.0 even when advertised.
  bool tls_available = false;
  /// HMAC-MD5 of `message` keyed with `key`, as lowercase hex, for CRAM-MD5 (RFC 2195). The core
  /// has no cryptography of its own; without this function CRAM-MD5 is not offered.
  std::function<std::string(std::string_view key, std::string_view message)> hmac_md5;
  /// Returns a fresh message id (used as {queue_id} and captured_message::id).
  std::function<std::string()> new_message_id;
};

class server_connection {
 public:
  server_connection(std::shared_ptr<const personality> p, connection_options opts);

  /// Appends received bytes. The driver reads only after next_event() returned need_data, so
  /// the buffer holds at most one read plus one partial line.
  void receive_data(std::string_view bytes);
  /// The peer closed its side; the next event is closed.
  void receive_eof();
  /// The idle timer fired or the server is shutting down: the next event proposes `r`
  /// (421 4.4.2 or 421 4.3.2) as an unsolicited reply, after which the session closes.
  void interrupt(reply r);

  /// The next thing the driver must handle.
  event next_event();
  /// Sends `r` in answer to the last event and applies its effect on the state.
  void respond(const reply& r);
  /// Sends nothing in answer to the last event (a rule that hangs or disconnects) and closes.
  void abandon();
  /// The TLS handshake after STARTTLS succeeded: the session starts over (RFC 3207 4.2): EHLO
  /// is required again, MAIL/RCPT/AUTH state is forgotten, STARTTLS is no longer offered.
  void tls_started(std::string version, std::string cipher);
  /// Whether the session is inside TLS (implicit, or after STARTTLS).
  bool tls_active() const { return tls_active_; }

  /// Bytes waiting to be written (serialised replies), moved out.
  std::string take_output();
  bool has_output() const { return !output_.empty(); }
  /// True once the session must end (after 221, any 421, or abandon()).
  bool closing() const { return state_ == state::closed; }
  /// Octets currently buffered but not yet processed.
  std::size_t buffered() const { return input_.size(); }
  /// Whether the session is reading message data (after a 354, or a BDAT chunk).
  bool in_data() const { return state_ == state::data || chunk_ != nullptr; }
  /// Whether a mail transaction is open (MAIL accepted, not yet ended).
  bool in_transaction() const { return tx_.open; }
  /// A reply from scenario text lines ("550 5.1.1 <{recipient}> unknown"), templates expanded
  /// with this session's values; code 0 when the lines do not form a reply.
  reply render(const std::vector<std::string>& lines) const;
  /// Whether AUTH succeeded in this session.
  bool authenticated() const { return authenticated_; }

  // Policy the driver performs but does not decide. Each is const and only answers.

  /// MAIL commands answered 2xx so far: the number of the current (or last) transaction.
  std::uint64_t transactions() const { return transactions_; }
  /// Whether replies not yet written (`unsent` octets of them) wait for a later reply instead
  /// of leaving before the next read: quirks.pipelining hold_until_data answers MAIL and RCPT
  /// only together with DATA's reply, up to max_held_output.
  bool holds_replies(std::size_t unsent) const;
  /// Whether the driver must listen for early input before sending the banner `chosen`
  /// (quirks.early_talker reject and a 220 banner); it then reports with banner_verdict().
  bool listens_before_banner(const reply& chosen) const;
  /// The banner to send instead of `chosen` when the client spoke (or not) before it: a 220
  /// becomes 554 5.5.0 for an early talker when the personality rejects them.
  reply banner_verdict(const reply& chosen, bool client_spoke) const;
  /// Whether the message of the pending message event must be stored before `r` is sent: a
  /// 2xx is the server's promise to keep it (RFC 5321 4.1.1.4, 6.1).
  bool keeps_message(const reply& r) const;
  /// How long the driver listens for an early talker when no rule delayed the banner (like
  /// Postfix postscreen's greet wait, but short).
  static constexpr std::chrono::milliseconds early_talker_wait{1000};
  /// hold_until_data holds at most this much of replies; beyond it they leave anyway (a client
  /// that sends 2 million RCPTs must not grow the session without bound).
  static constexpr std::size_t max_held_output = 64 * 1024;

  const envelope& current_envelope() const { return tx_.env; }
  const personality& scenario() const { return *personality_; }
  /// Number of replies counted against the error budget so far.
  std::size_t errors() const { return errors_; }
  /// What the client did wrong so far, in order (findings.hpp). Each finding belongs to the
  /// input of the event it was noted in; the driver reports new ones after recording it.
  const std::vector<finding>& findings() const { return findings_; }
  /// A finding only the driver can see (it arrives with the input of the event being made, or
  /// of the last one): bytes before the banner (early-talker), a timeout (idle-timeout), what
  /// the scenario engine measured (retry-too-early) or the listener counted (reconnect-storm).
  /// An unknown code is ignored.
  void observed(std::string_view code, std::string text) { note(code, std::move(text)); }

 private:
  enum class state { connect, fresh, greeted, data, auth, tls_handshake, closed };
  /// The event respond() is to answer.
  enum class answering { none, connect, command, auth_line, message, interrupt };
  enum class sasl { none, login_user, login_password, plain, cram_md5, xoauth2, xoauth2_error };

  /// One mail transaction (RFC 5321 3.3): opened by a 2xx to MAIL; ended by the reply to its
  /// end of data, by RSET, HELO/EHLO, a refused BDAT chunk or the TLS handshake. Ending it is
  /// assigning a fresh one, so nothing of it can outlive it.
  struct transaction {
    envelope env;                   ///< the session's facts (session_) plus MAIL FROM and RCPTs
    bool open = false;              ///< MAIL was answered 2xx
    bool smtputf8 = false;          ///< MAIL carried SMTPUTF8 (RFC 6531 3.4)
    bool bdat_started = false;      ///< a BDAT chunk was accepted: DATA is refused (RFC 3030 2)
    std::string bdat_message;       ///< the accepted chunks, up to the size limit
    std::size_t bdat_size = 0;      ///< their octets, counted beyond the limit too
    std::size_t rcpt_commands = 0;  ///< RCPT commands since MAIL, accepted or not
  };

  /// A BDAT chunk being read (RFC 3030 2). Input framing like the line reader, not a state:
  /// its octets are read before the command is answered, even when it is refused, so they are
  /// never taken for commands.
  struct chunk {
    std::size_t remaining = 0;
    bool last = false;
    std::optional<reply> refusal;  ///< the core's refusal, decided when the command was read
    std::string line;              ///< the BDAT command, for its event
    std::string data;              ///< the octets kept: none when refused, up to the size limit
    std::size_t size = 0;          ///< the octets counted
  };

  /// What the reply to an event may change, worked out when the event is made; respond()
  /// applies it as far as the reply actually sent allows.
  struct change {
    path_argument path;          ///< MAIL, RCPT: as parsed (the address even if refused later)
    std::string helo;            ///< HELO, EHLO: the argument
    bool esmtp = false;          ///< EHLO
    std::string user;            ///< AUTH: the user the exchange names so far
    sasl next = sasl::none;      ///< AUTH: the SASL step a 334 leads to
    bool attempt = false;        ///< the proposal judges a SASL response (a failure counts)
    std::string cram_challenge;  ///< AUTH CRAM-MD5: the challenge the 334 carries
    std::optional<std::string> chunk;  ///< BDAT: the octets a 2xx adds; none: no chunk read
    std::size_t chunk_size = 0;        ///< BDAT: the octets a 2xx counts
  };
  /// The event respond() answers and what its reply may change; set only by ask().
  struct pending {
    answering to = answering::none;
    verb command = verb::unknown;
    change apply;
  };
  /// A template value an event sets whatever its reply ({helo}, {sender}, {recipient}, {user});
  /// the replies its check renders see it already.
  struct template_value {
    std::string_view name;
    std::string value;
  };
  /// A check's outcome: the reply it proposes, what that reply would change, the template
  /// value the event sets.
  struct verdict {
    verdict() = default;
    /// A verdict that is only a reply: it changes nothing and sets no value.
    verdict(reply r) : proposed(std::move(r)) {}  // NOLINT(google-explicit-constructor)
    reply proposed;
    change apply;
    std::optional<template_value> sets;
  };

  /// What a transcript shows in place of an AUTH secret.
  static constexpr std::string_view masked_secret = "********";

  void enter_state(state s);
  /// Notes the findings a command shows (its order, framing, pipelining, HELO argument).
  void judge(const command& c, const input_line& line);
  /// Notes what a MAIL or RCPT's path and parameters show (unadvertised extensions, non-ASCII
  /// without SMTPUTF8).
  void judge_path(const command& c);
  /// Notes what a message shows at its end (`decoder`: its DATA decoder; null after BDAT).
  void judge_message(std::string_view data, std::size_t size, const data_decoder* decoder);
  void note(std::string_view code, std::string text);
  event ask(answering to, event_kind k, verb v, std::string line, reply proposed, change apply);
  event make_event(event_kind k, verb v, std::string line, reply proposed) const;
  event on_command(const input_line& line);
  event on_bdat_chunk();
  event on_auth_line(const input_line& line);
  event wait_for_input();
  event message_event(std::string data, std::size_t size, reply r, verb by, std::string line);
  void apply_command(const pending& answered, const reply& r);
  void apply_auth(const change& c, const reply& r);
  void set_value(std::optional<template_value> v);

  std::optional<chunk> check_bdat(const command& c) const;
  verdict propose_command(const command& c) const;
  verdict check_helo(const command& c, bool esmtp) const;
  verdict check_mail_command(const command& c) const;
  verdict check_rcpt_command(const command& c) const;
  reply check_data_command(const command& c) const;
  reply check_starttls(const command& c) const;
  reply check_params(const std::vector<parameter>& params, bool mail) const;
  reply check_dsn_value(const parameter& param) const;
  reply within_error_budget(reply r) const;
  verdict check_auth_start(std::string_view argument) const;
  verdict check_auth_response(const input_line& line) const;
  verdict finish_auth(const std::string& user, std::string_view password) const;
  verdict finish_plain(std::string_view decoded) const;
  verdict finish_cram_md5(std::string_view decoded) const;
  verdict finish_xoauth2(std::string_view decoded) const;

  reply configured(std::string_view key, stock fallback, const template_value* v = nullptr) const;
  std::vector<std::string> ehlo_lines(const template_value* v = nullptr) const;
  std::string expand(std::string_view text, const template_value* v = nullptr) const;
  bool counts_as_error(int code) const;
  void compact();
  void reset_transaction();
  /// The state between commands: greeted once a HELO/EHLO was accepted, else still fresh (an
  /// AUTH exchange, a BDAT chunk or a message must not stand in for the greeting).
  state between_commands() const { return greeted_ ? state::greeted : state::fresh; }

  std::shared_ptr<const personality> personality_;
  connection_options opts_;
  state state_ = state::connect;
  pending pending_;
  bool eof_ = false;
  std::optional<reply> interrupt_;

  // Input framing: the octets read, the line reader, the DATA decoder (while state_ is data),
  // the BDAT chunk being read.
  std::string input_;
  std::size_t pos_ = 0;  ///< first unprocessed octet of input_
  std::string output_;
  line_reader lines_;
  std::unique_ptr<data_decoder> data_;
  std::unique_ptr<chunk> chunk_;  ///< the BDAT chunk being read (allocated per chunk: an idle
                                  ///< session does not carry one)

  // The session: its envelope facts (client, HELO/EHLO, AUTH user, TLS; no MAIL or RCPT),
  // the open transaction, and what lasts across transactions.
  envelope session_;
  bool greeted_ = false;  ///< a HELO/EHLO got a 2xx (since the start or the TLS restart)
  transaction tx_;
  std::uint64_t transactions_ = 0;  ///< MAIL commands answered 2xx
  bool authenticated_ = false;
  bool tls_active_ = false;
  std::size_t auth_failures_ = 0;
  std::size_t errors_ = 0;
  bool enhanced_ = false;
  template_values values_;
  /// The message of the pending message event (allocated at the end of data, so an idle
  /// session does not carry one).
  std::unique_ptr<captured_message> message_;

  // The SASL exchange in progress (state_ is auth).
  sasl sasl_ = sasl::none;
  std::string sasl_user_;
  std::string cram_challenge_;

  // Pipelining (RFC 2920): what the driver flushes and when.
  std::size_t unflushed_ = 0;           ///< replies given since the last need_data (not yet read)
  verb last_answered_ = verb::unknown;  ///< the last command respond() answered
  bool last_ends_group_ = false;        ///< the last answered command ends a pipeline group
  bool last_was_command_ = false;       ///< the last reply answered a command (not a message)

  // The client's verdict.
  std::vector<finding> findings_;
  bool quit_seen_ = false;      ///< QUIT was sent
  bool tls_restarted_ = false;  ///< STARTTLS's handshake succeeded (EHLO is due again)
  /// findings_.size() when the MAIL being answered was read: a 2xx makes the findings from
  /// there on its transaction's.
  std::size_t mail_findings_from_ = 0;
};

}  // namespace smtpmock::smtp
