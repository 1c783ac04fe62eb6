// The SMTP receiving-side state machine. Check, then proceed: the checks are const and return
// a verdict (the reply they propose and what it would change); the event is made with it in
// one place (ask()); respond() applies the change as far as the reply actually sent allows,
// and is, with the driver's entry points (receive_eof, tls_started, abandon), the only place
// the state changes, through enter_state(). The AUTH exchange is in server_auth.cpp.
#include "smtp/server_connection.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <utility>

#include "smtp/limits.hpp"

namespace smtpmock::smtp {
namespace {

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
  session_.client_address = opts_.client_address;
  tls_active_ = opts_.tls;
  if (tls_active_) {
    session_.tls_version = opts_.tls_version;
    session_.tls_cipher = opts_.tls_cipher;
  }
  values_["hostname"] = personality_->hostname;
  values_["client_ip"] = opts_.client_ip;
  values_["session_id"] = opts_.session_id;
  reset_transaction();
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
  if (!eof_ && !quit_seen_ && state_ != state::closed)
    note("no-quit", "the client closed without QUIT");
  eof_ = true;
}

void server_connection::note(std::string_view code, std::string text) {
  // Bounded: a client that repeats a mistake a million times gets the first findings only.
  constexpr std::size_t max_findings = 100;
  const finding_kind* kind = find_finding_kind(code);
  if (kind == nullptr || findings_.size() >= max_findings) return;
  findings_.push_back(finding{kind, std::move(text), tx_.open ? transactions_ : 0});
}

namespace {

/// The extension whose advertisement allows a MAIL or RCPT parameter (RFC 5321 2.2.1: a
/// parameter is sent only to a server that advertised its extension).
std::string_view extension_of(const parameter& p) {
  const std::string& k = p.keyword;
  if (k == "BODY") return iequals(p.value, "BINARYMIME") ? "BINARYMIME" : "8BITMIME";
  if (k == "RET" || k == "ENVID" || k == "NOTIFY" || k == "ORCPT") return "DSN";  // RFC 3461
  if (k == "HOLDFOR" || k == "HOLDUNTIL") return "FUTURERELEASE";                 // RFC 4865
  if (k == "BY") return "DELIVERBY";                                              // RFC 2852
  return k;  // SIZE, SMTPUTF8, AUTH, REQUIRETLS, MT-PRIORITY, RRVS and unknown ones
}

/// Whether `params` (as "KEYWORD=value" texts) hold `keyword` with a value in `values`.
const std::string* find_param(const std::vector<std::string>& params, std::string_view keyword) {
  for (const auto& p : params) {
    if (p.size() > keyword.size() && p[keyword.size()] == '=' &&
        iequals(std::string_view(p).substr(0, keyword.size()), keyword))
      return &p;
    if (iequals(p, keyword)) return &p;
  }
  return nullptr;
}

}  // namespace

void server_connection::judge(const command& c, const input_line& line) {
  const personality& p = *personality_;
  if (c.id == verb::mail) mail_findings_from_ = findings_.size();
  if (line.too_long || (c.id != verb::auth && line.text.size() + 2 > limits::command_line)) {
    note("line-too-long",
         "a command line of more than " + std::to_string(limits::command_line) + " octets");
  }
  if (line.bare_lf) note("bare-lf", "a command line ended with LF alone");
  if (line.bare_cr) note("bare-cr", "a command line held a CR without LF");
  if (unflushed_ > 0 && c.id != verb::unknown) {
    const std::string name = upper(c.word);
    if (!p.advertises("PIPELINING")) {
      note("pipelining-unadvertised",
           name + " was sent before the previous reply, without PIPELINING advertised");
    } else if (last_ends_group_ && last_was_command_) {
      note("pipelining-group", name + " was sent before the reply to " +
                                   upper(verb_name(last_answered_)) +
                                   ", which ends a pipeline group");
    }
  }
  switch (c.id) {
    case verb::helo:
    case verb::ehlo:
      if (!c.argument.empty() && !is_domain_or_address_literal(c.argument))
        note("helo-not-fqdn", upper(c.word) + " " + c.argument +
                                  ": not a fully qualified domain name or an address literal");
      break;
    case verb::mail:
      if (!greeted_) {
        if (tls_restarted_) {
          note("no-ehlo-after-tls", "MAIL after STARTTLS without a new EHLO");
        } else {
          note("no-helo", "MAIL before HELO or EHLO");
        }
      }
      judge_path(c);
      break;
    case verb::rcpt:
      if (!tx_.open) {
        note("rcpt-before-mail", "RCPT without an accepted MAIL");
      } else {
        ++tx_.rcpt_commands;
      }
      judge_path(c);
      break;
    case verb::data:
    case verb::bdat:
      if (tx_.rcpt_commands == 0) {
        note("data-before-rcpt", upper(c.word) + " without any RCPT");
      } else if (tx_.env.recipients.empty() && unflushed_ == 0 && !tx_.bdat_started) {
        // The client had read every RCPT's refusal (nothing was pipelined behind them).
        note("data-after-all-rcpt-rejected", upper(c.word) + " after all " +
                                                 std::to_string(tx_.rcpt_commands) +
                                                 " RCPT were refused");
      }
      if (c.id == verb::bdat && !p.advertises("CHUNKING"))
        note("bdat-unadvertised", "BDAT without CHUNKING advertised");
      break;
    case verb::auth: {
      if (!greeted_ && tls_restarted_)
        note("no-ehlo-after-tls", "AUTH after STARTTLS without a new EHLO");
      const std::string mechanism = upper(c.argument.substr(0, c.argument.find(' ')));
      bool offered = false;
      for (const auto& m : p.auth_mechanisms())
        offered = offered || m == mechanism;
      if (!mechanism.empty() && !offered && p.advertises("AUTH"))
        note("auth-mechanism-unadvertised", "AUTH " + mechanism + " was not advertised");
      if ((mechanism == "PLAIN" || mechanism == "LOGIN") && !tls_active_ &&
          p.advertises("STARTTLS") && opts_.tls_available)
        note("auth-before-tls", "AUTH " + mechanism + " in plaintext; STARTTLS was offered");
      break;
    }
    case verb::quit:
      quit_seen_ = true;
      break;
    default:
      break;
  }
}

void server_connection::judge_path(const command& c) {
  path_argument path;
  if (parse_path(c.argument, c.id == verb::mail ? "FROM" : "TO", path) != path_error::none) return;
  const std::string name = upper(c.word);
  for (const auto& param : path.params) {
    const std::string_view ext = extension_of(param);
    if (!session_.esmtp || !personality_->advertises(ext))
      note("param-unadvertised", name + " parameter " + param.keyword + " needs " +
                                     std::string(ext) + ", which was not advertised");
  }
  if (is_ascii(path.address)) return;
  const auto smtputf8 = [](const parameter& q) { return q.keyword == "SMTPUTF8"; };
  const bool declared = c.id == verb::mail
                            ? std::any_of(path.params.begin(), path.params.end(), smtputf8)
                            : tx_.smtputf8;
  if (!declared)
    note("smtputf8-undeclared", name + " " + path.address + ": a non-ASCII address without " +
                                    (c.id == verb::mail ? "SMTPUTF8" : "SMTPUTF8 on MAIL"));
}

void server_connection::judge_message(std::string_view data, std::size_t size,
                                      const data_decoder* decoder) {
  if (decoder != nullptr) {
    if (const std::size_t n = decoder->unstuffed_dot_line())
      note("dot-not-stuffed",
           "message line " + std::to_string(n) + " began with a single \".\" and text");
    if (decoder->bare_lf()) note("bare-lf", "a message line ended with LF alone");
    if (decoder->bare_cr()) note("bare-cr", "a message line held a CR without LF");
    if (decoder->line_too_long())
      note("line-too-long",
           "a message line of more than " + std::to_string(limits::text_line) + " octets");
  }
  const auto& params = tx_.env.mail_params;
  const std::string* body = find_param(params, "BODY");
  const bool eight_bit_declared =
      tx_.smtputf8 ||
      (body != nullptr && (iequals(*body, "BODY=8BITMIME") || iequals(*body, "BODY=BINARYMIME")));
  if (!eight_bit_declared &&
      std::any_of(data.begin(), data.end(), [](char ch) { return (ch & 0x80) != 0; }))
    note("8bit-undeclared", "8-bit octets in the message without BODY=8BITMIME on MAIL");
  if (const std::string* declared = find_param(params, "SIZE")) {
    std::size_t n = 0;
    if (declared->size() > 5 && parse_size(std::string_view(*declared).substr(5), n) && size > n)
      note("size-understated",
           "the message had " + std::to_string(size) + " octets; MAIL declared " + *declared);
  }
}

void server_connection::interrupt(reply r) {
  interrupt_ = std::move(r);
}

void server_connection::enter_state(state s) {
  state_ = s;
  if (s != state::data) data_.reset();  // the DATA decoder lives exactly as long as data
  if (s == state::closed) {
    input_.clear();
    pos_ = 0;
    chunk_.reset();
  }
}

void server_connection::reset_transaction() {
  tx_ = transaction{};
  tx_.env = session_;  // a transaction's envelope starts with the session's facts
  values_.erase("sender");
  values_.erase("recipient");
}

std::string server_connection::expand(std::string_view text, const template_value* v) const {
  if (v == nullptr || text.find('{') == std::string_view::npos)
    return expand_template(text, values_);
  // The values as they are once the event being made has set `v`.
  template_values values = values_;
  values[v->name] = v->value;
  return expand_template(text, values);
}

reply server_connection::configured(std::string_view key, stock fallback,
                                    const template_value* v) const {
  const auto it = personality_->replies.find(std::string(key));
  if (it != personality_->replies.end()) {
    reply r = reply::parse(expand(it->second, v));
    if (r.code != 0) return r;
  }
  reply r = make(fallback);
  for (auto& line : r.lines)
    line = expand(line, v);
  return r;
}

void server_connection::set_value(std::optional<template_value> v) {
  if (v) values_[v->name] = std::move(v->value);
}

event server_connection::ask(answering to, event_kind k, verb v, std::string line, reply proposed,
                             change apply) {
  pending_ = {to, v, std::move(apply)};
  return make_event(k, v, std::move(line), std::move(proposed));
}

event server_connection::make_event(event_kind k, verb v, std::string line, reply proposed) const {
  event ev;
  ev.kind = k;
  ev.command = v;
  ev.line = std::move(line);
  ev.proposed = std::move(proposed);
  // A rule on MAIL matches the sender being decided; it enters the envelope only once the
  // reply actually sent is a 2xx (respond()).
  ev.sender =
      k == event_kind::command && v == verb::mail ? pending_.apply.path.address : tx_.env.mail_from;
  if (const std::string* recipient = values_.find("recipient")) ev.recipient = *recipient;
  if (const std::string* argument = values_.find("argument")) ev.argument = *argument;
  ev.user = pending_.apply.user.empty() ? session_.auth_user : pending_.apply.user;
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

std::vector<std::string> server_connection::ehlo_lines(const template_value* v) const {
  std::vector<std::string> lines{expand(personality_->ehlo_greeting, v)};
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
    // receive_eof() takes effect once the input before it is used up: the client left; a
    // message still in transfer is lost, never stored.
    enter_state(state::closed);
    return make_event(event_kind::closed, verb::unknown, {}, {});
  }
  // The driver flushes every reply before it reads, but those the hold_until_data quirk holds.
  if (!holds_replies(0)) unflushed_ = 0;
  return make_event(event_kind::need_data, verb::unknown, {}, {});
}

event server_connection::next_event() {
  if (pending_.to != answering::none)
    throw std::logic_error("server_connection: respond() was not called for the last event");
  if (state_ == state::closed) return make_event(event_kind::closed, verb::unknown, {}, {});
  if (interrupt_) {
    reply r = std::move(*interrupt_);
    interrupt_.reset();
    return ask(answering::interrupt, event_kind::interrupted, verb::unknown, {}, std::move(r), {});
  }
  if (state_ == state::tls_handshake)
    return make_event(event_kind::start_tls, verb::starttls, {}, {});
  if (state_ == state::connect) {
    reply banner{220, "", {expand(personality_->banner)}};
    return ask(answering::connect, event_kind::connect, verb::unknown, {}, std::move(banner), {});
  }
  if (state_ == state::data) {
    if (!data_->feed(input_, pos_)) return wait_for_input();
    judge_message(data_->message(), data_->size(), data_.get());
    // Limits latched during the transfer are answered now (RFC 5321 4.5.3.1.10, 4.2.5).
    reply r;
    if (data_->too_big()) {
      r = make(stock::size_exceeded);
    } else if (data_->line_too_long()) {
      r = make(stock::message_line_too_long);
    } else if (data_->bare_line_end() && personality_->quirks.bare_lf == bare_lf_mode::reject) {
      r = make(stock::bare_line_end_in_data);
    } else if (tx_.env.recipients.empty()) {
      r = make(stock::no_valid_recipients);
    } else {
      r = {};  // the default success reply, made once the message id is known
    }
    const std::size_t size = data_->size();
    return message_event(data_->take_message(), size, std::move(r), verb::data,
                         "<message " + std::to_string(size) + " octets>");
  }
  if (chunk_) return on_bdat_chunk();

  // RFC 4954 4: an AUTH line (with its initial response) may be 12288 octets, so lines are
  // read up to that; any other command over 512 octets is refused once its verb is known.
  auto line = lines_.next(input_, pos_, limits::auth_line);
  if (!line) return wait_for_input();
  return state_ == state::auth ? on_auth_line(*line) : on_command(*line);
}

event server_connection::message_event(std::string data, std::size_t size, reply r, verb by,
                                       std::string line) {
  message_ = std::make_unique<captured_message>();
  message_->id = opts_.new_message_id ? opts_.new_message_id() : std::to_string(errors_);
  message_->env = tx_.env;
  message_->data = std::move(data);
  values_["queue_id"] = message_->id;
  values_["size"] = std::to_string(size);
  if (r.code == 0) r = configured("message", stock::queued);
  event ev = ask(answering::message, event_kind::message, by, std::move(line), std::move(r), {});
  ev.message = message_.get();
  return ev;
}

std::optional<server_connection::chunk> server_connection::check_bdat(const command& c) const {
  // RFC 3030 2: "BDAT" SP chunk-size [ SP "LAST" ].
  if (!personality_->advertises("CHUNKING")) return std::nullopt;
  std::string_view arg = c.argument;
  const auto space = arg.find(' ');
  const std::string_view digits = arg.substr(0, space);
  const std::string_view rest = space == std::string_view::npos ? "" : arg.substr(space + 1);
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  if (!rest.empty() && !iequals(rest, "LAST")) return std::nullopt;
  chunk ck;
  ck.remaining = std::stoull(std::string(digits));
  ck.last = !rest.empty();
  // The chunk is always read, even when the command is refused (RFC 3030 2).
  if (personality_->tls.required && !tls_active_)
    ck.refusal = make(stock::tls_required);
  else if (state_ == state::fresh)
    ck.refusal = make(stock::need_helo);
  else if (!tx_.open)
    ck.refusal = make(stock::need_mail);
  else if (tx_.env.recipients.empty())
    ck.refusal = make(stock::no_valid_recipients);
  return ck;
}

event server_connection::on_bdat_chunk() {
  chunk& ck = *chunk_;
  const std::size_t take = std::min(ck.remaining, input_.size() - pos_);
  if (!ck.refusal) {
    const std::size_t limit = personality_->message_size_limit();
    const std::size_t held = tx_.bdat_message.size() + ck.data.size();
    const std::size_t room = held < limit ? limit - held : 0;
    ck.data.append(input_, pos_, std::min(take, room));
    ck.size += take;
  }
  pos_ += take;
  ck.remaining -= take;
  if (ck.remaining > 0) return wait_for_input();
  chunk done = std::move(ck);
  chunk_.reset();
  const std::size_t total = tx_.bdat_size + done.size;
  // The event shows the BDAT command itself ("BDAT 7 LAST"), so the transcript has it.
  if (done.refusal || !done.last) {
    reply r = done.refusal ? std::move(*done.refusal)
                           : reply{250, "2.0.0", {std::to_string(total) + " octets received"}};
    change apply;
    apply.chunk = std::move(done.data);
    apply.chunk_size = done.size;
    return ask(answering::command, event_kind::command, verb::bdat, std::move(done.line),
               std::move(r), std::move(apply));
  }
  reply r;
  if (total > personality_->message_size_limit()) r = make(stock::size_exceeded);
  std::string data = tx_.bdat_message.empty() ? std::move(done.data) : tx_.bdat_message + done.data;
  judge_message(data, total, nullptr);
  return message_event(std::move(data), total, std::move(r), verb::bdat, std::move(done.line));
}

event server_connection::on_command(const input_line& line) {
  command c = parse_command(line.text);
  judge(c, line);
  values_["argument"] = c.argument;
  values_.erase("recipient");
  std::string shown = line.text;
  if (c.id == verb::auth) {
    // Keep the mechanism, mask any initial response: secrets never reach a transcript.
    const auto space = c.argument.find(' ');
    if (space != std::string::npos) {
      shown = c.word + " " + c.argument.substr(0, space) + " " + std::string(masked_secret);
      values_["argument"] = c.argument.substr(0, space);
    }
  }
  verdict v;
  const bool too_long =
      line.too_long || (c.id != verb::auth && line.text.size() + 2 > limits::command_line);
  if (too_long) {
    v.proposed = make(stock::line_too_long);
    c.id = verb::unknown;
    shown = shown.substr(0, limits::command_line);
  } else if ((line.bare_lf || line.bare_cr) &&
             personality_->quirks.bare_lf == bare_lf_mode::reject) {
    v.proposed = make(stock::bare_line_end);
  } else if (has_control_character(line.text)) {
    // RFC 5321 4.1.1: a command is words separated by SP; 4.1.2's grammar has no control
    // character anywhere (2.4: commands are ASCII text). The line cannot be interpreted, like
    // one with a bare CR or LF: 500 5.5.2 (RFC 3463 3.6: "could not be interpreted"). Its
    // verb is not trusted either, so no reply a rule gives can act on it as a command.
    v.proposed = make(stock::control_character);
    c.id = verb::unknown;
  } else if (personality_->quirks.pipelining == pipelining_mode::reject && unflushed_ > 0 &&
             (last_ends_group_ || !personality_->advertises("PIPELINING"))) {
    // RFC 2920 3.1: without PIPELINING, or after a command that ends a group, the client
    // must wait for the reply; this quirk rejects one that did not (like Postfix's
    // reject_unauth_pipelining).
    v.proposed = make(stock::improper_pipelining);
  } else if (std::optional<chunk> ck = c.id == verb::bdat ? check_bdat(c) : std::nullopt) {
    ck->line = std::move(shown);
    chunk_ = std::make_unique<chunk>(std::move(*ck));
    return next_event();  // the reply comes once the chunk has been read
  } else {
    v = propose_command(c);
  }
  if (c.id == verb::helo || c.id == verb::ehlo) {
    // What a 2xx sets, whichever check refused the command (a rule may accept it anyway).
    v.apply.helo = c.argument;
    v.apply.esmtp = c.id == verb::ehlo;
  }
  set_value(std::move(v.sets));
  return ask(answering::command, event_kind::command, c.id, std::move(shown),
             within_error_budget(std::move(v.proposed)), std::move(v.apply));
}

server_connection::verdict server_connection::propose_command(const command& c) const {
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
      return check_starttls(c);
    case verb::bdat:
      // check_bdat() took every well-formed BDAT when CHUNKING is advertised.
      if (personality_->advertises("CHUNKING")) return make(stock::syntax_error);
      return make(stock::not_implemented);
    case verb::expn:
      return make(stock::not_implemented);
    case verb::unknown:
      break;
  }
  return make(stock::unrecognised);
}

