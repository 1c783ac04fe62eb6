// Tests for the JSON and text views of the store: field shapes, RFC 3339 times, valid JSON
// from arbitrary client bytes, and swaks arrows with control characters escaped.
#include "store/json.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

using namespace smtpmock;
using namespace smtpmock::store;
using nlohmann::json;

namespace {

/// 2026-11-28T12:00:00.123Z
clock::time_point fixed_time() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 28} + hours{12} + milliseconds{123};
}

transcript_line line(direction d, std::string text, bool tls = false, std::string rule = {}) {
  return transcript_line{fixed_time(), d, std::move(text), tls, std::move(rule)};
}

stored_message sample_message() {
  stored_message m;
  m.id = "m1";
  m.session_id = "s1";
  m.received = fixed_time();
  m.env.client_address = "127.0.0.1:5000";
  m.env.helo = "mx.example";
  m.env.esmtp = false;
  m.env.mail_from = "";
  m.env.recipients = {{"bob@example.com", {"NOTIFY=NEVER"}}};
  m.data = "Subject: x\r\n\r\nhello\r\n";
  return m;
}

session_record sample_session() {
  session_record s;
  s.id = "s1";
  s.client_address = "127.0.0.1:5000";
  s.scenario = "greylist";
  s.started = fixed_time();
  s.lines = {line(direction::out, "220 ready", false, "banner"), line(direction::in, "EHLO x"),
             line(direction::info, "TLS started"), line(direction::in, "MAIL FROM:<a@b>", true),
             line(direction::out, "451 4.7.1 try later", true, "greylist")};
  s.message_ids = {"m1"};
  return s;
}

}  // namespace

