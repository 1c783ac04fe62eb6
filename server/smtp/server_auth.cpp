// The AUTH exchange of server_connection (RFC 4954): the AUTH command's check, the SASL
// responses' checks (PLAIN, LOGIN, CRAM-MD5, XOAUTH2) and what respond() applies for them.
// The checks are const and return their verdict; only apply_auth() changes the session.
// Secrets never leave this file: events show them as ********.
#include <optional>
#include <string>
#include <string_view>

#include "smtp/base64.hpp"
#include "smtp/server_connection.hpp"

namespace smtpmock::smtp {
namespace {

// RFC 4954 4: the LOGIN challenges are the base64 of "Username:" and "Password:".
constexpr std::string_view login_user_challenge = "VXNlcm5hbWU6";
constexpr std::string_view login_password_challenge = "UGFzc3dvcmQ6";

reply challenge(std::string_view text) {
  reply r = make(stock::auth_challenge);
  r.lines = {std::string(text)};
  return r;
}

}  // namespace

server_connection::verdict server_connection::check_auth_start(std::string_view argument) const {
  const auto& p = *personality_;
  if (!p.advertises("AUTH")) return make(stock::not_implemented, "AUTH not available");
  if (state_ == state::fresh || !session_.esmtp)
    return make(stock::bad_sequence, "Send EHLO first");
  if (authenticated_) return make(stock::already_authenticated);
  if (tx_.open) return make(stock::auth_in_transaction);
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
  verdict v;
  if (mechanism == "CRAM-MD5") {
    // RFC 2195 2: no initial response; the challenge is a unique msg-id-like string.
    if (space != std::string_view::npos) return make(stock::syntax_error);
    v.apply.next = sasl::cram_md5;
    v.apply.cram_challenge = "<" + opts_.session_id + "." + std::to_string(auth_failures_ + 1) +
                             "@" + personality_->hostname + ">";
    v.proposed = challenge(base64_encode(v.apply.cram_challenge));
    return v;
  }
  if (space == std::string_view::npos) {
    v.apply.next = mechanism == "LOGIN"   ? sasl::login_user
                   : mechanism == "PLAIN" ? sasl::plain
                                          : sasl::xoauth2;
    v.proposed = challenge(mechanism == "LOGIN" ? login_user_challenge : "");
    return v;
  }
  // RFC 4954 4: an initial response; "=" stands for an empty one.
  if (initial == "*") return make(stock::auth_cancelled);
  auto decoded = initial == "=" ? std::optional<std::string>("") : base64_decode(initial);
  if (!decoded) {
    v.proposed = make(stock::bad_base64);
  } else if (mechanism == "PLAIN") {
    v = finish_plain(*decoded);
  } else if (mechanism == "XOAUTH2") {
    v = finish_xoauth2(*decoded);
  } else {
    v.apply.user = *decoded;
    v.apply.next = sasl::login_password;
    v.proposed = challenge(login_password_challenge);
  }
  v.apply.attempt = true;
  return v;
}

server_connection::verdict server_connection::finish_auth(const std::string& user,
                                                          std::string_view password) const {
  verdict v;
  v.apply.user = user;
  const template_value& value = v.sets.emplace(template_value{"user", user});
  v.proposed = personality_->check_credentials(user, password)
                   ? configured("auth", stock::auth_ok, &value)
                   : make(stock::auth_failed);
  return v;
}

server_connection::verdict server_connection::finish_plain(std::string_view decoded) const {
  // RFC 4616 2: [authzid] NUL authcid NUL passwd.
  const auto first = decoded.find('\0');
  const auto second = first == std::string_view::npos ? first : decoded.find('\0', first + 1);
  if (second == std::string_view::npos || decoded.find('\0', second + 1) != std::string_view::npos)
    return make(stock::bad_base64, "Invalid PLAIN response");
  return finish_auth(std::string(decoded.substr(first + 1, second - first - 1)),
                     decoded.substr(second + 1));
}

server_connection::verdict server_connection::finish_cram_md5(std::string_view decoded) const {
  // RFC 2195 2: "user SP digest", digest = lowercase hex HMAC-MD5(password, challenge).
  const auto space = decoded.rfind(' ');
  if (space == std::string_view::npos || space == 0)
    return make(stock::bad_base64, "Invalid CRAM-MD5 response");
  const std::string user(decoded.substr(0, space));
  const std::string_view digest = decoded.substr(space + 1);
  const auto& p = *personality_;
  bool ok = p.auth.accept_any;
  for (const auto& u : p.auth.users) {
    if (u.user == user && opts_.hmac_md5(u.password, cram_challenge_) == digest) ok = true;
  }
  verdict v;
  v.apply.user = user;
  const template_value& value = v.sets.emplace(template_value{"user", user});
  v.proposed = ok ? configured("auth", stock::auth_ok, &value) : make(stock::auth_failed);
  return v;
}

server_connection::verdict server_connection::finish_xoauth2(std::string_view decoded) const {
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
  verdict v = finish_auth(user, token);
  if (v.proposed.code == 235) return v;
  // The failure is a 334 carrying a JSON error; the client answers with an empty line and
  // only then gets the 535.
  v.apply.next = sasl::xoauth2_error;
  v.proposed = challenge(
      base64_encode(R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})"));
  return v;
}

server_connection::verdict server_connection::check_auth_response(const input_line& line) const {
  const bool cancel = line.text == "*";
  verdict v;
  if (line.too_long) {
    v.proposed = make(stock::line_too_long);
  } else if (cancel) {
    v.proposed = make(stock::auth_cancelled);
  } else if (sasl_ == sasl::xoauth2_error) {
    v.proposed = make(stock::auth_failed);
  } else if (auto decoded = base64_decode(line.text); !decoded) {
    v.proposed = make(stock::bad_base64);
  } else if (sasl_ == sasl::login_user) {
    v.apply.user = *decoded;
    v.apply.next = sasl::login_password;
    v.proposed = challenge(login_password_challenge);
  } else if (sasl_ == sasl::login_password) {
    v = finish_auth(sasl_user_, *decoded);
  } else if (sasl_ == sasl::cram_md5) {
    v = finish_cram_md5(*decoded);
  } else if (sasl_ == sasl::xoauth2) {
    v = finish_xoauth2(*decoded);
  } else {
    v = finish_plain(*decoded);
  }
  // Every response but a cancel is judged; an answer that is not a success or a further
  // challenge is a failed attempt (RFC 4954 4), undecodable base64 included.
  v.apply.attempt = !cancel;
  if (sasl_ == sasl::login_password && v.apply.user.empty()) v.apply.user = sasl_user_;
  return v;
}

event server_connection::on_auth_line(const input_line& line) {
  verdict v = check_auth_response(line);
  set_value(std::move(v.sets));
  return ask(answering::auth_line, event_kind::auth_response, verb::auth,
             line.text == "*" ? std::string("*") : std::string(masked_secret),
             within_error_budget(std::move(v.proposed)), std::move(v.apply));
}

void server_connection::apply_auth(const change& c, const reply& r) {
  if (r.code == 334 && c.next != sasl::none) {
    if (c.next == sasl::login_password) sasl_user_ = c.user;
    if (c.next == sasl::cram_md5) cram_challenge_ = c.cram_challenge;
    sasl_ = c.next;
    enter_state(state::auth);
    return;
  }
  if (r.code == 235) {
    authenticated_ = true;
    // AUTH is refused inside a transaction, but a rule may accept it: the open
    // transaction's envelope names the user too.
    session_.auth_user = c.user;
    tx_.env.auth_user = c.user;
  } else if (r.code == 535 || (c.attempt && r.klass() == 5)) {
    ++auth_failures_;
  }
  sasl_ = sasl::none;
  sasl_user_.clear();
  enter_state(between_commands());
}

}  // namespace smtpmock::smtp