server_connection::verdict server_connection::check_helo(const command& c, bool esmtp) const {
  if (c.argument.empty())
    return make(stock::syntax_error, esmtp ? "EHLO requires a domain" : "HELO requires a domain");
  verdict v;
  const template_value& helo = v.sets.emplace(template_value{"helo", c.argument});
  if (esmtp) {
    v.proposed = reply{250, "", ehlo_lines(&helo)};
    return v;
  }
  const auto it = personality_->replies.find("helo");
  if (it != personality_->replies.end()) {
    v.proposed = reply::parse(expand(it->second, &helo));
    if (v.proposed.code != 0) return v;
  }
  v.proposed = reply{250, "", {expand("{hostname}", &helo)}};
  return v;
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

server_connection::verdict server_connection::check_mail_command(const command& c) const {
  if (state_ == state::fresh) return make(stock::need_helo);
  if (tx_.open) return make(stock::bad_sequence, "Sender already specified");
  if (personality_->auth.required && !authenticated_) return make(stock::auth_required);
  verdict v;
  const auto refuse = [&v](reply r) {
    v.proposed = std::move(r);
    return std::move(v);
  };
  path_argument& path = v.apply.path;  // kept even when refused: the event shows the sender
  switch (parse_path(c.argument, "FROM", path)) {
    case path_error::none:
      break;
    case path_error::bad_path:
      return refuse(make(stock::bad_sender_syntax));
    case path_error::too_long:
      // RFC 5321 4.5.3.1.9: "501 Path too long".
      return refuse(make(stock::sender_too_long));
    case path_error::missing_prefix:
    case path_error::bad_parameter:
      return refuse(make(stock::syntax_error));
  }
  const template_value& sender = v.sets.emplace(template_value{"sender", path.address});
  // RFC 5321 4.1.1.2 / 1869: parameters only after EHLO.
  if (!session_.esmtp && !path.params.empty())
    return refuse(make(stock::unknown_parameter, "Parameters require EHLO"));
  if (reply r = check_params(path.params, true); r.code != 0) return refuse(std::move(r));
  // RFC 6531 3.4: a non-ASCII address needs SMTPUTF8 on MAIL (check_params refused the
  // parameter when it is not advertised); 3.5: MAIL gets 550 5.6.7.
  const auto smtputf8 = [](const parameter& q) { return q.keyword == "SMTPUTF8"; };
  if (!is_ascii(path.address) && std::none_of(path.params.begin(), path.params.end(), smtputf8))
    return refuse(make(stock::non_ascii_sender));
  return refuse(configured("mail", stock::sender_ok, &sender));
}

server_connection::verdict server_connection::check_rcpt_command(const command& c) const {
  if (state_ == state::fresh) return make(stock::need_helo);
  if (!tx_.open) return make(stock::need_mail);
  verdict v;
  const auto refuse = [&v](reply r) {
    v.proposed = std::move(r);
    return std::move(v);
  };
  path_argument& path = v.apply.path;
  switch (parse_path(c.argument, "TO", path)) {
    case path_error::none:
      break;
    case path_error::bad_path:
      return refuse(make(stock::bad_recipient_syntax));
    case path_error::too_long:
      return refuse(make(stock::recipient_too_long));  // RFC 5321 4.5.3.1.9
    case path_error::missing_prefix:
    case path_error::bad_parameter:
      return refuse(make(stock::syntax_error));
  }
  if (path.address.empty()) return refuse(make(stock::bad_recipient_syntax));
  const template_value& recipient = v.sets.emplace(template_value{"recipient", path.address});
  if (!session_.esmtp && !path.params.empty())
    return refuse(make(stock::unknown_parameter, "Parameters require EHLO"));
  if (reply r = check_params(path.params, false); r.code != 0) return refuse(std::move(r));
  // RFC 6531 3.5: a non-ASCII recipient in a transaction whose MAIL had no SMTPUTF8 gets 553.
  if (!is_ascii(path.address) && !tx_.smtputf8) return refuse(make(stock::non_ascii_recipient));
  // RFC 5321 4.5.3.1.10: too many recipients is a temporary 452.
  if (tx_.env.recipients.size() >= personality_->limits.max_recipients)
    return refuse(make(stock::too_many_recipients));
  return refuse(configured("rcpt", stock::recipient_ok, &recipient));
}

reply server_connection::check_data_command(const command& c) const {
  if (!c.argument.empty()) return make(stock::syntax_error);
  if (state_ == state::fresh) return make(stock::need_helo);
  if (!tx_.open) return make(stock::need_mail);
  // RFC 3030 2: DATA and BDAT do not mix in one transaction.
  if (tx_.bdat_started) return make(stock::bad_sequence, "DATA not allowed after BDAT");
  // RFC 2920 3.1: DATA after no accepted recipient gets 554 (the client may have
  // pipelined it behind RCPTs that all failed).
  if (tx_.env.recipients.empty()) return make(stock::no_valid_recipients);
  return configured("data", stock::start_data);
}

reply server_connection::check_starttls(const command& c) const {
  if (!personality_->advertises("STARTTLS")) return make(stock::not_implemented);
  if (tls_active_) return make(stock::tls_already_active);
  if (!c.argument.empty()) return make(stock::syntax_error);  // RFC 3207 4: no parameters
  if (!opts_.tls_available) return make(stock::tls_not_available);
  return make(stock::tls_ready);
}

void server_connection::respond(const reply& r) {
  if (pending_.to == answering::none)
    throw std::logic_error("server_connection: respond() without an event to answer");
  output_ += serialise(r, enhanced_);
  ++unflushed_;
  const pending answered = std::exchange(pending_, pending{});
  last_was_command_ = answered.to == answering::command;
  if (answered.to == answering::command) {
    last_answered_ = answered.command;
    last_ends_group_ = true;
    for (const auto& row : command_table)
      if (row.id == answered.command) last_ends_group_ = row.ends_pipeline_group;
  }
  if (counts_as_error(r.code)) ++errors_;

  switch (answered.to) {
    case answering::connect:
      enter_state(r.code == 220 ? state::fresh : state::closed);
      break;
    case answering::interrupt:
      enter_state(state::closed);
      break;
    case answering::message:
      // RFC 5321 4.1.1.4: whatever the final reply, the transaction is over; the message was
      // kept by the driver or refused, and is not held here any longer.
      message_.reset();
      reset_transaction();
      enter_state(between_commands());
      break;
    case answering::auth_line:
    case answering::command:
      if (answered.command == verb::auth)
        apply_auth(answered.apply, r);
      else
        apply_command(answered, r);
      break;
    case answering::none:
      break;
  }
  // RFC 5321 3.8 / 4.2.2: 221 and 421 end the session.
  if (r.code == 221 || r.code == 421) enter_state(state::closed);
}

void server_connection::apply_command(const pending& answered, const reply& r) {
  const change& c = answered.apply;
  const verb v = answered.command;
  // The reply to a chunk read returns to reading commands, greeted or not yet.
  if (v == verb::bdat && c.chunk) enter_state(between_commands());
  // A refused MAIL leaves no sender behind for {sender} in later replies.
  if (v == verb::mail && !r.positive() && !tx_.open) values_.erase("sender");
  // RFC 3030 2: a refused BDAT chunk ends the transaction; its message is discarded.
  if (v == verb::bdat && !r.positive()) reset_transaction();
  if (!r.positive()) return;
  switch (v) {
    case verb::helo:
    case verb::ehlo:
      // RFC 5321 4.1.4: EHLO/HELO resets any transaction, like RSET.
      session_.helo = c.helo;
      session_.esmtp = c.esmtp;
      greeted_ = true;
      reset_transaction();
      enter_state(state::greeted);
      break;
    case verb::mail:
      // A rule may accept a MAIL the core refused inside a transaction: the path is then
      // empty and the parameters already there stay.
      ++transactions_;
      tx_.open = true;
      for (std::size_t i = mail_findings_from_; i < findings_.size(); ++i)
        findings_[i].transaction = transactions_;
      tx_.env.mail_from = c.path.address;
      for (const auto& p : c.path.params) {
        tx_.env.mail_params.push_back(p.text());
        if (p.keyword == "SMTPUTF8" && !p.has_value) tx_.smtputf8 = true;
      }
      break;
    case verb::rcpt:
      if (tx_.open) {
        recipient rc{c.path.address, {}};
        for (const auto& p : c.path.params)
          rc.params.push_back(p.text());
        tx_.env.recipients.push_back(std::move(rc));
      }
      break;
    case verb::data:
      // A 354 starts data even when a rule sent it with no recipient accepted; the
      // end of data then gets 554 (RFC 5321 3.3).
      if (r.code == 354) {
        data_ = std::make_unique<data_decoder>(personality_->message_size_limit(),
                                               personality_->quirks.bare_lf);
        enter_state(state::data);
        // Read before the 354 was even decided, so before the client could have seen it.
        if (pos_ < input_.size())
          note("data-before-354", "message content arrived before the 354 reply to DATA");
      }
      break;
    case verb::rset:
      reset_transaction();
      break;
    case verb::bdat:
      tx_.bdat_started = true;
      if (c.chunk) tx_.bdat_message += *c.chunk;
      tx_.bdat_size += c.chunk_size;
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
}

bool server_connection::holds_replies(std::size_t unsent) const {
  return personality_->quirks.pipelining == pipelining_mode::hold_until_data && !closing() &&
         unsent < max_held_output && (last_answered_ == verb::mail || last_answered_ == verb::rcpt);
}

bool server_connection::listens_before_banner(const reply& chosen) const {
  return pending_.to == answering::connect && chosen.code == 220 &&
         personality_->quirks.early_talker == early_talker_mode::reject;
}

reply server_connection::banner_verdict(const reply& chosen, bool client_spoke) const {
  if (client_spoke && listens_before_banner(chosen)) return make(stock::early_talker);
  return chosen;
}

bool server_connection::keeps_message(const reply& r) const {
  return pending_.to == answering::message && r.klass() == 2;
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
  authenticated_ = false;
  sasl_ = sasl::none;
  session_.auth_user.clear();
  session_.helo.clear();
  session_.esmtp = false;
  greeted_ = false;
  session_.tls_version = std::move(version);
  session_.tls_cipher = std::move(cipher);
  reset_transaction();
  values_.erase("helo");
  values_.erase("user");
  tls_active_ = true;
  tls_restarted_ = true;
  unflushed_ = 0;  // the 220 to STARTTLS was flushed before the handshake
  enter_state(state::fresh);
}

void server_connection::abandon() {
  pending_ = {};
  enter_state(state::closed);
}

std::string server_connection::take_output() {
  std::string out;
  out.swap(output_);
  return out;
}

}  // namespace smtpmock::smtp