TEST_CASE("unit: times are RFC 3339 UTC with milliseconds") {
  CHECK(rfc3339(fixed_time()) == "2026-11-28T12:00:00.123Z");
  CHECK(rfc3339(clock::time_point{}) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("unit: envelope JSON has every field in PascalCase") {
  const auto j = json::parse(envelope_json(sample_message().env));
  CHECK(j["ClientAddress"] == "127.0.0.1:5000");
  CHECK(j["Helo"] == "mx.example");
  CHECK(j["ESMTP"] == false);
  CHECK(j["MailFrom"] == "");
  CHECK(j["MailParams"] == json::array());
  REQUIRE(j["Recipients"].size() == 1);
  CHECK(j["Recipients"][0]["Address"] == "bob@example.com");
  CHECK(j["Recipients"][0]["Params"] == json::array({"NOTIFY=NEVER"}));
  CHECK(j["AuthUser"] == "");
  CHECK(j["TLSVersion"] == "");
  CHECK(j["TLSCipher"] == "");
}

TEST_CASE("unit: message JSON carries id, session, time, size, envelope and its transcript range") {
  auto m = sample_message();
  m.transcript_from = 3;
  m.transcript_to = 9;
  const auto j = json::parse(message_json(m));
  CHECK(j["ID"] == "m1");
  CHECK(j["SessionID"] == "s1");
  CHECK(j["Received"] == "2026-11-28T12:00:00.123Z");
  CHECK(j["Size"] == m.data.size());
  CHECK(j["Envelope"]["Helo"] == "mx.example");
  // The lines themselves are in the session's file, written once (not once per message).
  CHECK_FALSE(j.contains("Transcript"));
  CHECK(j["TranscriptLines"] == json{{"From", 3}, {"To", 9}});
}

TEST_CASE("unit: a message's findings go to its spool JSON and come back") {
  auto m = sample_message();
  CHECK(json::parse(message_json(m))["Findings"] == json::array());
  m.findings.push_back(finding_record{"8bit-undeclared", "error", "RFC 6152 3",
                                      "8-bit octets in the message without BODY=8BITMIME on MAIL",
                                      7, m.received});
  const std::string text = message_json(m);
  CHECK(json::parse(text)["Findings"][0]["Line"] == 7);
  const auto back = parse_message_json(text, m.data);
  REQUIRE(back);
  REQUIRE(back->findings.size() == 1);
  CHECK(back->findings[0].code == "8bit-undeclared");
  CHECK(back->findings[0].line == 7);
  CHECK(back->findings[0].at == m.received);
  // A spool written before findings existed loads with none.
  auto old = json::parse(text);
  old.erase("Findings");
  const auto older = parse_message_json(old.dump(), m.data);
  REQUIRE(older);
  CHECK(older->findings.empty());
}

TEST_CASE("unit: the listener of a message and a session is in their JSON and comes back") {
  auto m = sample_message();
  m.listener = listener_ref{"submission", "127.0.0.1:1587"};
  const std::string text = message_json(m);
  CHECK(json::parse(text)["Listener"] ==
        json{{"Name", "submission"}, {"Address", "127.0.0.1:1587"}});
  const auto back = parse_message_json(text, m.data);
  REQUIRE(back);
  CHECK(back->listener.name == "submission");
  CHECK(back->listener.address == "127.0.0.1:1587");
  auto s = sample_session();
  s.listener = listener_ref{"1025", "[::1]:1025"};
  const auto again = parse_session_json(session_json(s));
  REQUIRE(again);
  CHECK(again->listener.name == "1025");
  CHECK(again->listener.address == "[::1]:1025");
}

TEST_CASE("unit: session JSON carries every transcript field") {
  const auto s = sample_session();
  const auto with = json::parse(session_json(s));
  REQUIRE(with["Transcript"].size() == 5);
  const auto& first = with["Transcript"][0];
  CHECK(first["Time"] == "2026-11-28T12:00:00.123Z");
  CHECK(first["Direction"] == "out");
  CHECK(first["Text"] == "220 ready");
  CHECK(first["TLS"] == false);
  CHECK(first["Rule"] == "banner");
  CHECK(with["Transcript"][1]["Direction"] == "in");
  CHECK(with["Transcript"][1]["Rule"] == "");
  CHECK(with["Transcript"][2]["Direction"] == "info");
  CHECK(with["Transcript"][3]["TLS"] == true);
}

TEST_CASE("unit: session JSON has null Ended while open and a time once closed") {
  auto s = sample_session();
  auto j = json::parse(session_json(s));
  CHECK(j["ID"] == "s1");
  CHECK(j["ClientAddress"] == "127.0.0.1:5000");
  CHECK(j["Scenario"] == "greylist");
  CHECK(j["Started"] == "2026-11-28T12:00:00.123Z");
  CHECK(j["Ended"].is_null());
  CHECK(j["Truncated"] == false);
  CHECK(j["MessageIDs"] == json::array({"m1"}));
  CHECK(j["Transcript"].size() == 5);

  s.ended = fixed_time() + std::chrono::seconds{2};
  s.truncated = true;
  j = json::parse(session_json(s));
  CHECK(j["Ended"] == "2026-11-28T12:00:02.123Z");
  CHECK(j["Truncated"] == true);
}

TEST_CASE("unit: control bytes and invalid UTF-8 still give valid JSON") {
  session_record s = sample_session();
  s.lines = {line(direction::in, std::string("EHLO \x1b[2J\x00\xff\xc3(", 13)),
             line(direction::in, "caf\xc3\xa9 \"quoted\" \\ back")};
  const std::string text = session_json(s);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\0') == std::string::npos);
  CHECK(text.find("\\u001b") != std::string::npos);
  const auto j = json::parse(text);  // throws on invalid JSON or invalid UTF-8
  CHECK(j["Transcript"][0]["Text"] ==
        "EHLO \x1b[2J" + std::string(1, '\0') + "\xef\xbf\xbd\xef\xbf\xbd(");
  CHECK(j["Transcript"][1]["Text"] == "caf\xc3\xa9 \"quoted\" \\ back");

  stored_message m = sample_message();
  m.env.helo = "\xfe\x07";
  CHECK(json::parse(message_json(m))["Envelope"]["Helo"] == "\xef\xbf\xbd\x07");
}

TEST_CASE("unit: transcript text uses swaks arrows with TLS and rules") {
  const auto s = sample_session();
  CHECK(transcript_text(s) ==
        "<- 220 ready  [rule: banner]\n"
        " -> EHLO x\n"
        "=== TLS started\n"
        " ~> MAIL FROM:<a@b>\n"
        "<~ 451 4.7.1 try later  [rule: greylist]\n");
  CHECK(transcript_text(session_record{}).empty());
}

TEST_CASE("unit: transcript text escapes control characters and invalid UTF-8") {
  session_record s;
  s.lines = {line(direction::in, std::string("EHLO \x1b[31mred\x00\t\x7f", 16)),
             line(direction::in, "bad \xff\xc3( ok caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"),
             line(direction::in,
                  "c1 \xc2\x9b"
                  "2J overlong \xc0\xaf surrogate \xed\xa0\x80")};
  const std::string text = transcript_text(s);
  CHECK(text ==
        " -> EHLO \\x1b[31mred\\x00\\x09\\x7f\n"
        " -> bad \\xff\\xc3( ok caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\n"
        " -> c1 \\xc2\\x9b2J overlong \\xc0\\xaf surrogate \\xed\\xa0\\x80\n");
}

TEST_CASE("unit: a multi-line reply entry is listed and printed as one line each") {
  session_record s;
  s.id = "S1";
  s.client_address = "127.0.0.1:1";
  s.scenario = "default";
  s.started = clock::now();
  s.lines = {line(direction::in, "EHLO x"),
             line(direction::out, "250-mx\r\n250 PIPELINING", false, "ehlo-rule")};
  s.shown = 3;
  const auto j = json::parse(session_json(s));
  REQUIRE(j["Transcript"].size() == 3);
  CHECK(j["Transcript"][1]["Text"] == "250-mx");
  CHECK(j["Transcript"][2]["Text"] == "250 PIPELINING");
  CHECK(j["Transcript"][2]["Rule"] == "ehlo-rule");
  CHECK(j["Transcript"][2]["Direction"] == "out");
  CHECK(transcript_text(s) ==
        " -> EHLO x\n<- 250-mx  [rule: ehlo-rule]\n<- 250 PIPELINING  [rule: ehlo-rule]\n");
  // Read back from the spool, each shown line is an entry of its own; the count agrees.
  const auto back = parse_session_json(session_json(s));
  REQUIRE(back);
  CHECK(back->lines.size() == 3);
  CHECK(back->shown == 3);
  CHECK(back->message_mark == 3);
}

TEST_CASE("unit: findings in the session JSON, the spool and the text transcript") {
  message_store store;
  store.open_session("S1", "127.0.0.1:1", "default");
  store.append("S1", line(direction::out, "220 mx"));
  store.add_finding(
      "S1", finding_record{"early", "warning", "RFC 1", "before any line", 0, fixed_time()});
  store.append("S1", line(direction::in, "MAIL FROM:<a@x>"));
  store.add_finding("S1", finding_record{"no-helo", "error", "RFC 5321 4.1.4",
                                         "MAIL before HELO or EHLO", 0, fixed_time()});
  store.append("S1", line(direction::out, "503 5.5.1 EHLO first"));
  store.add_finding("S1", finding_record{"no-quit", "warning", "RFC 5321 4.1.1.10",
                                         "the client closed without QUIT", 0, fixed_time()});
  const auto s = store.session("S1");
  REQUIRE(s);
  REQUIRE(s->findings.size() == 3);
  CHECK(s->findings[1].line == 2);  // follows the MAIL line
  const auto j = json::parse(session_json(*s));
  REQUIRE(j["Findings"].size() == 3);
  CHECK(j["Findings"][1] == json{{"Code", "no-helo"},
                                 {"Severity", "error"},
                                 {"RFC", "RFC 5321 4.1.4"},
                                 {"Text", "MAIL before HELO or EHLO"},
                                 {"Line", 2},
                                 {"Time", "2026-11-28T12:00:00.123Z"}});
  CHECK(transcript_text(*s) ==
        "<- 220 mx\n!! early: before any line\n -> MAIL FROM:<a@x>\n"
        "!! no-helo: MAIL before HELO or EHLO\n<- 503 5.5.1 EHLO first\n"
        "!! no-quit: the client closed without QUIT\n");
  const auto back = parse_session_json(session_json(*s));
  REQUIRE(back);
  REQUIRE(back->findings.size() == 3);
  CHECK(back->findings[2].code == "no-quit");
  CHECK(back->findings[2].line == 3);
  CHECK(store.session_summaries().at(0).findings.size() == 3);
}
