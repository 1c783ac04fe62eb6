// `smtpmock record`: one send-like session, its replies captured per stage, written as YAML by
// hand (yaml-cpp belongs to scenario/; every value is a double-quoted scalar, so no server text
// can change the file's structure).
#include "client/record.hpp"

#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "client/driver.hpp"
#include "client/message.hpp"
#include "client/send.hpp"

namespace smtpmock::client {
namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

/// A scenario name from a host: lowercase letters, digits and dashes.
std::string name_from(const std::string& host) {
  std::string out = "recorded-";
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
  }
  return out;
}

}  // namespace

std::string yaml_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int run_record(const record_settings& s) {
  auto split = split_host_port(s.target);
  if (!split) {
    std::cerr << "smtpmock record: expected HOST[:PORT], got '" << s.target << "'\n";
    return exit_usage;
  }
  connection_settings where;
  where.host = split->first;
  where.port = s.port != 0 ? s.port : split->second != 0 ? split->second : 25;
  where.timeout = s.timeout;
  where.tls_on_connect = s.tls_on_connect;

  const std::string local = local_hostname();
  smtp::client_options o;
  o.ehlo_name = s.ehlo.empty() ? local : s.ehlo;
  o.mail_from = s.from.empty() ? "smtpmock-record@" + local : s.from;
  const bool host_is_name = where.host.find_first_not_of("0123456789.:") != std::string::npos;
  o.recipients = {s.to.empty() ? "postmaster@" + (host_is_name ? where.host : "localhost") : s.to};
  o.tls_on_connect = s.tls_on_connect;
  o.message =
      "Subject: smtpmock record\n\nThis test message was sent by smtpmock record to learn "
      "the server's replies.\n";

  reply_collector got;
  session_report r = run_one(where, o, got);
  const std::string server = where.host + ":" + std::to_string(where.port);
  if (!r.connected) {
    std::cerr << "smtpmock record: " << r.connect_error << '\n';
    return 2;
  }
  if (r.banner.code == 0) {
    std::cerr << "smtpmock record: no banner from " << server << ": " << r.result.error << '\n';
    return r.exit_code();
  }

  std::ostringstream y;
  y << "# Recorded by `smtpmock record` from " << server << " (" << r.peer_ip << ") at "
    << utc_now() << ".\n";
  y << "# Replay it: smtpmock serve --scenario FILE. The banner, the EHLO greeting and the\n"
       "# extension list are the server's, in order; the reply texts are the ones it sent.\n";
  const std::string banner = r.banner.lines.empty() ? std::string() : r.banner.lines.back();
  if (r.banner.lines.size() > 1) {
    y << "# NOTE: the banner had " << r.banner.lines.size()
      << " lines; a scenario banner has one, the last:\n";
    for (const auto& line : r.banner.lines)
      y << "#   " << r.banner.code << " " << line << "\n";
  }
  const std::string hostname = banner.substr(0, banner.find(' '));
  y << "name: " << yaml_quote(s.name.empty() ? name_from(where.host) : s.name) << "\n";
  y << "description: " << yaml_quote("Recorded from " + server) << "\n";
  y << "hostname: " << yaml_quote(hostname.empty() ? "localhost" : hostname) << "\n";
  y << "banner: " << yaml_quote(banner) << "\n";

  const auto ehlo = got.replies.find(smtp::client_stage::ehlo);
  const bool esmtp = ehlo != got.replies.end() && ehlo->second.klass() == 2;
  const smtp::reply greeting = esmtp ? ehlo->second : r.ehlo;
  y << "ehlo:\n";
  if (!esmtp) y << "  # NOTE: the server refused EHLO; it greeted HELO with this text.\n";
  y << "  greeting: " << yaml_quote(greeting.lines.empty() ? hostname : greeting.lines.front())
    << "\n";
  bool auth = false;
  if (!esmtp || greeting.lines.size() <= 1) {
    y << "  extensions: []\n";
  } else {
    y << "  extensions:\n";
    for (std::size_t i = 1; i < greeting.lines.size(); ++i) {
      const std::string& ext = greeting.lines[i];
      const bool bad_spacing = ext.empty() || ext.front() == ' ' || ext.back() == ' ';
      const std::string keyword = ext.substr(0, ext.find(' '));
      if (bad_spacing || ext == "AUTH") {
        y << "    # NOTE: not replayable: " << yaml_quote(ext) << "\n";
        continue;
      }
      if (keyword == "AUTH" || keyword.rfind("AUTH=", 0) == 0) auth = true;
      y << "    - " << yaml_quote(ext) << "\n";
    }
  }

  // The reply texts, by scenario key; only replies of the class a scenario allows are kept.
  struct key_row {
    const char* key;
    smtp::client_stage stage;
    int klass;
  };
  const key_row keys[] = {{"mail", smtp::client_stage::mail, 2},
                          {"rcpt", smtp::client_stage::rcpt, 2},
                          {"data", smtp::client_stage::data, 3},
                          {"message", smtp::client_stage::message, 2},
                          {"quit", smtp::client_stage::quit, 2}};
  std::ostringstream replies;
  for (const auto& k : keys) {
    auto it = got.replies.find(k.stage);
    if (it == got.replies.end()) continue;
    const smtp::reply& rep = it->second;
    std::string text = std::to_string(rep.code);
    if (!rep.lines.empty() && !rep.lines.front().empty()) text += " " + rep.lines.front();
    if (k.stage == smtp::client_stage::rcpt)
      text = replace_all(text, o.recipients[0], "{recipient}");
    if (k.stage == smtp::client_stage::mail) text = replace_all(text, o.mail_from, "{sender}");
    if (rep.klass() != k.klass) {
      replies << "  # NOTE: " << k.key << " was answered " << yaml_quote(text)
              << "; a scenario's success text cannot hold it\n";
      continue;
    }
    if (rep.lines.size() > 1) replies << "  # NOTE: a multi-line reply; its first line is kept\n";
    replies << "  " << k.key << ": " << yaml_quote(text) << "\n";
  }
  const std::string reply_text = replies.str();
  y << (reply_text.empty() ? "replies: {}\n" : "replies:\n" + reply_text);
  if (auth) {
    y << "# The server offered AUTH; the replay accepts any credentials.\n";
    y << "auth:\n  accept_any: true\n";
  }
  if (r.exit_code() != 0) {
    y << "# NOTE: the recorded session ended with exit " << r.exit_code() << ": "
      << replace_all(r.result.error, "\n", " ") << "\n";
  }

  if (s.output == "-") {
    std::cout << y.str();
  } else {
    std::ofstream out(s.output, std::ios::binary | std::ios::trunc);
    out << y.str();
    if (!out.flush()) {
      std::cerr << "smtpmock record: cannot write " << s.output << '\n';
      return exit_usage;
    }
    std::cout << "=== recorded " << server << " to " << s.output << '\n';
  }
  return r.exit_code();
}

}  // namespace smtpmock::client
