// The sending side of one SMTP session as a sans-I/O state machine: the mirror of
// server_connection. Replies go in with receive_data(); next_event() reports each command the
// core wrote (sent), each reply it matched to its command (received), a TLS handshake to run,
// and the end; take_output() hands over the bytes to write. Replies are matched to commands in
// order, so PIPELINING (RFC 2920) needs no bookkeeping in the driver.
// It never touches a socket, a clock or a terminal; it never throws on anything a server sends:
// a bad reply is a failure of the stage it answers, reported as a value. What a failure means
// to a program (swaks' exit codes, its --quit-after names) is the caller's (client/swaks.hpp).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.hpp"

namespace smtpmock::smtp {

/// The step of a client session a command or reply belongs to.
enum class client_stage {
  connect,   ///< TCP connect (the driver's; exit 2)
  banner,    ///< the 220 greeting (21)
  ehlo,      ///< EHLO (22)
  helo,      ///< HELO, after EHLO was refused (22)
  starttls,  ///< STARTTLS and the handshake (29)
  auth,      ///< AUTH and its SASL exchange (28)
  mail,      ///< MAIL FROM (23)
  rcpt,      ///< RCPT TO; fails when no recipient was accepted (24)
  data,      ///< DATA (25)
  message,   ///< the message data and its end-of-data reply (26)
  rset,      ///< RSET between transactions
  quit,      ///< QUIT
  closed,    ///< the server closed the connection unexpectedly (6)
};

/// "banner", "ehlo", ... (lowercase, for transcripts and JSON).
std::string_view client_stage_name(client_stage s);

/// The points of a session, in RFC 5321's order, after which a client may stop.
enum class milestone {
  banner,          ///< the 220 greeting arrived
  first_greeting,  ///< the first EHLO/HELO was accepted
  tls,             ///< where TLS is (or would have been) negotiated: after the handshake that
                   ///< follows STARTTLS, after the first greeting without STARTTLS, or (implicit
                   ///< TLS) after the banner
  greeting,        ///< the last EHLO/HELO (the one inside TLS after STARTTLS) was accepted
  auth,            ///< where AUTH is (or would have been) done
  mail,            ///< MAIL was answered
  rcpt,            ///< every RCPT was answered
  data,            ///< DATA got its 354
  dot,             ///< the message was accepted
};

/// Stop after a milestone: send QUIT (and read its reply), or drop the connection without it.
/// At `data` a QUIT would be message data, so the session always drops there. `on_send` drops
/// as soon as the milestone's command is written, before its reply (EHLO, STARTTLS, the first
/// AUTH line, MAIL, the first RCPT, DATA, the message); a milestone whose command is not sent
/// (no STARTTLS, no AUTH, the banner, the last greeting without STARTTLS) drops where it is.
struct stop_point {
  milestone after = milestone::banner;
  bool drop = false;
  bool on_send = false;
};

/// What follows the RCPT commands of a transaction.
enum class after_rcpt { data, rset, quit };

/// Whether STARTTLS is issued after the first EHLO.
enum class starttls_mode {
  off,            ///< never
  required,       ///< always; not advertised or refused is a TLS failure
  opportunistic,  ///< when advertised; refused or a failed handshake is a TLS failure
  optional,       ///< when advertised; refused goes on in plaintext (a failed handshake fails)
};

/// What happens when AUTH cannot be done or fails (swaks' --auth, -ao, -aos).
enum class auth_policy {
  required,         ///< any AUTH problem fails the session
  optional,         ///< not advertised, no common mechanism or refused: go on without
  optional_strict,  ///< not advertised, or the mechanism asked for not offered: go on; else fail
};

/// The greeting command (RFC 5321 4.1.1.1, RFC 2033 4.1).
enum class hello_verb {
  ehlo,  ///< EHLO, and HELO when EHLO gets a 5xx
  helo,  ///< HELO only (plain SMTP: no extensions, so no PIPELINING, AUTH or STARTTLS)
  lhlo,  ///< LHLO (LMTP): after the data, one reply per accepted recipient
};

/// What the session does; fixed for its lifetime.
struct client_options {
  std::string ehlo_name = "localhost";
  hello_verb hello = hello_verb::ehlo;
  starttls_mode starttls = starttls_mode::off;
  /// The connection is already inside TLS (implicit TLS, RFC 8314): no STARTTLS is issued.
  bool tls_on_connect = false;
  bool auth = false;
  auth_policy auth_need = auth_policy::required;
  /// "PLAIN", "LOGIN" or "CRAM-MD5", or a comma list of them (the first one advertised);
  /// empty: the best advertised (CRAM-MD5 > PLAIN > LOGIN).
  std::string auth_mechanism;
  std::string auth_user;
  std::string auth_password;
  /// Send MAIL, the RCPTs and DATA as one group when the server advertises PIPELINING.
  bool pipeline = false;
  /// Send the message as one BDAT chunk ("BDAT n LAST", RFC 3030) instead of DATA when the
  /// server advertises CHUNKING (else DATA, as without it).
  bool chunking = false;
  std::string mail_from;  ///< without angle brackets; empty sends MAIL FROM:<>
  std::vector<std::string> recipients;
  /// Transactions (messages) to run on this connection.
  std::size_t transactions = 1;
  /// The message of transaction `index` (headers and body; any line ends). Unset: `message`.
  std::function<std::string(std::size_t index)> make_message;
  std::string message;
  after_rcpt after_recipients = after_rcpt::data;
  /// Stop early (swaks' --quit-after, --drop-after); the session counts as a success.
  std::optional<stop_point> stop;
  /// After a failed transaction, RSET and go on with the next (load mode) instead of QUIT.
  bool continue_after_failure = false;
  /// Whether the `sent` event of the message data carries its lines (a transcript wants them;
  /// load mode does not).
  bool report_message_lines = true;
  /// HMAC-MD5 of `message` keyed with `key`, lowercase hex (RFC 2195); the core has no
  /// cryptography. Without it CRAM-MD5 is never chosen.
  std::function<std::string(std::string_view key, std::string_view message)> hmac_md5;
};

enum class client_event_kind {
  sent,       ///< a command (or the message data) went into the output; one reply will answer it
  received,   ///< a complete reply, matched to the command it answers
  start_tls,  ///< a clean 220 to STARTTLS: write the output, run the TLS handshake, then call
              ///< tls_started() or tls_failed()
  need_data,  ///< write the output, then read
  finished,   ///< the session is over: write the output, close; result() says how it went
};

/// What next_event() reports.
struct client_event {
  client_event_kind kind = client_event_kind::need_data;
  client_stage stage = client_stage::banner;
  /// sent: the lines written (without CRLF); received: the reply lines as they arrived.
  std::vector<std::string> lines;
  reply parsed;                 ///< received: the code and the text of each line
  bool unexpected = false;      ///< received: not the reply the stage wanted (swaks' `<**`)
  bool tls = false;             ///< the connection was inside TLS (swaks' `~>` and `<~`)
  std::size_t octets = 0;       ///< sent: bytes written for this command
  std::size_t transaction = 0;  ///< index of the message the command or reply belongs to
};

/// How one transaction (one message) ended.
struct transaction_result {
  bool accepted = false;               ///< the end of data got a 2xx
  std::optional<client_stage> failed;  ///< the first stage that failed
  int code = 0;                        ///< the reply code of that failure (0: none)
  std::size_t recipients_accepted = 0;
  std::string final_reply;  ///< the end-of-data reply's first line
};

/// How the whole session ended.
struct client_result {
  std::optional<client_stage> failed;  ///< the first failure decides; none: it all worked
  bool dropped = false;                ///< it ended at a stop_point with drop: close without QUIT
  std::string error;  ///< why, in words ("550 5.1.1 unknown user", "connection closed")
  std::vector<transaction_result> transactions;
};

class client_connection {
 public:
  explicit client_connection(client_options opts);

