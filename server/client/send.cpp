// `smtpmock send`: settings -> core options, one session, a swaks transcript or JSON.
#include "client/send.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client/load.hpp"
#include "client/local_name.hpp"
#include "client/swaks.hpp"

namespace smtpmock::client {
namespace {

/// Where the transcript goes: stdout and stderr, or swaks' --output-file* files.
struct output_streams {
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
  std::ofstream out_file;
  std::ofstream err_file;

  /// Opens the files; false after printing why one cannot be written.
  bool open(const send_settings& s) {
    std::string out_name = !s.output_file_stdout.empty() ? s.output_file_stdout : s.output_file;
    std::string err_name = !s.output_file_stderr.empty() ? s.output_file_stderr : s.output_file;
    auto pick = [&](const std::string& name, std::ofstream& file, std::ostream*& stream,
                    const char* option) {
      if (name.empty()) return true;
      if (name == "&STDOUT") {
        stream = &std::cout;
      } else if (name == "&STDERR") {
        stream = &std::cerr;
      } else if (name == out_name && &file == &err_file && out_file.is_open()) {
        stream = &out_file;  // one file for both, opened once
      } else {
        file.open(name, std::ios::binary | std::ios::trunc);
        if (!file) {
          std::cerr << "smtpmock send: " << option << ": cannot write " << name << '\n';
          return false;
        }
        stream = &file;
      }
      return true;
    };
    return pick(out_name, out_file, out, "--output-file") &&
           pick(err_name, err_file, err, "--output-file");
  }
};

/// Collects the transcript with timings for --json.
class json_recorder : public session_observer {
 public:
  void info(std::string_view text) override {
    lines.push_back({{"dir", "info"}, {"text", std::string(text)}});
  }
  void event(const timed_event& t) override {
    const auto& ev = t.event;
    nlohmann::json j;
    j["t_ms"] = t.at_ms;
    j["stage"] = std::string(smtp::client_stage_name(ev.stage));
    j["tls"] = ev.tls;
    if (ev.kind == smtp::client_event_kind::sent) {
      j["dir"] = "sent";
      if (ev.stage == smtp::client_stage::message) {
        j["octets"] = ev.octets;
      } else {
        j["lines"] = ev.lines;
      }
    } else {
      j["dir"] = "received";
      j["lines"] = ev.lines;
      j["code"] = ev.parsed.code;
      j["unexpected"] = ev.unexpected;
      if (t.latency_ms >= 0) j["latency_ms"] = t.latency_ms;
    }
    lines.push_back(std::move(j));
  }
  nlohmann::json lines = nlohmann::json::array();
};

nlohmann::json tls_json(const session_report& r) {
  if (!r.tls) return nullptr;
  const auto& t = *r.tls;
  return {{"version", t.version},     {"cipher", t.cipher},
          {"subject", t.subject},     {"issuer", t.issuer},
          {"not_after", t.not_after}, {"days_left", t.days_left},
          {"verified", t.verified},   {"verify_error", t.verify_error}};
}

/// Reads --data, --body and the --attach* list as swaks does and fills `m`; false after
/// printing the problem.
bool compose(const send_settings& s, const smtp::client_options& o, const std::string& host_name,
             message_spec& m) {
  m.from = o.mail_from;
  for (const auto& t : s.to)
    m.to += (m.to.empty() ? "" : ",") + t;
  m.headers = s.headers;
  m.add_headers = s.add_headers;
  m.hostname = host_name;
  m.version = s.version;
  m.no_data_fixup = s.no_data_fixup;
  m.no_strip_from = s.no_strip_from;
  stdin_cache in;
  std::string error;
  auto read = [&](const std::string& arg, argument_kind kind,
                  const char* option) -> std::optional<read_result> {
    auto r = read_argument(arg, kind, in, error);
    if (!r) std::cerr << "smtpmock send: " << option << ": " << error << '\n';
    return r;
  };
  if (s.data) {
    auto r = read(*s.data, argument_kind::data, "--data");
    if (!r) return false;
    m.data = std::move(r->content);
  }
  if (s.body) {
    auto r = read(*s.body, argument_kind::text, "--body");
    if (!r) return false;
    m.body = std::move(r->content);
  }
  // swaks: --attach-type applies to every part after it until a body part resets it; a body
  // part without one is text/plain; --attach-name names the next --attach only.
  std::optional<std::string> type;
  std::optional<std::string> next_name;
  for (const auto& item : s.attach) {
    switch (item.what) {
      case attach_item::kind::type:
        type = item.value;
        break;
      case attach_item::kind::name:
        next_name = item.value;
        break;
      case attach_item::kind::body: {
        auto r = read(item.value, argument_kind::text, "--attach-body");
        if (!r) return false;
        m.body_parts.push_back({std::move(r->content), type.value_or("text/plain"), ""});
        type.reset();
        next_name.reset();
        break;
      }
      case attach_item::kind::attach: {
        auto r = read(item.value, argument_kind::text, "--attach");
        if (!r) return false;
        std::string name = next_name ? *next_name : r->file_name;
        next_name.reset();
        m.attachments.push_back(
            {std::move(r->content), type.value_or("application/octet-stream"), std::move(name)});
        break;
      }
    }
  }
  return true;
}

/// How long the server may wait for the session to end, and the connects (RFC-free choices: a
/// guess must cost little when nothing listens; an explicit API gets longer).
constexpr std::chrono::seconds findings_wait{5};
constexpr std::chrono::milliseconds guess_connect_timeout{1000};
constexpr std::chrono::milliseconds api_connect_timeout{5000};

/// The server's findings of the session `r`, when an API is known and the session connected;
/// nullopt when nothing should be shown (not asked, or a default guess that failed).
std::optional<findings_answer> server_findings(const prepared_send& p, const session_report& r) {
  if (!p.api || !r.connected || r.local_port == 0) return std::nullopt;
  findings_answer a =
      fetch_findings(*p.api, endpoint_text(r.local_ip, r.local_port),
                     p.api_explicit ? api_connect_timeout : guess_connect_timeout, findings_wait);
  if (!a.ok && !p.api_explicit) return std::nullopt;  // a guess that failed: not smtpmock
  return a;
}

void print_findings(transcript_printer& printer, const findings_answer& a) {
  if (!a.ok) {
    printer.info("server findings: unavailable (" + a.error + ")");
  } else if (a.findings.empty()) {
    printer.info("server findings: none");
  } else {
    printer.info("server findings: " + std::to_string(a.findings.size()));
    for (const auto& f : a.findings)
      printer.finding(f.code + " (" + f.severity + "): " + f.text);
  }
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  long long value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc{} || ptr == begin || value < 0) return std::nullopt;
  const std::string unit(ptr, end);
  if (unit.empty() || unit == "s") return std::chrono::milliseconds(value * 1000);
  if (unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "m") return std::chrono::milliseconds(value * 60000);
  return std::nullopt;
}

std::optional<prepared_send> prepare_send(const send_settings& s) {
  prepared_send p;
  const std::string host_name = local_hostname();
  auto usage = [](const std::string& text) {
    std::cerr << "smtpmock send: " << text << '\n';
    return std::nullopt;
  };
  swaks::protocol proto;  // ESMTP
  if (!s.protocol.empty()) {
    auto named = swaks::parse_protocol(s.protocol);
    if (!named)
      return usage("--protocol: unknown protocol '" + s.protocol +
                   "' (SMTP, SSMTP, SSMTPA, SMTPS, ESMTP, ESMTPA, ESMTPS, ESMTPSA, LMTP, LMTPA, "
                   "LMTPS, LMTPSA)");
    proto = *named;
  }
  const bool tls_on_connect = s.tls_on_connect || proto.tls_on_connect;
  if (s.server.empty()) {
    p.where.host = "127.0.0.1";
    p.where.port = 1025;
  } else {
    // swaks: SERVER:PORT, [SERVER]:PORT or SERVER/PORT; a SERVER alone is port 25 (24 for LMTP,
    // 465 with TLS on connect).
    std::string text = s.server;
    if (const auto slash = text.rfind('/'); slash != std::string::npos && text.front() != '[')
      text = "[" + text.substr(0, slash) + "]:" + text.substr(slash + 1);
    auto split = split_host_port(text);
    if (!split) return usage("--server: expected HOST[:PORT], got '" + s.server + "'");
    p.where.host = split->first;
    p.where.port = split->second != 0 ? split->second : tls_on_connect ? 465 : proto.port;
  }
  if (s.port != 0) p.where.port = s.port;
  p.where.timeout = s.timeout;
  p.where.tls_on_connect = tls_on_connect;
  p.where.tls_verify = s.tls_verify;
  p.where.tls_sni = s.tls_sni;
  p.where.tls_cert = s.tls_cert;
  p.where.tls_key = s.tls_key;
  p.where.tls_ca_path = s.tls_ca_path;
  p.where.tls_cipher = s.tls_cipher;
  if (s.tls_cert.empty() != s.tls_key.empty())
    return usage("--tls-cert and --tls-key require each other");
  if (!s.tls_protocol.empty()) {
    std::string error;
    auto versions = swaks::parse_tls_protocol(s.tls_protocol, error);
    if (!versions) return usage("--tls-protocol: " + error);
    p.where.versions = *versions;
  }
  if (auto problem = check_tls_settings(p.where)) return usage(*problem);
  if (s.ipv4 && s.ipv6) return usage("-4 and -6 exclude each other");
  p.where.family = s.ipv4 ? ip_family::v4 : s.ipv6 ? ip_family::v6 : ip_family::any;
  {
    // swaks refuses an address of the other family before it connects (exit 1).
    unsigned char buf[sizeof(in6_addr)];
    const bool v4 = inet_pton(AF_INET, p.where.host.c_str(), buf) == 1;
    const bool v6 = inet_pton(AF_INET6, p.where.host.c_str(), buf) == 1;
    if ((s.ipv6 && v4) || (s.ipv4 && v6))
      return usage(std::string("-") + (s.ipv6 ? "6" : "4") + " is set but the server " +
                   p.where.host + " is an IPv" + (v4 ? "4" : "6") + " address");
  }
  if (!s.local_interface.empty()) {
    auto local = split_host_port(s.local_interface);
    if (!local)
      return usage("--local-interface: expected ADDR[:PORT], got '" + s.local_interface + "'");
    p.where.local_address = local->first;
    p.where.local_port = local->second;
  }
  if (s.local_port != 0) p.where.local_port = s.local_port;
  p.server_text =
      (p.where.host.find(':') != std::string::npos ? "[" + p.where.host + "]" : p.where.host) +
      ":" + std::to_string(p.where.port);

  auto& o = p.options;
  // RFC 5321 4.1.1.1: the client's FQDN, else (4.1.4) an address literal of its end of the
  // connection, which only the driver knows once connected (an empty name asks it for one).
  // NOTE(compat): swaks says its host name even when that is no FQDN ("EHLO vm").
  o.ehlo_name = s.ehlo.empty() ? local_fqdn() : s.ehlo;
  // swaks: the default sender is $LOGNAME@host (getpwuid's name with --force-getpwuid), and
  // "<>" is the null sender.
  o.mail_from = s.from.empty()   ? local_user(s.force_getpwuid) + "@" + host_name
                : s.from == "<>" ? std::string()
                                 : s.from;
  for (const auto& item : s.to) {
    // swaks: --to takes a comma-separated list, and may be repeated.
    std::size_t start = 0;
    while (start <= item.size()) {
      auto comma = item.find(',', start);
      if (comma == std::string::npos) comma = item.size();
      std::string one = item.substr(start, comma - start);
      while (!one.empty() && one.front() == ' ')
        one.erase(0, 1);
      while (!one.empty() && one.back() == ' ')
        one.pop_back();
      if (!one.empty()) o.recipients.push_back(one);
      start = comma + 1;
    }
  }
  // swaks takes both; the session stops at whichever point comes first.
  struct stop_option {
    const std::string& text;
    const char* name;
    bool drop;
    bool on_send;
  };
  for (const auto& [text, name, drop, on_send] :
       {stop_option{s.quit_after, "--quit-after", false, false},
        stop_option{s.drop_after, "--drop-after", true, false},
        stop_option{s.drop_after_send, "--drop-after-send", true, true}}) {
    if (text.empty()) continue;
    auto stop = swaks::parse_stop_point(text, drop, on_send);
    if (!stop) {
      std::cerr << "smtpmock send: " << name << ": unknown stage '" << text << "' ("
                << swaks::stop_point_names(drop) << ")\n";
      return std::nullopt;
    }
    if (!o.stop || stop->after <= o.stop->after) o.stop = stop;
  }
  // swaks: only stopping at RCPT or later needs a recipient.
  const bool needs_rcpt = !o.stop || o.stop->after >= smtp::milestone::rcpt;
  if (o.recipients.empty() && needs_rcpt) {
    std::cerr << "smtpmock send: --to is required\n";
    return std::nullopt;
  }
  o.hello = proto.hello;
  o.starttls = s.tls_optional          ? smtp::starttls_mode::optional
               : s.tls_optional_strict ? smtp::starttls_mode::opportunistic
               : s.tls || proto.tls    ? smtp::starttls_mode::required
                                       : smtp::starttls_mode::off;
  o.tls_on_connect = tls_on_connect;
  // swaks: --auth-user alone implies --auth.
  o.auth =
      s.auth || !s.auth_user.empty() || proto.auth || s.auth_need != smtp::auth_policy::required;
  o.auth_need = s.auth_need;
  o.auth_mechanism = s.auth_mechanism;
  // swaks: "<>" is an empty user name or password.
  o.auth_user = s.auth_user == "<>" ? std::string() : s.auth_user;
  o.auth_password = s.auth_password == "<>" ? std::string() : s.auth_password;
  o.pipeline = s.pipeline;
  o.chunking = s.chunking;
  o.hmac_md5 = &hmac_md5_hex;

  if (!compose(s, o, host_name, p.message)) return std::nullopt;

  // The findings: --api URL, "none" never; without it, a guess for a server on this machine.
  if (s.api == "none") {
    p.api.reset();
  } else if (!s.api.empty()) {
    std::string error;
    p.api = parse_api_url(s.api, error);
    if (!p.api) return usage("--api: " + error);
    p.api_explicit = true;
  } else {
    p.api = guess_api(p.where.host);
  }
  return p;
}

int run_send(const send_settings& s) {
  if (s.count > 0) return run_load(s);
  auto prepared = prepare_send(s);
  if (!prepared) return exit_usage;
  auto& p = *prepared;
  p.options.message = compose_message(p.message, 0);
  if (s.dump_mail) {
    // swaks --dump-mail: the message as it would be sent (CRLF line ends), and nothing sent.
    std::string data = smtp::encode_message_data(p.options.message);
    data.resize(data.size() - 3);  // without the end-of-data "."
    std::cout << data;
    return 0;
  }
  output_streams streams;
  if (!streams.open(s)) return exit_usage;

  if (s.json) {
    json_recorder rec;
    session_report r = run_one(p.where, p.options, rec);
    nlohmann::json out;
    out["server"] = p.server_text;
    out["exit_code"] = r.exit_code();
    out["ok"] = r.exit_code() == 0;
    out["failed_stage"] =
        r.result.failed ? nlohmann::json(std::string(smtp::client_stage_name(*r.result.failed)))
                        : nlohmann::json(nullptr);
    out["error"] =
        r.result.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.result.error);
    out["connect_ms"] = r.connect_ms;
    out["total_ms"] = r.total_ms;
    out["peer"] = r.peer_ip.empty() ? nlohmann::json(nullptr)
                                    : nlohmann::json(r.peer_ip + ":" + std::to_string(r.peer_port));
    out["tls"] = tls_json(r);
    out["extensions"] = r.extensions;
    out["auth"] = r.auth_mechanism.empty()
                      ? nlohmann::json(nullptr)
                      : nlohmann::json{{"mechanism", r.auth_mechanism}, {"ok", r.authenticated}};
    nlohmann::json txns = nlohmann::json::array();
    for (const auto& t : r.result.transactions) {
      txns.push_back({{"accepted", t.accepted},
                      {"recipients_accepted", t.recipients_accepted},
                      {"failed_stage",
                       t.failed ? nlohmann::json(std::string(smtp::client_stage_name(*t.failed)))
                                : nlohmann::json(nullptr)},
                      {"code", t.code},
                      {"final_reply", t.final_reply}});
    }
    out["messages"] = std::move(txns);
    out["transcript"] = std::move(rec.lines);
    // The server's verdict: its findings as GET /api/v1/findings gives them; null when not
    // asked (no API, or a default guess that failed), with server_findings_error set when an
    // explicit --api failed.
    const auto findings = server_findings(p, r);
    out["server_findings"] =
        findings && findings->ok ? nlohmann::json::parse(findings->json) : nlohmann::json(nullptr);
    out["server_findings_error"] =
        findings && !findings->ok ? nlohmann::json(findings->error) : nlohmann::json(nullptr);
    *streams.out << out.dump(2) << '\n';
    return r.exit_code();
  }

  output_options o = s.output;
  // swaks: "<>" is an empty user name or password.
  o.auth_user = s.auth_user == "<>" ? std::string() : s.auth_user;
  o.auth_password = s.auth_password == "<>" ? std::string() : s.auth_password;
  transcript_printer printer(*streams.out, *streams.err, std::move(o));
  session_report r = run_one(p.where, p.options, printer);
  if (r.exit_code() != 0) printer.error(r.result.error);
  // Not asked when nothing of it would show (-S 2 and 3, -ha, -hi).
  if (s.output.silent < 2 && !s.output.hide_informational) {
    if (const auto findings = server_findings(p, r)) print_findings(printer, *findings);
  }
  streams.out->flush();
  return r.exit_code();
}

}  // namespace smtpmock::client
