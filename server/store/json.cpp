// JSON and text views of the store, the only translation unit that includes nlohmann/json.
// Client text is arbitrary bytes: JSON is dumped with invalid UTF-8 replaced (U+FFFD) and
// control characters escaped by the library; the text view escapes control characters and
// invalid UTF-8 itself, so nothing raw reaches a terminal.
#include "store/json.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace smtpmock::store {

namespace {

// Ordered, so the fields come out in the documented (Mailpit-like) order.
using json = nlohmann::ordered_json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

const char* direction_name(direction d) {
  switch (d) {
    case direction::in:
      return "in";
    case direction::out:
      return "out";
    case direction::info:
      return "info";
  }
  return "info";
}

json strings(const std::vector<std::string>& v) {
  json a = json::array();
  for (const auto& s : v)
    a.push_back(s);
  return a;
}

json envelope_object(const smtp::envelope& env) {
  json recipients = json::array();
  for (const auto& r : env.recipients) {
    recipients.push_back(json{{"Address", r.address}, {"Params", strings(r.params)}});
  }
  return json{{"ClientAddress", env.client_address},
              {"Helo", env.helo},
              {"ESMTP", env.esmtp},
              {"MailFrom", env.mail_from},
              {"MailParams", strings(env.mail_params)},
              {"Recipients", std::move(recipients)},
              {"AuthUser", env.auth_user},
              {"TLSVersion", env.tls_version},
              {"TLSCipher", env.tls_cipher}};
}

/// Appends the lines `entry` is shown as to array `a`.
void append_shown(json& a, const transcript_line& entry) {
  for_each_shown(entry, [&](const transcript_line& l, std::string_view text) {
    a.push_back(json{{"Time", rfc3339(l.at)},
                     {"Direction", direction_name(l.dir)},
                     {"Text", text},
                     {"TLS", l.tls},
                     {"Rule", l.rule}});
  });
}

json transcript_array(const std::vector<transcript_line>& lines) {
  json a = json::array();
  for (const auto& entry : lines)
    append_shown(a, entry);
  return a;
}

void append_hex(std::string& out, unsigned char c) {
  static constexpr char digits[] = "0123456789abcdef";
  out += "\\x";
  out.push_back(digits[c >> 4]);
  out.push_back(digits[c & 0xf]);
}

/// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629 section 4), or 0.
/// Also returns 0 for C1 controls (U+0080..U+009F), which some terminals obey.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xc0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xc2 && c <= 0xdf) {
    if (!cont(1)) return 0;
    return c == 0xc2 && b(1) <= 0x9f ? 0 : 2;
  }
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(1) > 0x9f) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xf4 && b(1) > 0x8f) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

