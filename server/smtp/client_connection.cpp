// The SMTP sending-side state machine. Every command goes through send(), every reply through
// on_reply() (matched to the oldest unanswered command: RFC 2920 3.1 says replies come in the
// order of the commands), every phase change through enter_phase(); the first failure decides
// the result and later ones only add to the transcript.
#include "smtp/client_connection.hpp"

#include <algorithm>
#include <array>

#include "smtp/base64.hpp"
#include "smtp/command.hpp"

namespace smtpmock::smtp {
namespace {

// NOTE(compat): RFC 5321 4.5.3.1.5 limits a reply line to 512 octets, but real servers (long
// EHLO keywords, verbose rejections) exceed it; the client accepts up to this before it calls
// the reply malformed, which still bounds memory.
constexpr std::size_t max_reply_line = 4096;
/// More lines than this in one reply is a broken or hostile server.
constexpr std::size_t max_reply_lines = 1000;

struct stage_row {
  client_stage stage;
  std::string_view name;
};

constexpr std::array stage_table{
    stage_row{client_stage::connect, "connect"}, stage_row{client_stage::banner, "banner"},
    stage_row{client_stage::ehlo, "ehlo"},       stage_row{client_stage::helo, "helo"},
    stage_row{client_stage::starttls, "tls"},    stage_row{client_stage::auth, "auth"},
    stage_row{client_stage::mail, "mail"},       stage_row{client_stage::rcpt, "rcpt"},
    stage_row{client_stage::data, "data"},       stage_row{client_stage::message, "message"},
    stage_row{client_stage::rset, "rset"},       stage_row{client_stage::quit, "quit"},
    stage_row{client_stage::closed, "closed"},
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// Whether `code` is the reply a command of `stage` hopes for.
bool wanted(client_stage stage, int code) {
  switch (stage) {
    case client_stage::starttls:
      return code == 220;
    case client_stage::auth:
      return code == 235 || code == 334;
    case client_stage::data:
      return code == 354;
    default:
      return code >= 200 && code < 300;
  }
}

/// "550 5.1.1 unknown" from a reply, for error messages.
std::string reply_line(const reply& r) {
  std::string out = std::to_string(r.code);
  if (!r.lines.empty() && !r.lines.back().empty()) out += " " + r.lines.back();
  return out;
}

}  // namespace

std::string_view client_stage_name(client_stage s) {
  for (const auto& row : stage_table)
    if (row.stage == s) return row.name;
  return "unknown";
}

namespace {

/// `message` with CRLF line ends and a final CRLF; `stuff` doubles a leading dot (DATA).
std::string crlf_lines(std::string_view message, bool stuff) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (c == '\r' || c == '\n') {
      // RFC 5321 2.3.8: lines end with CRLF only; a lone CR or LF becomes one.
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
      continue;
    }
    // RFC 5321 4.5.2: a line that starts with "." gets one more.
    if (stuff && line_start && c == '.') out += '.';
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  return out;
}

/// Appends each CRLF-ended line of `data` (without its CRLF) to `out`.
void append_lines(std::vector<std::string>& out, std::string_view data) {
  while (!data.empty()) {
    const auto end = data.find("\r\n");
    out.emplace_back(data.substr(0, end));
    if (end == std::string_view::npos) return;
    data.remove_prefix(end + 2);
  }
}

}  // namespace

std::string encode_chunk_data(std::string_view message) {
  return crlf_lines(message, false);
}

std::string encode_message_data(std::string_view message) {
  std::string out = crlf_lines(message, true);
  out += ".\r\n";
  return out;
}

client_connection::client_connection(client_options opts) : opts_(std::move(opts)) {
  tls_ = opts_.tls_on_connect;
  pending_.push_back({client_stage::banner, 0});
}

void client_connection::enter_phase(phase p) {
  phase_ = p;
  if (p == phase::finished) {
    pending_.clear();
    input_.clear();
    pos_ = 0;
  }
}

void client_connection::receive_data(std::string_view bytes) {
  if (phase_ == phase::finished) return;
  if (pos_ > 0) {
    input_.erase(0, pos_);
    pos_ = 0;
  }
  input_.append(bytes);
}

void client_connection::receive_eof() {
  eof_ = true;
}

void client_connection::timeout() {
  if (phase_ == phase::finished) return;
  if (phase_ == phase::quitting) {
    finish();
    return;
  }
  const client_stage stage = pending_.empty() ? client_stage::closed : pending_.front().stage;
  fail(stage, 0, "timed out waiting for the reply to " + std::string(client_stage_name(stage)));
  finish();
}

void client_connection::tls_started() {
  if (phase_ != phase::tls_handshake) return;
  // RFC 3207 4.2: the client discards what it knew from before TLS and sends EHLO again.
  tls_ = true;
  input_.clear();
  pos_ = 0;
  extensions_.clear();
  ehlo_ = {};
  enter_phase(phase::greeting);
  if (stop_at(milestone::tls)) return;
  send_greeting();
}

void client_connection::tls_failed(std::string reason) {
  if (phase_ != phase::tls_handshake) return;
  fail(client_stage::starttls, 0, "TLS handshake failed: " + reason);
  finish();
}

std::string client_connection::take_output() {
  std::string out;
  out.swap(output_);
  return out;
}

std::optional<std::string> client_connection::extension(std::string_view keyword) const {
  for (const auto& ext : extensions_) {
    const std::string_view word = std::string_view(ext).substr(0, ext.find(' '));
    if (iequals(word, keyword)) return ext;
  }
  return std::nullopt;
}

std::vector<std::string> client_connection::auth_mechanisms() const {
  std::vector<std::string> out;
  auto add_words = [&](std::string_view list) {
    while (!list.empty()) {
      const auto space = list.find(' ');
      std::string word = upper(list.substr(0, space));
      if (!word.empty() && std::find(out.begin(), out.end(), word) == out.end())
        out.push_back(std::move(word));
      if (space == std::string_view::npos) break;
      list.remove_prefix(space + 1);
    }
  };
  for (const auto& ext : extensions_) {
    // RFC 4954 3 "AUTH PLAIN LOGIN"; NOTE(compat): old servers also say "AUTH=PLAIN LOGIN".
    if (ext.size() > 5 &&
        (iequals(ext.substr(0, 5), "AUTH ") || iequals(ext.substr(0, 5), "AUTH=")))
      add_words(std::string_view(ext).substr(5));
  }
  return out;
}

std::optional<milestone> client_connection::command_milestone(client_stage stage,
                                                              const std::string& line) const {
  switch (stage) {
    case client_stage::ehlo:
    case client_stage::helo:
      return tls_ && !opts_.tls_on_connect ? milestone::greeting : milestone::first_greeting;
    case client_stage::starttls:
      return milestone::tls;
    case client_stage::auth:
      if (line.starts_with("AUTH ")) return milestone::auth;
      return std::nullopt;
    case client_stage::mail:
      return milestone::mail;
    case client_stage::rcpt:
      return milestone::rcpt;
    case client_stage::data:
      return milestone::data;
    default:
      return std::nullopt;
  }
}

void client_connection::drop_now() {
  result_.dropped = true;
  finish();  // the output written so far stays, for the driver to send before it closes
}

void client_connection::send(client_stage stage, std::string line, bool discard) {
  if (phase_ == phase::finished) return;  // dropped after a command written before this one
  const auto reached =
      opts_.stop && opts_.stop->on_send ? command_milestone(stage, line) : std::nullopt;
  output_ += line;
  output_ += "\r\n";
  const std::size_t txn = txn_ ? txn_->index : next_transaction_;
  pending_.push_back({stage, txn, discard});
  client_event ev;
  ev.kind = client_event_kind::sent;
  ev.stage = stage;
  ev.octets = line.size() + 2;
  ev.lines.push_back(std::move(line));
  ev.tls = tls_;
  ev.transaction = txn;
  events_.push_back(std::move(ev));
  if (reached && *reached == opts_.stop->after) drop_now();
}

void client_connection::send_message_data() {
  const std::size_t index = txn_->index;
  std::string data = encode_message_data(txn_->message);
  txn_->message = std::string();
  client_event ev;
  ev.kind = client_event_kind::sent;
  ev.stage = client_stage::message;
  ev.octets = data.size();
  ev.tls = tls_;
  ev.transaction = index;
  if (opts_.report_message_lines) append_lines(ev.lines, data);
  output_ += data;
  events_.push_back(std::move(ev));
  owe_message_replies(index);
}

void client_connection::owe_message_replies(std::size_t index) {
  // RFC 2033 4.2: after the data an LMTP server replies once per accepted recipient.
  txn_->data_replies_owed = opts_.hello == hello_verb::lhlo
                                ? std::max<std::size_t>(1, txn_->result.recipients_accepted)
                                : 1;
  for (std::size_t i = 0; i < txn_->data_replies_owed; ++i)
    pending_.push_back({client_stage::message, index});
  if (opts_.stop && opts_.stop->on_send && opts_.stop->after == milestone::dot) drop_now();
}

bool client_connection::chunking() const {
  return opts_.chunking && extension("CHUNKING").has_value();
}

void client_connection::send_bdat() {
  const std::size_t index = txn_->index;
  const std::string data = encode_chunk_data(txn_->message);
  txn_->message = std::string();
  std::string line = "BDAT " + std::to_string(data.size()) + " LAST";
  client_event ev;
  ev.kind = client_event_kind::sent;
  ev.stage = client_stage::message;
  ev.octets = line.size() + 2 + data.size();
  ev.tls = tls_;
  ev.transaction = index;
  ev.lines.push_back(line);
  if (opts_.report_message_lines) append_lines(ev.lines, data);
  output_ += line;
  output_ += "\r\n";
  output_ += data;
  events_.push_back(std::move(ev));
  owe_message_replies(index);
}

void client_connection::send_greeting() {
  switch (opts_.hello) {
    case hello_verb::ehlo:
      send(client_stage::ehlo, "EHLO " + opts_.ehlo_name);
      return;
    case hello_verb::lhlo:
      send(client_stage::ehlo, "LHLO " + opts_.ehlo_name);
      return;
    case hello_verb::helo:
      send(client_stage::helo, "HELO " + opts_.ehlo_name);
      return;
  }
}

client_event client_connection::next_event() {
  for (int guard = 0; guard < 100000; ++guard) {
    if (!events_.empty()) {
      client_event ev = std::move(events_.front());
      events_.pop_front();
      return ev;
    }
    if (phase_ == phase::finished) {
      client_event ev;
      ev.kind = client_event_kind::finished;
      ev.tls = tls_;
      return ev;
    }
    if (phase_ == phase::tls_handshake) {
      client_event ev;
      ev.kind = client_event_kind::start_tls;
      ev.stage = client_stage::starttls;
      return ev;
    }
    std::vector<std::string> raw;
    std::optional<reply> r = parse_reply(raw);
    if (!r) {
      if (phase_ == phase::finished) continue;  // a malformed reply ended the session
      if (eof_) {
        if (phase_ == phase::quitting) {
          finish();
        } else {
          // swaks exits 6 when the server hangs up while a reply is still owed.
          const client_stage owed =
              pending_.empty() ? client_stage::closed : pending_.front().stage;
          fail(client_stage::closed, 0,
               "connection closed by the server while waiting for the reply to " +
                   std::string(client_stage_name(owed)));
          finish();
        }
        continue;
      }
      client_event ev;
      ev.kind = client_event_kind::need_data;
      ev.tls = tls_;
      return ev;
    }
    if (pending_.empty()) {
      // A reply nobody asked for: a 421 announcing a close, or a server out of step.
      client_event ev;
      ev.kind = client_event_kind::received;
      ev.stage = client_stage::closed;
      ev.lines = std::move(raw);
      ev.parsed = *r;
      ev.unexpected = true;
      ev.tls = tls_;
      events_.push_back(std::move(ev));
      fail(client_stage::closed, r->code, "unsolicited reply: " + reply_line(*r));
      finish();
      continue;
    }
    const pending_command cmd = pending_.front();
    pending_.pop_front();
    on_reply(cmd, *r, std::move(raw));
  }
  fail(client_stage::closed, 0, "internal error: no progress");
  finish();
  client_event ev;
  ev.kind = client_event_kind::finished;
  return ev;
}

std::optional<reply> client_connection::parse_reply(std::vector<std::string>& raw) {
  reply r;
  std::size_t p = pos_;
  auto malformed = [&](std::string why) -> std::optional<reply> {
    pos_ = p;
    const client_stage stage = pending_.empty() ? client_stage::closed : pending_.front().stage;
    client_event ev;
    ev.kind = client_event_kind::received;
    ev.stage = stage;
    ev.lines = raw;
    ev.unexpected = true;
    ev.tls = tls_;
    events_.push_back(std::move(ev));
    fail(stage, 0, "malformed reply: " + why);
    finish();
    return std::nullopt;
  };
  for (;;) {
    const auto nl = input_.find('\n', p);
    if (nl == std::string::npos) {
      if (input_.size() - p > max_reply_line) {
        raw.push_back(input_.substr(p, 80) + "...");
        p = input_.size();
        return malformed("a reply line longer than " + std::to_string(max_reply_line) + " octets");
      }
      return std::nullopt;  // incomplete: parsed again when more arrives
    }
    // NOTE(compat): a bare LF ends a reply line too (RFC 5321 says CRLF; some servers differ).
    std::string line = input_.substr(p, nl - p);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    p = nl + 1;
    if (line.size() > max_reply_line) line.resize(max_reply_line);
    raw.push_back(line);
    // RFC 5321 4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
    //                             Reply-code [ SP textstring ] CRLF
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
      return malformed("no reply code in '" + line.substr(0, 80) + "'");
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-')
      return malformed("no space or hyphen after the code in '" + line.substr(0, 80) + "'");
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (r.code != 0 && code != r.code)
      return malformed("the lines of one reply carry different codes");
    r.code = code;
    r.lines.push_back(line.size() > 4 ? line.substr(4) : std::string());
    if (line.size() == 3 || line[3] == ' ') {
      pos_ = p;
      return r;
    }
    if (raw.size() >= max_reply_lines)
      return malformed("more than " + std::to_string(max_reply_lines) + " lines in one reply");
  }
}

void client_connection::on_reply(const pending_command& cmd, const reply& r,
                                 std::vector<std::string> raw) {
  client_event ev;
  ev.kind = client_event_kind::received;
  ev.stage = cmd.stage;
  ev.lines = std::move(raw);
  ev.parsed = r;
  ev.unexpected = !wanted(cmd.stage, r.code) || cmd.discard;
  ev.tls = tls_;
  ev.transaction = cmd.transaction;
  events_.push_back(std::move(ev));

  if (phase_ == phase::quitting && cmd.stage == client_stage::quit) {
    finish();
    return;
  }
  if (r.code == 421) {
    // RFC 5321 3.8: 421 means the server is closing the channel; nothing more can be sent.
    fail(cmd.stage, r.code, reply_line(r));
    finish();
    return;
  }
  if (phase_ == phase::quitting) return;  // replies to commands sent before QUIT
  switch (cmd.stage) {
    case client_stage::banner:
      banner_ = r;
      if (!wanted(cmd.stage, r.code)) {
        fail(client_stage::banner, r.code, reply_line(r));
        quit();
        return;
      }
      enter_phase(phase::greeting);
      // NOTE(compat): with implicit TLS swaks stops at TLS before it reads the banner; here
      // the banner is read first (it is already on its way), then the session stops.
      if (opts_.tls_on_connect && stop_at(milestone::tls)) return;
      if (stop_at(milestone::banner)) return;
      send_greeting();
      return;
    case client_stage::ehlo:
    case client_stage::helo:
    case client_stage::starttls:
      on_greeting_reply(cmd.stage, r);
      return;
    case client_stage::auth:
      on_auth_reply(r);
      return;
    case client_stage::mail:
    case client_stage::rcpt:
    case client_stage::data:
    case client_stage::message:
    case client_stage::rset:
      on_transaction_reply(cmd, r);
      return;
    case client_stage::quit:
    case client_stage::connect:
    case client_stage::closed:
      finish();
      return;
  }
}

void client_connection::on_greeting_reply(client_stage stage, const reply& r) {
  if (stage == client_stage::starttls) {
    if (r.code != 220) {
      if (opts_.starttls == starttls_mode::optional) {
        // swaks --tls-optional: go on in plaintext; the TLS point is passed.
        if (!stop_at(milestone::tls)) after_greeting();
        return;
      }
      fail(client_stage::starttls, r.code, "STARTTLS refused: " + reply_line(r));
      quit();
      return;
    }
    if (pos_ < input_.size()) {
      // RFC 3207 6 / CVE-2011-0411: nothing may follow the 220 in plaintext. Bytes that did
      // were injected (or a server is broken); they must never be read as the EHLO reply,
      // and the plaintext channel can no longer be trusted, so the session ends here.
      fail(client_stage::starttls, r.code,
           "the server sent " + std::to_string(input_.size() - pos_) +
               " octets after its 220 to STARTTLS (response injection); refusing to continue");
      finish();
      return;
    }
    enter_phase(phase::tls_handshake);
    return;
  }
  if (!wanted(stage, r.code)) {
    // RFC 5321 4.1.4 / 3.2: a client whose EHLO is refused may fall back to HELO.
    if (stage == client_stage::ehlo && opts_.hello == hello_verb::ehlo && r.klass() == 5 &&
        !helo_tried_) {
      helo_tried_ = true;
      send(client_stage::helo, "HELO " + opts_.ehlo_name);
      return;
    }
    fail(stage, r.code, reply_line(r));
    quit();
    return;
  }
  ehlo_ = r;
  extensions_.clear();
  if (stage == client_stage::ehlo) {
    for (std::size_t i = 1; i < r.lines.size(); ++i)
      extensions_.push_back(r.lines[i]);
  }
  after_greeting();
}

void client_connection::after_greeting() {
  if (!first_ehlo_done_) {
    first_ehlo_done_ = true;
    if (stop_at(milestone::first_greeting)) return;
    if (!tls_ && opts_.starttls != starttls_mode::off && !tls_tried_) {
      if (extension("STARTTLS")) {
        tls_tried_ = true;
        send(client_stage::starttls, "STARTTLS");
        return;
      }
      if (opts_.starttls == starttls_mode::required) {
        fail(client_stage::starttls, 0, "the server does not advertise STARTTLS");
        quit();
        return;
      }
    }
    // No STARTTLS: the TLS point is here (implicit TLS had it at the banner).
    if (!opts_.tls_on_connect && stop_at(milestone::tls)) return;
  }
  if (stop_at(milestone::greeting)) return;
  if (opts_.auth && !authenticated_) {
    start_auth();
    return;
  }
  if (stop_at(milestone::auth)) return;  // where AUTH would have been
  start_transaction();
}

void client_connection::auth_problem(int code, std::string why, bool tolerated_by_strict) {
  sasl_ = sasl_step::none;
  if (opts_.auth_need == auth_policy::optional ||
      (opts_.auth_need == auth_policy::optional_strict && tolerated_by_strict)) {
    after_auth();  // as if AUTH had not been asked for
    return;
  }
  fail(client_stage::auth, code, std::move(why));
  quit();
}

void client_connection::after_auth() {
  if (stop_at(milestone::auth)) return;
  start_transaction();
}

void client_connection::start_auth() {
  enter_phase(phase::auth);
  const auto mechanisms = auth_mechanisms();
  auto offered = [&](std::string_view m) {
    return std::find(mechanisms.begin(), mechanisms.end(), m) != mechanisms.end();
  };
  if (mechanisms.empty()) {
    auth_problem(0, "the server does not advertise AUTH", true);
    return;
  }
  std::string chosen = upper(opts_.auth_mechanism);
  if (chosen.empty()) {
    // The strongest mechanism both sides have; CRAM-MD5 needs the driver's HMAC.
    for (std::string_view m : {"CRAM-MD5", "PLAIN", "LOGIN"}) {
      if (offered(m) && (m != "CRAM-MD5" || opts_.hmac_md5)) {
        chosen = m;
        break;
      }
    }
    if (chosen.empty()) {
      auth_problem(0, "no supported AUTH mechanism offered (PLAIN, LOGIN, CRAM-MD5)", false);
      return;
    }
  } else {
    // A comma list (swaks' -a CRAM-MD5,PLAIN): the first one the server offers.
    std::string_view list = chosen;
    std::string first_offered;
    while (!list.empty() && first_offered.empty()) {
      const auto comma = list.find(',');
      const std::string_view m = list.substr(0, comma);
      if (offered(m)) first_offered = std::string(m);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    if (first_offered.empty()) {
      auth_problem(0, chosen + " is not among the advertised AUTH mechanisms", true);
      return;
    }
    chosen = first_offered;
  }
  mechanism_ = chosen;
  if (chosen == "PLAIN") {
    // RFC 4616 2: authzid NUL authcid NUL passwd, sent as the initial response (RFC 4954 4).
    sasl_ = sasl_step::plain;
    send(client_stage::auth, "AUTH PLAIN " + base64_encode(std::string(1, '\0') + opts_.auth_user +
                                                           '\0' + opts_.auth_password));
  } else if (chosen == "LOGIN") {
    sasl_ = sasl_step::login_user;
    send(client_stage::auth, "AUTH LOGIN");
  } else if (chosen == "CRAM-MD5" && opts_.hmac_md5) {
    sasl_ = sasl_step::cram_md5;
    send(client_stage::auth, "AUTH CRAM-MD5");
  } else {
    fail(client_stage::auth, 0, "AUTH mechanism " + chosen + " is not supported by this client");
    quit();
  }
}

void client_connection::on_auth_reply(const reply& r) {
  if (r.code == 235) {
    authenticated_ = true;
    sasl_ = sasl_step::none;
    if (stop_at(milestone::auth)) return;
    start_transaction();
    return;
  }
  if (r.code != 334 || sasl_ == sasl_step::none) {
    if (sasl_ == sasl_step::none && r.code == 334) {
      // A challenge after the last response: cancel (RFC 4954 4) and read the 501.
      fail(client_stage::auth, r.code, "unexpected challenge: " + reply_line(r));
      send(client_stage::auth, "*");
      sasl_ = sasl_step::none;
      quit();
      return;
    }
    auth_problem(r.code, "AUTH " + mechanism_ + " failed: " + reply_line(r), false);
    return;
  }
  const std::string challenge = r.lines.empty() ? std::string() : r.lines.front();
  switch (sasl_) {
    case sasl_step::plain:
      // The server wanted no initial response ("334 "): the credentials go now.
      sasl_ = sasl_step::none;
      send(client_stage::auth,
           base64_encode(std::string(1, '\0') + opts_.auth_user + '\0' + opts_.auth_password));
      return;
    case sasl_step::login_user:
      sasl_ = sasl_step::login_password;
      send(client_stage::auth, base64_encode(opts_.auth_user));
      return;
    case sasl_step::login_password:
      sasl_ = sasl_step::none;
      send(client_stage::auth, base64_encode(opts_.auth_password));
      return;
    case sasl_step::cram_md5: {
      sasl_ = sasl_step::none;
      auto decoded = base64_decode(challenge);
      if (!decoded) {
        fail(client_stage::auth, r.code, "the CRAM-MD5 challenge is not base64");
        send(client_stage::auth, "*");
        quit();
        return;
      }
      // RFC 2195 2: the response is "user SP hex(HMAC-MD5(password, challenge))".
      send(client_stage::auth,
           base64_encode(opts_.auth_user + " " + opts_.hmac_md5(opts_.auth_password, *decoded)));
      return;
    }
    case sasl_step::none:
      return;
  }
}

std::string client_connection::mail_parameters(std::string_view message) const {
  std::string out;
  const auto eight_bit = [](char c) { return (static_cast<unsigned char>(c) & 0x80) != 0; };
  if (std::any_of(message.begin(), message.end(), eight_bit) && extension("8BITMIME"))
    out += " BODY=8BITMIME";
  bool non_ascii = !is_ascii(opts_.mail_from);
  for (const auto& r : opts_.recipients)
    non_ascii = non_ascii || !is_ascii(r);
  if (non_ascii && extension("SMTPUTF8")) out += " SMTPUTF8";
  return out;
}

bool client_connection::pipelining() const {
  return opts_.pipeline && extension("PIPELINING").has_value();
}

void client_connection::start_transaction() {
  if (next_transaction_ >= opts_.transactions) {
    quit();
    return;
  }
  enter_phase(phase::transaction);
  txn_.emplace();
  txn_->index = next_transaction_++;
  if (opts_.recipients.empty() && !stops_at(milestone::mail)) {
    fail(client_stage::rcpt, 0, "no recipients given");
    end_transaction();
    return;
  }
  txn_->message = opts_.make_message ? opts_.make_message(txn_->index) : opts_.message;
  send(client_stage::mail, "MAIL FROM:<" + opts_.mail_from + ">" + mail_parameters(txn_->message));
  // RFC 2920 3.1: MAIL and RCPT may be anywhere in a group; DATA only last. The group ends
  // where a --quit-after point would stop the session.
  if (!pipelining() || stops_at(milestone::mail)) return;
  txn_->group = true;
  for (const auto& rcpt : opts_.recipients) {
    send(client_stage::rcpt, "RCPT TO:<" + rcpt + ">");
    ++txn_->rcpt_sent;
  }
  // BDAT carries the message itself: it waits for the RCPT replies (one chunk, sent whole).
  if (opts_.after_recipients == after_rcpt::data && !stops_at(milestone::rcpt) && !chunking())
    send(client_stage::data, "DATA");
}

void client_connection::send_next_rcpt_or_finish() {
  auto& t = *txn_;
  if (t.rcpt_sent < opts_.recipients.size()) {
    send(client_stage::rcpt, "RCPT TO:<" + opts_.recipients[t.rcpt_sent++] + ">");
    return;
  }
  after_recipients_step();
}

void client_connection::after_recipients_step() {
  auto& t = *txn_;
  if (t.result.recipients_accepted == 0) {
    if (!t.result.failed) fail(client_stage::rcpt, t.result.code, "no recipient was accepted");
    if (!t.group || opts_.after_recipients != after_rcpt::data || stops_at(milestone::rcpt) ||
        chunking())
      end_transaction();
    return;  // a pipelined DATA is still to be answered
  }
  if (t.group && opts_.after_recipients == after_rcpt::data && !stops_at(milestone::rcpt) &&
      !chunking())
    return;  // DATA went with the group
  if (stop_at(milestone::rcpt)) return;
  switch (opts_.after_recipients) {
    case after_rcpt::data:
      if (chunking()) {
        send_bdat();
      } else {
        send(client_stage::data, "DATA");
      }
      return;
    case after_rcpt::rset:
      send(client_stage::rset, "RSET");
      return;
    case after_rcpt::quit:
      end_transaction();
      return;
  }
}

void client_connection::on_transaction_reply(const pending_command& cmd, const reply& r) {
  if (!txn_) {
    // RSET after a failed transaction: the next one starts now.
    if (cmd.stage == client_stage::rset) start_transaction();
    return;
  }
  auto& t = *txn_;
  const bool ok = wanted(cmd.stage, r.code);
  switch (cmd.stage) {
    case client_stage::mail:
      if (!ok) {
        fail(client_stage::mail, r.code, reply_line(r));
        if (!t.group) end_transaction();
        return;
      }
      t.mail_ok = true;
      if (t.group) return;
      if (stop_at(milestone::mail)) return;
      send_next_rcpt_or_finish();
      return;
    case client_stage::rcpt:
      ++t.rcpt_answered;
      if (ok) {
        ++t.result.recipients_accepted;
      } else if (t.result.code == 0) {
        t.result.code = r.code;  // remembered in case no recipient is accepted
      }
      if (!t.group) {
        send_next_rcpt_or_finish();
      } else if (t.rcpt_answered == t.rcpt_sent && t.mail_ok) {
        after_recipients_step();
      } else if (t.rcpt_answered == t.rcpt_sent &&
                 (opts_.after_recipients != after_rcpt::data || stops_at(milestone::rcpt))) {
        end_transaction();  // MAIL failed and nothing else was sent
      }
      return;
    case client_stage::data:
      if (r.code == 354) {
        if (t.result.failed || t.result.recipients_accepted == 0) {
          // RFC 2920 3.1: a 354 after a pipelined group that failed still opens the data
          // phase; the client ends it with a lone "." so nothing is delivered.
          send(client_stage::message, ".", true);
          return;
        }
        if (stop_at(milestone::data)) return;
        send_message_data();
        return;
      }
      if (!t.result.failed) fail(client_stage::data, r.code, reply_line(r));
      end_transaction();
      return;
    case client_stage::message:
      if (cmd.discard) {
        end_transaction();
        return;
      }
      t.result.final_reply = r.lines.empty() ? std::string() : r.lines.back();
      ++t.data_replies;
      if (ok) ++t.data_accepted;
      if (!ok && t.result.code == 0) t.result.code = r.code;
      if (t.data_replies < t.data_replies_owed) return;  // LMTP: more replies to come
      // LMTP (as swaks): the message went through when one recipient's reply was a 2xx.
      if (t.data_accepted > 0) {
        t.result.accepted = true;
      } else {
        fail(client_stage::message, r.code, reply_line(r));
      }
      end_transaction();
      return;
    case client_stage::rset:
      end_transaction();
      return;
    default:
      return;
  }
}

void client_connection::end_transaction() {
  if (!txn_) return;
  const bool failed = txn_->result.failed.has_value();
  const bool accepted = txn_->result.accepted;
  result_.transactions.push_back(std::move(txn_->result));
  txn_.reset();
  if (phase_ == phase::quitting || phase_ == phase::finished) return;
  if (accepted && stop_at(milestone::dot)) return;
  if (failed && !opts_.continue_after_failure) {
    quit();
    return;
  }
  if (next_transaction_ >= opts_.transactions) {
    quit();
    return;
  }
  if (failed) {
    send(client_stage::rset, "RSET");
    return;
  }
  start_transaction();
}

void client_connection::fail(client_stage stage, int code, std::string why) {
  if (txn_ && !txn_->result.failed) {
    txn_->result.failed = stage;
    txn_->result.code = code;
  }
  if (result_.failed) return;  // the first failure decides
  result_.failed = stage;
  result_.error = std::move(why);
}

bool client_connection::stop_at(milestone m) {
  if (!stops_at(m)) return false;
  // An on_send stop reached here had no command to send (see stop_point): it drops here.
  if (opts_.stop->drop || opts_.stop->on_send || m == milestone::data) {
    // Nothing more is written, not even QUIT: the driver closes the connection.
    result_.dropped = true;
    finish();
  } else {
    quit();
  }
  return true;
}

void client_connection::quit() {
  if (phase_ == phase::quitting || phase_ == phase::finished) return;
  enter_phase(phase::quitting);
  send(client_stage::quit, "QUIT");
}

void client_connection::finish() {
  if (phase_ == phase::finished) return;
  if (txn_) {
    result_.transactions.push_back(std::move(txn_->result));
    txn_.reset();
  }
  enter_phase(phase::finished);
}

}  // namespace smtpmock::smtp
