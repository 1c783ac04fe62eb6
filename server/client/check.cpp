// `smtpmock check`: the targets (one host, or each MX), one session each with the relay test
// (RSET instead of DATA unless --send), the PTR of the connected address, then the report.
#include "client/check.hpp"

#include <cctype>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/dns.hpp"
#include "client/driver.hpp"
#include "client/message.hpp"
#include "client/send.hpp"

namespace smtpmock::client {
namespace {

/// One host to check.
struct target {
  std::string host;
  std::string address;  ///< resolved here (with --mx or --dns-server); empty: the driver resolves
  std::uint16_t port = 25;
  std::optional<unsigned> preference;  ///< for MX hosts
  std::string error;                   ///< a resolution failure
};

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string first_line(const smtp::reply& r) {
  std::string out = std::to_string(r.code);
  if (!r.lines.empty() && !r.lines.front().empty()) out += " " + r.lines.front();
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : sep) + s;
  return out;
}

bool is_ip(const std::string& host) {
  return host.find_first_not_of("0123456789.") == std::string::npos ||
         host.find(':') != std::string::npos;
}

/// Checks one host; returns its JSON report (the human report is printed from it).
nlohmann::json check_host(const target& t, const check_settings& s, dns_resolver& dns) {
  nlohmann::json j;
  j["host"] = t.host;
  j["port"] = t.port;
  j["preference"] = t.preference ? nlohmann::json(*t.preference) : nlohmann::json(nullptr);
  if (!t.error.empty()) {
    j["up"] = false;
    j["failure"] = "resolve";
    j["error"] = t.error;
    return j;
  }
  connection_settings where;
  where.host = t.host;
  where.address = t.address;
  where.port = t.port;
  where.timeout = s.timeout;
  where.tls_verify = s.tls_verify;

  const std::string local = local_hostname();
  smtp::client_options o;
  o.ehlo_name = s.ehlo.empty() ? local : s.ehlo;
  o.mail_from = s.from.empty() ? "postmaster@" + o.ehlo_name : s.from;
  o.recipients = {s.relay_to};
  o.after_recipients = s.send ? smtp::after_rcpt::data : smtp::after_rcpt::rset;
  o.starttls = s.starttls ? smtp::starttls_mode::opportunistic : smtp::starttls_mode::off;
  o.auth = !s.auth_user.empty();
  o.auth_user = s.auth_user;
  o.auth_password = s.auth_password;
  o.auth_mechanism = s.auth_mechanism;
  o.hmac_md5 = &hmac_md5_hex;
  o.message = "Subject: smtpmock check relay test\n\nSent by smtpmock check --send.\n";

  reply_collector got;
  session_report r = run_one(where, o, got);
  const std::string& address = r.peer_ip.empty() ? t.address : r.peer_ip;
  j["address"] = address.empty() ? nlohmann::json(nullptr) : nlohmann::json(address);
  j["up"] = r.connected;
  j["connect_ms"] = r.connect_ms;
  if (!r.connected) {
    static const std::map<connect_failure, const char*> names = {
        {connect_failure::resolve, "resolve"},
        {connect_failure::refused, "refused"},
        {connect_failure::timeout, "timeout"},
        {connect_failure::other, "error"},
        {connect_failure::none, "error"}};
    j["failure"] = names.at(r.failure);
    j["error"] = r.connect_error;
    return j;
  }
  j["failure"] = nullptr;
  const std::string banner = r.banner.lines.empty() ? std::string() : r.banner.lines.front();
  const std::string banner_host = banner.substr(0, banner.find(' '));
  j["banner"] = r.banner.code == 0 ? nlohmann::json(nullptr) : nlohmann::json(first_line(r.banner));
  j["banner_code"] = r.banner.code;
  j["banner_hostname"] = banner_host;
  // The PTR of the address connected to, compared with the name the server greets with.
  name_lookup ptr = dns.ptr(r.peer_ip);
  j["ptr"] = ptr.values;
  j["ptr_error"] = ptr.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(ptr.error);
  bool matches = false;
  for (const auto& name : ptr.values)
    if (!banner_host.empty() && lower(name) == lower(banner_host)) matches = true;
  j["ptr_matches_banner"] = matches;
  j["extensions"] = r.extensions;

  // STARTTLS: the list before TLS says whether it is offered.
  const auto ehlo = got.replies.find(smtp::client_stage::ehlo);
  bool offered = false;
  if (ehlo != got.replies.end()) {
    for (std::size_t i = 1; i < ehlo->second.lines.size(); ++i)
      if (lower(ehlo->second.lines[i]) == "starttls") offered = true;
    std::vector<std::string> plain_list(
        ehlo->second.lines.begin() + (ehlo->second.lines.empty() ? 0 : 1),
        ehlo->second.lines.end());
    j["extensions"] = plain_list;
  }
  if (r.tls) j["extensions_after_tls"] = r.extensions;
  nlohmann::json tls;
  tls["offered"] = offered;
  tls["tried"] = s.starttls && offered;
  tls["ok"] = r.tls.has_value();
  if (r.tls) {
    const auto& i = *r.tls;
    tls["version"] = i.version;
    tls["cipher"] = i.cipher;
    tls["subject"] = i.subject;
    tls["issuer"] = i.issuer;
    tls["not_after"] = i.not_after;
    tls["days_left"] = i.days_left;
    tls["verified"] = i.verified;
    tls["verify_error"] = i.verify_error;
  }
  const bool tls_failed = r.result.failed == smtp::client_stage::starttls;
  tls["error"] = tls_failed ? nlohmann::json(r.result.error) : nlohmann::json(nullptr);
  j["starttls"] = tls;

  nlohmann::json auth;
  auth["mechanisms"] = r.auth_mechanisms;
  auth["tested"] = o.auth && !tls_failed;
  auth["ok"] = r.authenticated;
  auth["mechanism"] = r.auth_mechanism;
  auth["user"] = s.auth_user;
  const bool auth_failed = r.result.failed == smtp::client_stage::auth;
  auth["error"] = auth_failed ? nlohmann::json(r.result.error) : nlohmann::json(nullptr);
  j["auth"] = auth;

  // The relay verdict: RCPT to an outside address accepted means an open relay.
  nlohmann::json relay;
  relay["recipient"] = s.relay_to;
  const auto mail = got.replies.find(smtp::client_stage::mail);
  const auto rcpt = got.replies.find(smtp::client_stage::rcpt);
  relay["tested"] = rcpt != got.replies.end();
  relay["mail_reply"] = mail == got.replies.end() ? nlohmann::json(nullptr)
                                                  : nlohmann::json(first_line(mail->second));
  relay["rcpt_reply"] = rcpt == got.replies.end() ? nlohmann::json(nullptr)
                                                  : nlohmann::json(first_line(rcpt->second));
  relay["open"] = rcpt != got.replies.end() && rcpt->second.klass() == 2;
  if (s.send) {
    const auto msg = got.replies.find(smtp::client_stage::message);
    relay["message_reply"] = msg == got.replies.end() ? nlohmann::json(nullptr)
                                                      : nlohmann::json(first_line(msg->second));
  }
  j["relay"] = relay;
  // The relay refusing the outside recipient (24) is the good outcome, not a failure.
  const bool session_ok = !r.result.failed || r.result.failed == smtp::client_stage::rcpt;
  j["session_ok"] = session_ok;
  j["error"] = session_ok ? nlohmann::json(nullptr) : nlohmann::json(r.result.error);
  return j;
}

std::string str(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.is_null() ? std::string() : v.dump();
}

void print_host(const nlohmann::json& h) {
  std::ostringstream head;
  head << "=== " << str(h["host"]) << " port " << h["port"].get<int>();
  if (!h["preference"].is_null()) head << ", MX preference " << h["preference"].get<unsigned>();
  std::cout << head.str() << '\n';
  auto row = [](const char* label, const std::string& text) {
    std::cout << "  " << std::left << std::setw(12) << label << text << '\n';
  };
  if (!h["up"].get<bool>()) {
    const std::string failure = str(h["failure"]);
    row("up:", "no (" +
                   std::string(failure == "refused"   ? "connection refused: nothing listens, or "
                                                        "a firewall rejects"
                               : failure == "timeout" ? "timed out: a firewall may drop the packets"
                                                      : failure) +
                   ")");
    row("error:", str(h["error"]));
    return;
  }
  std::ostringstream up;
  up << "yes, " << str(h["address"]) << " connected in " << std::fixed << std::setprecision(1)
     << h["connect_ms"].get<double>() << " ms";
  row("up:", up.str());
  row("banner:", str(h["banner"]));
  const auto& ptr = h["ptr"];
  std::string ptr_text = ptr.empty() ? "no PTR (" + str(h["ptr_error"]) + ")"
                                     : join(ptr.get<std::vector<std::string>>(), ", ");
  row("hostname:", str(h["banner_hostname"]) + "; PTR of " + str(h["address"]) + ": " + ptr_text +
                       (h["ptr_matches_banner"].get<bool>() ? " (matches)" : " (does not match)"));
  row("extensions:", join(h["extensions"].get<std::vector<std::string>>(), ", "));
  const auto& tls = h["starttls"];
  if (!tls["offered"].get<bool>()) {
    row("STARTTLS:", "not offered");
  } else if (!tls["tried"].get<bool>()) {
    row("STARTTLS:", "offered (not tried)");
  } else if (tls["ok"].get<bool>()) {
    std::ostringstream t;
    t << str(tls["version"]) << " " << str(tls["cipher"]) << "; certificate " << str(tls["subject"])
      << ", expires " << str(tls["not_after"]) << " (" << tls["days_left"].get<long>() << " days)"
      << (tls["verified"].get<bool>() ? ", verified"
                                      : ", not verified: " + str(tls["verify_error"]));
    row("STARTTLS:", t.str());
  } else {
    row("STARTTLS:", "FAILED: " + str(tls["error"]));
  }
  const auto& auth = h["auth"];
  std::string mechs = join(auth["mechanisms"].get<std::vector<std::string>>(), " ");
  if (mechs.empty()) mechs = "not offered";
  if (!auth["tested"].get<bool>()) {
    row("AUTH:", mechs + (mechs == "not offered" ? "" : " (not tested: no --auth-user)"));
  } else if (auth["ok"].get<bool>()) {
    row("AUTH:", mechs + "; works (" + str(auth["mechanism"]) + " as " + str(auth["user"]) + ")");
  } else {
    row("AUTH:", mechs + "; FAILED: " + str(auth["error"]));
  }
  const auto& relay = h["relay"];
  if (!relay["tested"].get<bool>()) {
    row("relay:", "not tested" + (relay["mail_reply"].is_null()
                                      ? std::string()
                                      : " (MAIL got " + str(relay["mail_reply"]) + ")"));
  } else if (relay["open"].get<bool>()) {
    row("relay:",
        "OPEN: RCPT TO:<" + str(relay["recipient"]) + "> got " + str(relay["rcpt_reply"]));
  } else {
    row("relay:",
        "refused: RCPT TO:<" + str(relay["recipient"]) + "> got " + str(relay["rcpt_reply"]));
  }
  if (!h["error"].is_null()) row("error:", str(h["error"]));
}

}  // namespace