/// Client text made safe for a terminal: control bytes and invalid UTF-8 as \xNN.
std::string escape_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        append_hex(out, c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence(s.substr(i));
    if (n == 0) {
      append_hex(out, c);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace

std::string rfc3339(clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::string envelope_json(const smtp::envelope& env) {
  return dump(envelope_object(env));
}

/// [{Code, Severity, RFC, Text, Line, Time}], as the API shows them.
static json findings_json(const std::vector<finding_record>& findings) {
  json out = json::array();
  for (const auto& f : findings) {
    out.push_back(json{{"Code", f.code},
                       {"Severity", f.severity},
                       {"RFC", f.rfc},
                       {"Text", f.text},
                       {"Line", f.line},
                       {"Time", rfc3339(f.at)}});
  }
  return out;
}

/// {Name, Address}: the listener a session came in on.
static json listener_json(const listener_ref& l) {
  return json{{"Name", l.name}, {"Address", l.address}};
}

std::string message_json(const stored_message& m) {
  json j{
      {"ID", m.id},
      {"SessionID", m.session_id},
      {"Listener", listener_json(m.listener)},
      {"Scenario", m.scenario},
      {"Received", rfc3339(m.received)},
      // Received to the nanosecond: messages of one millisecond keep their order when the
      // spool is loaded back.
      {"ReceivedUnixNano",
       std::chrono::duration_cast<std::chrono::nanoseconds>(m.received.time_since_epoch()).count()},
      {"Size", m.data.size()},
      {"Envelope", envelope_object(m.env)},
      // Indexes into the Transcript of session-<SessionID>.json: [From, To).
      {"TranscriptLines", json{{"From", m.transcript_from}, {"To", m.transcript_to}}},
      {"Findings", findings_json(m.findings)}};
  return dump(j);
}

std::string shown_lines_json(const transcript_line& entry) {
  json a = json::array();
  append_shown(a, entry);
  return dump(a);
}

std::string session_json(const session_record& s) {
  json j{{"ID", s.id},
         {"ClientAddress", s.client_address},
         {"Scenario", s.scenario},
         {"Listener", listener_json(s.listener)},
         {"Started", rfc3339(s.started)},
         {"Ended", s.ended ? json(rfc3339(*s.ended)) : json(nullptr)},
         {"Truncated", s.truncated},
         {"MessageIDs", strings(s.message_ids)},
         {"Findings", findings_json(s.findings)},
         {"Rules", strings(s.rules)},
         {"Closed", s.closed.empty() ? json(nullptr) : json(std::string(s.closed))},
         {"Transcript", transcript_array(s.lines)}};
  return dump(j);
}

std::optional<clock::time_point> parse_rfc3339(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  char z = 0;
  const std::string copy(text);
  if (text.size() != 24 ||
      std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms,
                  &z) != 8 ||
      z != 'Z') {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return clock::time_point(sys_days(ymd).time_since_epoch() + hours(h) + minutes(mi) +
                           seconds(sec) + milliseconds(ms));
}

namespace {

std::vector<std::string> string_list(const json& j) {
  std::vector<std::string> out;
  for (const auto& v : j)
    out.push_back(v.get<std::string>());
  return out;
}

smtp::envelope parse_envelope(const json& e) {
  smtp::envelope env;
  env.client_address = e.at("ClientAddress").get<std::string>();
  env.helo = e.at("Helo").get<std::string>();
  env.esmtp = e.at("ESMTP").get<bool>();
  env.mail_from = e.at("MailFrom").get<std::string>();
  env.mail_params = string_list(e.at("MailParams"));
  for (const auto& r : e.at("Recipients")) {
    env.recipients.push_back(
        smtp::recipient{r.at("Address").get<std::string>(), string_list(r.at("Params"))});
  }
  env.auth_user = e.at("AuthUser").get<std::string>();
  env.tls_version = e.at("TLSVersion").get<std::string>();
  env.tls_cipher = e.at("TLSCipher").get<std::string>();
  return env;
}

clock::time_point time_at(const json& j, const char* key) {
  auto t = parse_rfc3339(j.at(key).get<std::string>());
  if (!t) throw std::invalid_argument(std::string("bad time in ") + key);
  return *t;
}

/// The "Listener" of a spooled message or session (absent in older spools: none known).
listener_ref parse_listener(const json& j) {
  if (!j.contains("Listener")) return {};
  const json& l = j["Listener"];
  return listener_ref{l.at("Name").get<std::string>(), l.at("Address").get<std::string>()};
}

/// The "Findings" of a spooled message or session (absent in older spools: none).
std::vector<finding_record> parse_findings(const json& j) {
  std::vector<finding_record> out;
  if (!j.contains("Findings")) return out;
  for (const auto& f : j["Findings"]) {
    out.push_back(finding_record{f.at("Code").get<std::string>(),
                                 f.at("Severity").get<std::string>(),
                                 f.at("RFC").get<std::string>(), f.at("Text").get<std::string>(),
                                 f.at("Line").get<std::size_t>(), time_at(f, "Time")});
  }
  return out;
}

}  // namespace

std::optional<stored_message> parse_message_json(std::string_view text, std::string data) try {
  const json j = json::parse(text);
  stored_message m;
  m.id = j.at("ID").get<std::string>();
  m.session_id = j.at("SessionID").get<std::string>();
  m.listener = parse_listener(j);
  if (j.contains("Scenario")) m.scenario = j["Scenario"].get<std::string>();  // older spools: none
  m.received = time_at(j, "Received");
  if (j.contains("ReceivedUnixNano")) {
    m.received = clock::time_point(std::chrono::duration_cast<clock::duration>(
        std::chrono::nanoseconds(j["ReceivedUnixNano"].get<long long>())));
  }
  m.env = parse_envelope(j.at("Envelope"));
  if (j.at("Size").get<std::size_t>() != data.size()) return std::nullopt;  // a torn .eml
  m.data = std::move(data);
  if (j.contains("TranscriptLines")) {
    m.transcript_from = j["TranscriptLines"].at("From").get<std::size_t>();
    m.transcript_to = j["TranscriptLines"].at("To").get<std::size_t>();
  }
  m.findings = parse_findings(j);
  return m;
} catch (const std::exception&) {
  return std::nullopt;
}

std::optional<session_record> parse_session_json(std::string_view text) try {
  const json j = json::parse(text);
  session_record s;
  s.id = j.at("ID").get<std::string>();
  s.client_address = j.at("ClientAddress").get<std::string>();
  s.scenario = j.at("Scenario").get<std::string>();
  s.listener = parse_listener(j);
  s.started = time_at(j, "Started");
  if (!j.at("Ended").is_null()) s.ended = time_at(j, "Ended");
  s.truncated = j.at("Truncated").get<bool>();
  s.message_ids = string_list(j.at("MessageIDs"));
  for (const auto& l : j.at("Transcript")) {
    transcript_line line;
    line.at = time_at(l, "Time");
    const std::string dir = l.at("Direction").get<std::string>();
    line.dir = dir == "in" ? direction::in : dir == "out" ? direction::out : direction::info;
    line.text = l.at("Text").get<std::string>();
    line.tls = l.at("TLS").get<bool>();
    line.rule = l.at("Rule").get<std::string>();
    s.bytes += line_cost(line);
    s.shown += shown_lines(line);
    s.lines.push_back(std::move(line));
  }
  s.findings = parse_findings(j);
  s.message_mark = s.shown;
  return s;
} catch (const std::exception&) {
  return std::nullopt;
}

std::string transcript_text(const session_record& s) {
  std::string out;
  // Findings follow the line they point at: "!! CODE: text".
  std::size_t shown = 0;
  std::size_t next = 0;
  auto findings_up_to = [&](std::size_t line) {
    for (; next < s.findings.size() && s.findings[next].line <= line; ++next) {
      out += "!! ";
      out += s.findings[next].code;
      out += ": ";
      out += escape_text(s.findings[next].text);
      out += "\n";
    }
  };
  findings_up_to(0);
  for (const auto& entry : s.lines) {
    for_each_shown(entry, [&](const transcript_line& l, std::string_view text) {
      // swaks arrows: client " -> " (" ~> " inside TLS), server "<- " ("<~ "), notes "=== ".
      switch (l.dir) {
        case direction::in:
          out += l.tls ? " ~> " : " -> ";
          break;
        case direction::out:
          out += l.tls ? "<~ " : "<- ";
          break;
        case direction::info:
          out += "=== ";
          break;
      }
      out += escape_text(text);
      if (l.dir == direction::out && !l.rule.empty()) {
        out += "  [rule: ";
        out += escape_text(l.rule);
        out += "]";
      }
      out += "\n";
      findings_up_to(++shown);
    });
  }
  findings_up_to(static_cast<std::size_t>(-1));
  return out;
}

}  // namespace smtpmock::store