  /// Appends bytes read from the server.
  void receive_data(std::string_view bytes);
  /// The server closed the connection.
  void receive_eof();
  /// The driver gave up waiting for a reply: a failure of the stage being waited for.
  void timeout();
  /// The handshake after STARTTLS succeeded: plaintext state is forgotten, EHLO is sent again.
  void tls_started();
  /// The handshake after STARTTLS failed: the session ends with exit 29.
  void tls_failed(std::string reason);

  /// The next thing the driver must handle.
  client_event next_event();
  /// Bytes waiting to be written, moved out.
  std::string take_output();
  bool has_output() const { return !output_.empty(); }
  bool finished() const { return phase_ == phase::finished; }
  bool tls_active() const { return tls_; }

  /// The banner's reply (code 0 until it arrived).
  const reply& banner() const { return banner_; }
  /// The last EHLO reply (after STARTTLS: the one inside TLS).
  const reply& ehlo_reply() const { return ehlo_; }
  /// The extensions of the last EHLO reply, in order, as advertised ("SIZE 41943040").
  const std::vector<std::string>& extensions() const { return extensions_; }
  /// The advertised extension whose keyword is `keyword` (case-insensitive).
  std::optional<std::string> extension(std::string_view keyword) const;
  /// The mechanisms of the AUTH extension (upper-case), in advertised order.
  std::vector<std::string> auth_mechanisms() const;
  /// The SASL mechanism used (empty when AUTH was not attempted).
  const std::string& auth_mechanism_used() const { return mechanism_; }
  /// Whether AUTH succeeded.
  bool authenticated() const { return authenticated_; }
  const client_result& result() const { return result_; }