int run_check(const check_settings& s) {
  dns_resolver dns(s.dns_server, s.timeout);
  std::map<std::string, std::uint16_t> host_ports;
  for (const auto& hp : s.host_ports) {
    const auto eq = hp.find('=');
    auto port = eq == std::string::npos ? std::nullopt : split_host_port("x:" + hp.substr(eq + 1));
    if (!port || port->second == 0) {
      std::cerr << "smtpmock check: --host-port: expected NAME=PORT, got '" << hp << "'\n";
      return exit_usage;
    }
    host_ports[lower(hp.substr(0, eq))] = port->second;
  }
  std::vector<target> targets;
  nlohmann::json report;
  if (!s.mx_domain.empty()) {
    mx_lookup mx = dns.mx(s.mx_domain);
    nlohmann::json records = nlohmann::json::array();
    for (const auto& r : mx.records)
      records.push_back({{"host", r.host}, {"preference", r.priority}});
    report["mx"] = {
        {"domain", s.mx_domain},
        {"records", records},
        {"error", mx.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(mx.error)}};
    std::vector<mx_record> hosts = mx.records;
    if (hosts.empty() && mx.error.find("No data") != std::string::npos) {
      hosts.push_back({s.mx_domain, 0});  // RFC 5321 5.1: no MX means the domain itself
    }
    for (const auto& r : hosts) {
      target t;
      t.host = r.host;
      t.preference = r.priority;
      auto it = host_ports.find(lower(r.host));
      t.port = it != host_ports.end() ? it->second : s.port != 0 ? s.port : 25;
      name_lookup a = dns.addresses(r.host);
      if (!a.error.empty() || a.values.empty()) {
        t.error = a.error.empty() ? "no A record for " + r.host : a.error;
      } else {
        t.address = a.values.front();
      }
      targets.push_back(std::move(t));
    }
  } else {
    auto split = split_host_port(s.target);
    if (!split) {
      std::cerr << "smtpmock check: expected HOST[:PORT], got '" << s.target << "'\n";
      return exit_usage;
    }
    target t;
    t.host = split->first;
    t.port = s.port != 0 ? s.port : split->second != 0 ? split->second : 25;
    if (!s.dns_server.empty() && !is_ip(t.host)) {
      name_lookup a = dns.addresses(t.host);
      if (!a.error.empty() || a.values.empty()) {
        t.error = a.error.empty() ? "no A record for " + t.host : a.error;
      } else {
        t.address = a.values.front();
      }
    }
    targets.push_back(std::move(t));
  }

  nlohmann::json hosts = nlohmann::json::array();
  std::size_t up = 0;
  bool all_ok = true;
  if (!s.json && report.contains("mx")) {
    const auto& mx = report["mx"];
    std::cout << "=== MX of " << s.mx_domain << ": ";
    if (mx["records"].empty()) {
      std::cout << (mx["error"].is_null() ? "none" : str(mx["error"]));
    }
    bool first = true;
    for (const auto& r : mx["records"]) {
      std::cout << (first ? "" : ", ") << r["preference"].get<unsigned>() << " " << str(r["host"]);
      first = false;
    }
    std::cout << '\n';
  }
  for (const auto& t : targets) {
    nlohmann::json h = check_host(t, s, dns);
    if (h["up"].get<bool>()) {
      ++up;
      if (!h["session_ok"].get<bool>() || h["banner_code"].get<int>() / 100 != 2) all_ok = false;
    } else {
      all_ok = false;
    }
    if (!s.json) print_host(h);
    hosts.push_back(std::move(h));
  }
  const int exit_code = up == 0 ? 2 : all_ok ? 0 : 1;
  if (s.json) {
    report["hosts"] = std::move(hosts);
    report["ok"] = exit_code == 0;
    report["exit_code"] = exit_code;
    std::cout << report.dump(2) << '\n';
  }
  return exit_code;
}

}  // namespace smtpmock::client
