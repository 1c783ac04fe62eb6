// The SMTP receiving-side state machine. All state changes go through enter_state() and
// respond(), keyed on the reply actually sent; every check before that is const-like and
// only proposes a reply (check, then proceed).
#include "smtp/server_connection.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "smtp/base64.hpp"
#include "smtp/limits.hpp"

namespace smtpmock::smtp {
namespace {

constexpr std::string_view masked = "********";

// RFC 4954 4: the LOGIN challenges are the base64 of "Username:" and "Password:".
constexpr std::string_view login_user_challenge = "VXNlcm5hbWU6";
constexpr std::string_view login_password_challenge = "UGFzc3dvcmQ6";

reply challenge(std::string_view text) {
  reply r = make(stock::auth_challenge);
  r.lines = {std::string(text)};
  return r;
}

bool parse_size(std::string_view s, std::size_t& out) {
  if (s.empty() || s.size() > 20) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

}  // namespace

server_connection::server_connection(std::shared_ptr<const personality> p, connection_options opts)
    : personality_(std::move(p)), opts_(std::move(opts)) {
  if (!personality_) personality_ = std::make_shared<const personality>(default_personality());
  enhanced_ = personality_->enhanced_codes();
  env_.client_address = opts_.client_address;
  tls_active_ = opts_.tls;
  if (tls_active_) {
    env_.tls_version = opts_.tls_version;
    env_.tls_cipher = opts_.tls_cipher;
  }
  values_["hostname"] = personality_->hostname;
  values_["client_ip"] = opts_.client_ip;
  values_["session_id"] = opts_.session_id;
}

void server_connection::compact() {
  if (pos_ == 0) return;
  input_.erase(0, pos_);
  pos_ = 0;
}

void server_connection::receive_data(std::string_view bytes) {
  if (state_ == state::closed) return;
  compact();
  input_.append(bytes);
}

void server_connection::receive_eof() {
  eof_ = true;
}

void server_connection::interrupt(reply r) {
  interrupt_ = std::move(r);
}

void server_connection::enter_state(state s) {
  state_ = s;
  if (s == state::closed) {
    input_.clear();
    pos_ = 0;
    data_.reset();
  }
}

std::string server_connection::expand(std::string_view text) const {
  return expand_template(text, values_);
}

reply server_connection::configured(std::string_view key, stock fallback) const {
  const auto it = personality_->replies.find(std::string(key));
  if (it != personality_->replies.end()) {
    reply r = reply::parse(expand(it->second));
    if (r.code != 0) return r;
  }
  reply r = make(fallback);
  for (auto& line : r.lines)
    line = expand(line);
  return r;
}

event server_connection::make_event(event_kind k, verb v, std::string line, reply proposed) {
  event ev;
  ev.kind = k;
  ev.command = v;
  ev.line = std::move(line);
  ev.proposed = std::move(proposed);
  // A rule on MAIL matches the sender being decided; it enters the envelope only once the
  // reply actually sent is a 2xx (respond()).
  ev.sender = k == event_kind::command && v == verb::mail ? pending_path_.address : env_.mail_from;
  if (const std::string* recipient = values_.find("recipient")) ev.recipient = *recipient;
  if (const std::string* argument = values_.find("argument")) ev.argument = *argument;
  ev.user = pending_user_.empty() ? env_.auth_user : pending_user_;
  return ev;
}

reply server_connection::within_error_budget(reply r) const {
  // The error budget: once spent, the next mistake (a command's or a SASL response's) closes
  // the session.
  if (counts_as_error(r.code) && personality_->limits.max_errors > 0 &&
      errors_ >= personality_->limits.max_errors)
    return make(stock::too_many_errors);
  return r;
}

bool server_connection::counts_as_error(int code) const {
  // Client mistakes count against the budget: syntax, sequence and parameter errors.
  return (code >= 500 && code <= 504) || code == 555;
}

std::vector<std::string> server_connection::ehlo_lines() const {
  std::vector<std::string> lines{expand(personality_->ehlo_greeting)};
  for (const auto& ext : personality_->extensions) {
    // RFC 3207 4.2: STARTTLS is not offered once TLS is active.
    if (tls_active_ && iequals(ext, "STARTTLS")) continue;
    lines.push_back(ext);
  }
  return lines;
}

event server_connection::wait_for_input() {
  compact();
  if (eof_) {
    // The client left; a message still in transfer is lost, never stored.
    enter_state(state::closed);
    return make_event(event_kind::closed, verb::unknown, {}, {});
  }
  unflushed_ = 0;  // the driver flushes every reply before it reads
  return make_event(event_kind::need_data, verb::unknown, {}, {});
}

event server_connection::next_event() {
  if (pending_ != pending::none)
    throw std::logic_error("server_connection: respond() was not called for the last event");
  if (state_ == state::closed) return make_event(event_kind::closed, verb::unknown, {}, {});
  if (interrupt_) {
    pending_ = pending::interrupt;
    reply r = std::move(*interrupt_);
    interrupt_.reset();
    return make_event(event_kind::interrupted, verb::unknown, {}, std::move(r));
  }
  if (state_ == state::tls_handshake)
    return make_event(event_kind::start_tls, verb::starttls, {}, {});
  if (state_ == state::connect) {
    pending_ = pending::connect;
    reply banner{220, "", {expand(personality_->banner)}};
    return make_event(event_kind::connect, verb::unknown, {}, std::move(banner));
  }
  if (state_ == state::data) {
    if (!data_->feed(input_, pos_)) return wait_for_input();
    // Limits latched during the transfer are answered now (RFC 5321 4.5.3.1.10, 4.2.5).
    reply r;
    if (data_->too_big()) {
      r = make(stock::size_exceeded);
    } else if (data_->line_too_long()) {
      r = make(stock::message_line_too_long);
    } else if (data_->bare_line_end() && personality_->quirks.bare_lf == bare_lf_mode::reject) {
      r = make(stock::bare_line_end_in_data);
    } else if (env_.recipients.empty()) {
      r = make(stock::no_valid_recipients);
    } else {
      r = {};  // the default success reply, made once the message id is known
    }
    const std::size_t size = data_->size();
    return message_event(data_->take_message(), size, std::move(r), verb::data,
                         "<message " + std::to_string(size) + " octets>");
  }
  if (state_ == state::bdat) return on_bdat_chunk();

  // RFC 4954 4: an AUTH line (with its initial response) may be 12288 octets, so lines are
  // read up to that; any other command over 512 octets is refused once its verb is known.
  auto line = lines_.next(input_, pos_, limits::auth_line);
  if (!line) return wait_for_input();
  return state_ == state::auth ? on_auth_line(*line) : on_command(*line);
}

event server_connection::message_event(std::string data, std::size_t size, reply r, verb by,
                                       std::string line) {
  message_ = {};
  message_.id = opts_.new_message_id ? opts_.new_message_id() : std::to_string(errors_);
  message_.env = env_;
  message_.data = std::move(data);
  values_["queue_id"] = message_.id;
  values_["size"] = std::to_string(size);
  if (r.code == 0) r = configured("message", stock::queued);
  pending_ = pending::message;
  event ev = make_event(event_kind::message, by, std::move(line), std::move(r));
  ev.message = &message_;
  return ev;
}

bool server_connection::start_bdat(const command& c) {
  // RFC 3030 2: "BDAT" SP chunk-size [ SP "LAST" ].
  if (!personality_->advertises("CHUNKING")) return false;
  std::string_view arg = c.argument;
  const auto space = arg.find(' ');
  const std::string_view digits = arg.substr(0, space);
  const std::string_view rest = space == std::string_view::npos ? "" : arg.substr(space + 1);
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  if (!rest.empty() && !iequals(rest, "LAST")) return false;
  bdat_remaining_ = std::stoull(std::string(digits));
  bdat_last_ = !rest.empty();
  // The chunk is always read, even when the command is refused (RFC 3030 2), so its octets
  // are never taken for commands.
  bdat_error_.reset();
  if (personality_->tls.required && !tls_active_)
    bdat_error_ = make(stock::tls_required);
  else if (state_ == state::fresh)
    bdat_error_ = make(stock::need_helo);
  else if (!in_transaction_)
    bdat_error_ = make(stock::need_mail);
  else if (env_.recipients.empty())
    bdat_error_ = make(stock::no_valid_recipients);
  enter_state(state::bdat);
  return true;
}

event server_connection::on_bdat_chunk() {
  const std::size_t take = std::min(bdat_remaining_, input_.size() - pos_);
  if (!bdat_error_) {
    const std::size_t limit = personality_->message_size_limit();
    const std::size_t room = bdat_message_.size() < limit ? limit - bdat_message_.size() : 0;
    bdat_message_.append(input_, pos_, std::min(take, room));
    bdat_size_ += take;
  }
  pos_ += take;
  bdat_remaining_ -= take;
  if (bdat_remaining_ > 0) return wait_for_input();
  enter_state(state::greeted);
  // The event shows the BDAT command itself ("BDAT 7 LAST"), so the transcript has it.
  std::string shown = std::move(bdat_line_);
  bdat_line_.clear();
  if (bdat_error_ || !bdat_last_) {
    reply r = bdat_error_ ? *bdat_error_
                          : reply{250, "2.0.0", {std::to_string(bdat_size_) + " octets received"}};
    pending_ = pending::command;
    pending_verb_ = verb::bdat;
    return make_event(event_kind::command, verb::bdat, shown, std::move(r));
  }
  reply r;
  if (bdat_size_ > personality_->message_size_limit()) r = make(stock::size_exceeded);
  const std::size_t size = bdat_size_;
  return message_event(std::move(bdat_message_), size, std::move(r), verb::bdat, std::move(shown));
}

event server_connection::on_command(const input_line& line) {
  command c = parse_command(line.text);
  values_["argument"] = c.argument;
  values_.erase("recipient");
  pending_path_ = {};
  pending_user_.clear();
  pending_sasl_ = sasl::none;
  pending_attempt_ = false;
  std::string shown = line.text;
  if (c.id == verb::auth) {
    // Keep the mechanism, mask any initial response: secrets never reach a transcript.
    const auto space = c.argument.find(' ');
    if (space != std::string::npos) {
      shown = c.word + " " + c.argument.substr(0, space) + " " + std::string(masked);
      values_["argument"] = c.argument.substr(0, space);
    }
  }
  reply r;
  const bool too_long =
      line.too_long || (c.id != verb::auth && line.text.size() + 2 > limits::command_line);
  if (too_long) {
    r = make(stock::line_too_long);
    c.id = verb::unknown;
    shown = shown.substr(0, limits::command_line);
  } else if ((line.bare_lf || line.bare_cr) &&
             personality_->quirks.bare_lf == bare_lf_mode::reject) {
    r = make(stock::bare_line_end);
  } else if (has_control_character(line.text)) {
    // RFC 5321 4.1.1: a command is words separated by SP; 4.1.2's grammar has no control
    // character anywhere (2.4: commands are ASCII text). The line cannot be interpreted, like
    // one with a bare CR or LF: 500 5.5.2 (RFC 3463 3.6: "could not be interpreted"). Its
    // verb is not trusted either, so no reply a rule gives can act on it as a command.
    r = make(stock::control_character);
    c.id = verb::unknown;
  } else if (personality_->quirks.pipelining == pipelining_mode::reject && unflushed_ > 0 &&
             (last_ends_group_ || !personality_->advertises("PIPELINING"))) {
    // RFC 2920 3.1: without PIPELINING, or after a command that ends a group, the client
    // must wait for the reply; this quirk rejects one that did not (like Postfix's
    // reject_unauth_pipelining).
    r = make(stock::improper_pipelining);
  } else if (c.id == verb::bdat && start_bdat(c)) {
    values_["argument"] = c.argument;
    bdat_line_ = std::move(shown);
    return next_event();  // the reply comes once the chunk has been read
  } else {
    r = propose_command(c, line);
  }
  r = within_error_budget(std::move(r));
  pending_ = pending::command;
  pending_verb_ = c.id;
  return make_event(event_kind::command, c.id, std::move(shown), std::move(r));
}

reply server_connection::propose_command(const command& c, const input_line&) {
  // RFC 3207 4: a server that requires TLS answers 530 until STARTTLS.
  const bool needs_tls = c.id == verb::mail || c.id == verb::rcpt || c.id == verb::data ||
                         c.id == verb::bdat || c.id == verb::auth || c.id == verb::vrfy;
  if (needs_tls && personality_->tls.required && !tls_active_) return make(stock::tls_required);
  switch (c.id) {
    case verb::helo:
      return check_helo(c, false);
    case verb::ehlo:
      return check_helo(c, true);
    case verb::mail:
      return check_mail_command(c);
    case verb::rcpt:
      return check_rcpt_command(c);
    case verb::data:
      return check_data_command(c);
    case verb::rset:
      if (!c.argument.empty()) return make(stock::syntax_error);
      return configured("rset", stock::ok);
    case verb::noop:
      return configured("noop", stock::ok);
    case verb::vrfy:
      if (c.argument.empty()) return make(stock::syntax_error);
      return configured("vrfy", stock::cannot_vrfy);
    case verb::help:
      return configured("help", stock::help);
    case verb::quit:
      if (!c.argument.empty()) return make(stock::syntax_error);
      return configured("quit", stock::closing);
    case verb::auth:
      return check_auth_start(c.argument);
    case verb::starttls:
      if (!personality_->advertises("STARTTLS")) return make(stock::not_implemented);
      if (tls_active_) return make(stock::tls_already_active);
      if (!c.argument.empty()) return make(stock::syntax_error);  // RFC 3207 4: no parameters
      if (!opts_.tls_available) return make(stock::tls_not_available);
      return make(stock::tls_ready);
    case verb::bdat:
      // start_bdat() took every well-formed BDAT when CHUNKING is advertised.
      if (personality_->advertises("CHUNKING")) return make(stock::syntax_error);
      return make(stock::not_implemented);
    case verb::expn:
      return make(stock::not_implemented);
    case verb::unknown:
      break;
  }
  return make(stock::unrecognised);
}

reply server_connection::check_helo(const command& c, bool esmtp) {
  if (c.argument.empty())
    return make(stock::syntax_error, esmtp ? "EHLO requires a domain" : "HELO requires a domain");
  pending_helo_ = c.argument;
  pending_esmtp_ = esmtp;
  values_["helo"] = c.argument;
  if (esmtp) return reply{250, "", ehlo_lines()};
  const auto it = personality_->replies.find("helo");
  if (it != personality_->replies.end()) {
    reply r = reply::parse(expand(it->second));
    if (r.code != 0) return r;
  }
  return reply{250, "", {expand("{hostname}")}};
}

reply server_connection::check_params(const std::vector<parameter>& params, bool mail) const {
  const auto& p = *personality_;
  for (auto it = params.begin(); it != params.end(); ++it) {
    const parameter& param = *it;
    const std::string& k = param.keyword;
    // No SMTP extension says what a repeated keyword means (which SIZE would hold? which
    // NOTIFY?): refused as invalid command arguments, RFC 3463 3.6 X.5.4.
    const auto same = [&](const parameter& q) { return q.keyword == k; };
    if (std::any_of(params.begin(), it, same)) {
      reply r = make(stock::duplicate_parameter);
      r.lines.front() += " " + k;
      return r;
    }
    bool known = false;
    if (mail) {
      if (k == "SIZE" && p.advertises("SIZE")) {
        std::size_t declared = 0;
        if (!param.has_value || !parse_size(param.value, declared))
          return make(stock::syntax_error);
        // RFC 1870 6.1: a declared size over the limit is refused at MAIL.
        if (declared > p.message_size_limit()) return make(stock::size_exceeded);
        known = true;
      } else if (k == "BODY" && p.advertises("8BITMIME")) {
        const std::string v = upper(param.value);
        if (v != "7BIT" && v != "8BITMIME" && !(v == "BINARYMIME" && p.advertises("BINARYMIME")))
          return make(stock::syntax_error);
        known = true;
      } else if (k == "SMTPUTF8" && p.advertises("SMTPUTF8")) {
        if (param.has_value) return make(stock::syntax_error);
        known = true;
      } else if ((k == "RET" || k == "ENVID") && p.advertises("DSN")) {
        if (reply r = check_dsn_value(param); r.code != 0) return r;
        known = true;
      } else if (k == "AUTH" && p.advertises("AUTH")) {
        known = param.has_value;
      }
    } else if ((k == "NOTIFY" || k == "ORCPT") && p.advertises("DSN")) {
      if (reply r = check_dsn_value(param); r.code != 0) return r;
      known = true;
    }
    // RFC 5321 4.1.1.11: an unrecognised or unadvertised parameter gets 555.
    if (!known) return make(stock::unknown_parameter, "Unsupported parameter " + k);
  }
  return {};
}

reply server_connection::check_dsn_value(const parameter& param) const {
  if (!param.has_value) return make(stock::syntax_error);
  const std::string& k = param.keyword;
  const std::string_view v = param.value;
  bool ok = true;
  if (k == "RET") {
    ok = iequals(v, "FULL") || iequals(v, "HDRS");  // RFC 3461 4.3
  } else if (k == "ENVID") {
    ok = v.size() <= limits::envid && valid_xtext(v);  // RFC 3461 4.4
  } else if (k == "NOTIFY") {
    ok = valid_notify(v);  // RFC 3461 4.1
  } else if (k == "ORCPT") {
    ok = valid_orcpt(v);  // RFC 3461 4.2
  }
  if (ok) return {};
  reply r = make(stock::bad_dsn_parameter);
  r.lines.front() += " " + k;
  return r;
}

bool server_connection::transaction_smtputf8() const {
  for (const auto& param : env_.mail_params)
    if (param == "SMTPUTF8") return true;
  return false;
}

reply server_connection::check_mail_command(const command& c) {
  if (state_ == state::fresh) return make(stock::need_helo);
  if (in_transaction_) return make(stock::bad_sequence, "Sender already specified");
  if (personality_->auth.required && !authenticated_) return make(stock::auth_required);
  switch (parse_path(c.argument, "FROM", pending_path_)) {
    case path_error::none:
      break;
    case path_error::bad_path:
      return make(stock::bad_sender_syntax);
    case path_error::too_long:
      // RFC 5321 4.5.3.1.9: "501 Path too long".
      return make(stock::sender_too_long);
    case path_error::missing_prefix:
    case path_error::bad_parameter:
      return make(stock::syntax_error);
  }
  values_["sender"] = pending_path_.address;
  // RFC 5321 4.1.1.2 / 1869: parameters only after EHLO.
  if (!env_.esmtp && !pending_path_.params.empty())
    return make(stock::unknown_parameter, "Parameters require EHLO");
  if (reply r = check_params(pending_path_.params, true); r.code != 0) return r;
  // RFC 6531 3.4: a non-ASCII address needs SMTPUTF8 on MAIL (check_params refused the
  // parameter when it is not advertised); 3.5: MAIL gets 550 5.6.7.
  const auto smtputf8 = [](const parameter& q) { return q.keyword == "SMTPUTF8"; };
  if (!is_ascii(pending_path_.address) &&
      std::none_of(pending_path_.params.begin(), pending_path_.params.end(), smtputf8))
    return make(stock::non_ascii_sender);
  return configured("mail", stock::sender_ok);
}

reply server_connection::check_rcpt_command(const command& c) {
  if (state_ == state::fresh) return make(stock::need_helo);
  if (!in_transaction_) return make(stock::need_mail);
  switch (parse_path(c.argument, "TO", pending_path_)) {
    case path_error::none:
      break;
    case path_error::bad_path:
      return make(stock::bad_recipient_syntax);
    case path_error::too_long:
      return make(stock::recipient_too_long);  // RFC 5321 4.5.3.1.9
    case path_error::missing_prefix:
    case path_error::bad_parameter:
      return make(stock::syntax_error);
  }
  if (pending_path_.address.empty()) return make(stock::bad_recipient_syntax);
  values_["recipient"] = pending_path_.address;
  if (!env_.esmtp && !pending_path_.params.empty())
    return make(stock::unknown_parameter, "Parameters require EHLO");
  if (reply r = check_params(pending_path_.params, false); r.code != 0) return r;
  // RFC 6531 3.5: a non-ASCII recipient in a transaction whose MAIL had no SMTPUTF8 gets 553.
  if (!is_ascii(pending_path_.address) && !transaction_smtputf8())
    return make(stock::non_ascii_recipient);
  // RFC 5321 4.5.3.1.10: too many recipients is a temporary 452.
  if (env_.recipients.size() >= personality_->limits.max_recipients)
    return make(stock::too_many_recipients);
  return configured("rcpt", stock::recipient_ok);
}

reply server_connection::check_data_command(const command& c) const {
  if (!c.argument.empty()) return make(stock::syntax_error);
  if (state_ == state::fresh) return make(stock::need_helo);
  if (!in_transaction_) return make(stock::need_mail);
  // RFC 3030 2: DATA and BDAT do not mix in one transaction.
  if (bdat_started_) return make(stock::bad_sequence, "DATA not allowed after BDAT");
  // RFC 2920 3.1: DATA after no accepted recipient gets 554 (the client may have
  // pipelined it behind RCPTs that all failed).
  if (env_.recipients.empty()) return make(stock::no_valid_recipients);
  return configured("data", stock::start_data);
}

reply server_connection::check_auth_start(std::string_view argument) {
  const auto& p = *personality_;
  if (!p.advertises("AUTH")) return make(stock::not_implemented, "AUTH not available");
  if (state_ == state::fresh || !env_.esmtp) return make(stock::bad_sequence, "Send EHLO first");
  if (authenticated_) return make(stock::already_authenticated);
  if (in_transaction_) return make(stock::auth_in_transaction);
  if (p.limits.max_auth_failures > 0 && auth_failures_ >= p.limits.max_auth_failures)
    return make(stock::too_many_auth_failures);
  if (p.auth.require_tls && !tls_active_) return make(stock::auth_needs_tls);
  const auto space = argument.find(' ');
  const std::string mechanism = upper(argument.substr(0, space));
  const std::string_view initial =
      space == std::string_view::npos ? std::string_view{} : argument.substr(space + 1);
  if (mechanism.empty()) return make(stock::syntax_error);
  bool offered = false;
  for (const auto& m : p.auth_mechanisms())
    offered = offered || m == mechanism;
  const bool supported = mechanism == "LOGIN" || mechanism == "PLAIN" || mechanism == "XOAUTH2" ||
                         (mechanism == "CRAM-MD5" && opts_.hmac_md5);
  if (!offered || !supported) return make(stock::unknown_mechanism);
  sasl_mechanism_ = mechanism;
  if (mechanism == "CRAM-MD5") {
    // RFC 2195 2: no initial response; the challenge is a unique msg-id-like string.
    if (space != std::string_view::npos) return make(stock::syntax_error);
    cram_challenge_ = "<" + opts_.session_id + "." + std::to_string(auth_failures_ + 1) + "@" +
                      personality_->hostname + ">";
    pending_sasl_ = sasl::cram_md5;
    return challenge(base64_encode(cram_challenge_));
  }
  if (space == std::string_view::npos) {
    pending_sasl_ = mechanism == "LOGIN"   ? sasl::login_user
                    : mechanism == "PLAIN" ? sasl::plain
                                           : sasl::xoauth2;
    return challenge(mechanism == "LOGIN" ? login_user_challenge : "");
  }
  // RFC 4954 4: an initial response; "=" stands for an empty one.
  if (initial == "*") return make(stock::auth_cancelled);
  pending_attempt_ = true;
  auto decoded = initial == "=" ? std::optional<std::string>("") : base64_decode(initial);
  if (!decoded) return make(stock::bad_base64);
  if (mechanism == "PLAIN") return finish_plain(*decoded);
  if (mechanism == "XOAUTH2") return finish_xoauth2(*decoded);
  pending_user_ = *decoded;
  pending_sasl_ = sasl::login_password;
  return challenge(login_password_challenge);
}

reply server_connection::finish_auth(const std::string& user, std::string_view password) {
  pending_user_ = user;
  values_["user"] = user;
  if (personality_->check_credentials(user, password)) return configured("auth", stock::auth_ok);
  return make(stock::auth_failed);
}

reply server_connection::finish_plain(std::string_view decoded) {
  // RFC 4616 2: [authzid] NUL authcid NUL passwd.
  const auto first = decoded.find('\0');
  const auto second = first == std::string_view::npos ? first : decoded.find('\0', first + 1);
  if (second == std::string_view::npos || decoded.find('\0', second + 1) != std::string_view::npos)
    return make(stock::bad_base64, "Invalid PLAIN response");
  return finish_auth(std::string(decoded.substr(first + 1, second - first - 1)),
                     decoded.substr(second + 1));
}

reply server_connection::finish_cram_md5(std::string_view decoded) {
  // RFC 2195 2: "user SP digest", digest = lowercase hex HMAC-MD5(password, challenge).
  const auto space = decoded.rfind(' ');
  if (space == std::string_view::npos || space == 0)
    return make(stock::bad_base64, "Invalid CRAM-MD5 response");
  const std::string user(decoded.substr(0, space));
  const std::string_view digest = decoded.substr(space + 1);
  pending_user_ = user;
  values_["user"] = user;
  const auto& p = *personality_;
  bool ok = p.auth.accept_any;
  for (const auto& u : p.auth.users) {
    if (u.user == user && opts_.hmac_md5(u.password, cram_challenge_) == digest) ok = true;
  }
  return ok ? configured("auth", stock::auth_ok) : make(stock::auth_failed);
}

reply server_connection::finish_xoauth2(std::string_view decoded) {
  // Google's XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A.
  std::string user, token;
  std::string_view rest = decoded;
  while (!rest.empty()) {
    const auto end = rest.find('\x01');
    const std::string_view field = rest.substr(0, end);
    if (field.rfind("user=", 0) == 0) user = std::string(field.substr(5));
    if (field.rfind("auth=Bearer ", 0) == 0) token = std::string(field.substr(12));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  if (user.empty() || token.empty()) return make(stock::bad_base64, "Invalid XOAUTH2 response");
  reply r = finish_auth(user, token);
  if (r.code == 235) return r;
  // The failure is a 334 carrying a JSON error; the client answers with an empty line and
  // only then gets the 535.
  pending_sasl_ = sasl::xoauth2_error;
  return challenge(
      base64_encode(R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})"));
}

event server_connection::on_auth_line(const input_line& line) {
  pending_sasl_ = sasl::none;
  const bool cancel = line.text == "*";
  // Every response but a cancel is judged; an answer that is not a success or a further
  // challenge is a failed attempt (RFC 4954 4), undecodable base64 included.
  pending_attempt_ = !cancel;
  reply r;
  if (line.too_long) {
    r = make(stock::line_too_long);
  } else if (cancel) {
    r = make(stock::auth_cancelled);
  } else if (sasl_ == sasl::xoauth2_error) {
    r = make(stock::auth_failed);
  } else if (auto decoded = base64_decode(line.text); !decoded) {
    r = make(stock::bad_base64);
  } else if (sasl_ == sasl::login_user) {
    pending_user_ = *decoded;
    pending_sasl_ = sasl::login_password;
    r = challenge(login_password_challenge);
  } else if (sasl_ == sasl::login_password) {
    r = finish_auth(sasl_user_, *decoded);
  } else if (sasl_ == sasl::cram_md5) {
    r = finish_cram_md5(*decoded);
  } else if (sasl_ == sasl::xoauth2) {
    r = finish_xoauth2(*decoded);
  } else {
    r = finish_plain(*decoded);
  }
  if (sasl_ == sasl::login_password && pending_user_.empty()) pending_user_ = sasl_user_;
  r = within_error_budget(std::move(r));
  pending_ = pending::auth_line;
  pending_verb_ = verb::auth;
  return make_event(event_kind::auth_response, verb::auth,
                    cancel ? std::string("*") : std::string(masked), std::move(r));
}

void server_connection::reset_transaction() {
  in_transaction_ = false;
  env_.mail_from.clear();
  env_.mail_params.clear();
  env_.recipients.clear();
  data_.reset();
  bdat_message_.clear();
  bdat_size_ = 0;
  bdat_started_ = false;
  values_.erase("sender");
  values_.erase("recipient");
}

void server_connection::respond(const reply& r) {
  if (pending_ == pending::none)
    throw std::logic_error("server_connection: respond() without an event to answer");
  output_ += serialise(r, enhanced_);
  ++unflushed_;
  const pending answered = pending_;
  if (answered == pending::command) {
    last_answered_ = pending_verb_;
    last_ends_group_ = true;
    for (const auto& row : command_table)
      if (row.id == pending_verb_) last_ends_group_ = row.ends_pipeline_group;
  }
  pending_ = pending::none;
  if (counts_as_error(r.code)) ++errors_;

  switch (answered) {
    case pending::connect:
      enter_state(r.code == 220 ? state::fresh : state::closed);
      break;
    case pending::interrupt:
      enter_state(state::closed);
      break;
    case pending::message:
      // RFC 5321 4.1.1.4: whatever the final reply, the transaction is over.
      reset_transaction();
      enter_state(state::greeted);
      break;
    case pending::auth_line:
    case pending::command:
      if (pending_verb_ == verb::auth) {
        if (r.code == 334 && pending_sasl_ != sasl::none) {
          if (pending_sasl_ == sasl::login_password) sasl_user_ = pending_user_;
          sasl_ = pending_sasl_;
          enter_state(state::auth);
        } else {
          if (r.code == 235) {
            authenticated_ = true;
            env_.auth_user = pending_user_;
          } else if (r.code == 535 || (pending_attempt_ && r.klass() == 5)) {
            ++auth_failures_;
          }
          sasl_ = sasl::none;
          sasl_user_.clear();
          enter_state(state::greeted);
        }
        pending_user_.clear();
        break;
      }
      // A refused MAIL leaves no sender behind for {sender} in later replies.
      if (pending_verb_ == verb::mail && !r.positive() && !in_transaction_) values_.erase("sender");
      // RFC 3030 2: a refused BDAT chunk ends the transaction; its message is discarded.
      if (pending_verb_ == verb::bdat && !r.positive()) reset_transaction();
      if (!r.positive()) break;
      switch (pending_verb_) {
        case verb::helo:
        case verb::ehlo:
          // RFC 5321 4.1.4: EHLO/HELO resets any transaction, like RSET.
          reset_transaction();
          env_.helo = pending_helo_;
          env_.esmtp = pending_esmtp_;
          enter_state(state::greeted);
          break;
        case verb::mail:
          ++transactions_;
          in_transaction_ = true;
          env_.mail_from = pending_path_.address;
          for (const auto& p : pending_path_.params)
            env_.mail_params.push_back(p.text());
          break;
        case verb::rcpt:
          if (in_transaction_) {
            recipient rc{pending_path_.address, {}};
            for (const auto& p : pending_path_.params)
              rc.params.push_back(p.text());
            env_.recipients.push_back(std::move(rc));
          }
          break;
        case verb::data:
          // A 354 starts data even when a rule sent it with no recipient accepted; the
          // end of data then gets 554 (RFC 5321 3.3).
          if (r.code == 354) {
            data_ = std::make_unique<data_decoder>(personality_->message_size_limit(),
                                                   personality_->quirks.bare_lf);
            enter_state(state::data);
          }
          break;
        case verb::rset:
          reset_transaction();
          break;
        case verb::bdat:
          bdat_started_ = true;
          break;
        case verb::starttls:
          if (r.code == 220) {
            // quirks.starttls_inject: an extra reply in the same segment as the 220, to test
            // that the client discards it (the NO STARTTLS response-injection test).
            if (const auto& inject = personality_->quirks.starttls_inject) {
              const reply extra = reply::parse(*inject);
              if (extra.code != 0) output_ += serialise(extra, false);
            }
            // RFC 3207 / CVE-2011-0411: plaintext already buffered after STARTTLS is
            // discarded, never executed inside TLS.
            input_.clear();
            pos_ = 0;
            enter_state(state::tls_handshake);
          }
          break;
        default:
          break;
      }
      break;
    case pending::none:
      break;
  }
  // RFC 5321 3.8 / 4.2.2: 221 and 421 end the session.
  if (r.code == 221 || r.code == 421) enter_state(state::closed);
}

bool server_connection::holds_replies(std::size_t unsent) const {
  return personality_->quirks.pipelining == pipelining_mode::hold_until_data && !closing() &&
         unsent < max_held_output &&
         (last_answered_ == verb::mail || last_answered_ == verb::rcpt);
}

bool server_connection::listens_before_banner(const reply& chosen) const {
  return pending_ == pending::connect && chosen.code == 220 &&
         personality_->quirks.early_talker == early_talker_mode::reject;
}

reply server_connection::banner_verdict(const reply& chosen, bool client_spoke) const {
  if (client_spoke && listens_before_banner(chosen)) return make(stock::early_talker);
  return chosen;
}

bool server_connection::keeps_message(const reply& r) const {
  return pending_ == pending::message && r.klass() == 2;
}

reply server_connection::render(const std::vector<std::string>& lines) const {
  std::vector<std::string> expanded;
  expanded.reserve(lines.size());
  for (const auto& line : lines)
    expanded.push_back(expand(line));
  return reply::parse_lines(expanded);
}

void server_connection::tls_started(std::string version, std::string cipher) {
  // RFC 3207 4.2: the server discards knowledge obtained from the client before TLS.
  input_.clear();
  pos_ = 0;
  lines_ = line_reader{};
  reset_transaction();
  authenticated_ = false;
  sasl_ = sasl::none;
  env_.auth_user.clear();
  env_.helo.clear();
  env_.esmtp = false;
  values_.erase("helo");
  values_.erase("user");
  tls_active_ = true;
  env_.tls_version = std::move(version);
  env_.tls_cipher = std::move(cipher);
  enter_state(state::fresh);
}

void server_connection::abandon() {
  pending_ = pending::none;
  enter_state(state::closed);
}

std::string server_connection::take_output() {
  std::string out;
  out.swap(output_);
  return out;
}

}  // namespace smtpmock::smtp