 private:
  enum class phase { banner, greeting, tls_handshake, auth, transaction, quitting, finished };
  enum class sasl_step { none, plain, login_user, login_password, cram_md5 };

  /// A command written and not yet answered.
  struct pending_command {
    client_stage stage;
    std::size_t transaction;
    bool discard = false;  ///< the lone "." after an unwanted 354 (RFC 2920 3.1)
  };
  /// The transaction in progress.
  struct transaction_state {
    std::size_t index = 0;
    std::size_t rcpt_sent = 0;
    std::size_t rcpt_answered = 0;
    transaction_result result;
    bool mail_ok = false;
    bool group = false;                 ///< MAIL, RCPTs and DATA were pipelined
    std::size_t data_replies_owed = 0;  ///< LMTP: one per accepted recipient
    std::size_t data_replies = 0;
    std::size_t data_accepted = 0;
    std::string message;  ///< the message of this transaction, made at MAIL (its parameters
                          ///< depend on it), sent after the 354
  };

  void enter_phase(phase p);
  void send(client_stage stage, std::string line, bool discard = false);
  void send_message_data();
  /// The message as one last BDAT chunk: its command line and octets in one write.
  void send_bdat();
  /// Whether this session sends BDAT (asked for, and CHUNKING advertised).
  bool chunking() const;
  /// After the message octets went out: the end-of-data replies owed, and a --drop-after dot.
  void owe_message_replies(std::size_t index);
  /// MAIL's parameters for `message` (RFC 6152 BODY=8BITMIME for 8-bit octets, RFC 6531
  /// SMTPUTF8 for a non-ASCII address), each only when advertised; "" or " BODY=8BITMIME ...".
  std::string mail_parameters(std::string_view message) const;
  void send_greeting();
  std::optional<reply> parse_reply(std::vector<std::string>& raw);
  void on_reply(const pending_command& cmd, const reply& r, std::vector<std::string> raw);
  void on_greeting_reply(client_stage stage, const reply& r);
  void on_auth_reply(const reply& r);
  void on_transaction_reply(const pending_command& cmd, const reply& r);
  void after_greeting();
  void start_auth();
  /// An AUTH problem: fails the session, or (by auth_need) goes on without AUTH when
  /// `tolerated_by_strict` or the policy is optional. Returns nothing; the session moved on.
  void auth_problem(int code, std::string why, bool tolerated_by_strict);
  void after_auth();
  void start_transaction();
  void send_next_rcpt_or_finish();
  void after_recipients_step();
  void end_transaction();
  void fail(client_stage stage, int code, std::string why);
  void quit();
  void finish();
  /// At milestone `m`: stops (QUIT or drop) when the options say so; true when it did.
  bool stop_at(milestone m);
  bool stops_at(milestone m) const { return opts_.stop && opts_.stop->after == m; }
  /// The milestone a command written at `stage` reaches when it is sent ("" none).
  std::optional<milestone> command_milestone(client_stage stage, const std::string& line) const;
  /// Ends the session without another byte after the output already written.
  void drop_now();
  bool pipelining() const;

  client_options opts_;
  phase phase_ = phase::banner;
  std::deque<pending_command> pending_;
  std::deque<client_event> events_;
  std::string input_;
  std::size_t pos_ = 0;
  std::string output_;
  bool tls_ = false;
  bool eof_ = false;
  bool tls_tried_ = false;
  bool helo_tried_ = false;
  bool first_ehlo_done_ = false;
  bool authenticated_ = false;
  std::string mechanism_;
  sasl_step sasl_ = sasl_step::none;
  reply banner_;
  reply ehlo_;
  std::vector<std::string> extensions_;
  std::optional<transaction_state> txn_;
  std::size_t next_transaction_ = 0;
  client_result result_;
};

/// The message as DATA sends it (RFC 5321 4.5.2): every line end made CRLF (a lone LF or CR
/// becomes CRLF), a leading "." on any line doubled, a final CRLF added when missing, then the
/// end-of-data line ".".
std::string encode_message_data(std::string_view message);
/// The message as one BDAT chunk carries it (RFC 3030 2): every line end made CRLF and a final
/// CRLF added when missing, as encode_message_data, but no dot-stuffing and no end line.
std::string encode_chunk_data(std::string_view message);

}  // namespace smtpmock::smtp
