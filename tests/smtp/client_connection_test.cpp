// The client core fed bytes by hand (reply parsing, matching, exit codes, STARTTLS injection),
// and wired to a server_connection in memory for whole sessions (h11's tests/helpers.py idea):
// every byte the client writes is what the server reads, and the other way round.
#include <doctest/doctest.h>

#include "harness.hpp"
#include "smtp/base64.hpp"
#include "smtp/client_connection.hpp"

using namespace smtpmock;
using smtp::client_event;
using smtp::client_event_kind;
using smtp::client_stage;

namespace {

smtp::client_options basic() {
  smtp::client_options o;
  o.ehlo_name = "client.example";
  o.mail_from = "alice@example.com";
  o.recipients = {"bob@example.net"};
  o.message = "Subject: hi\r\n\r\nhello\r\n";
  // The same stand-in as the server harness: the core only compares digests.
  o.hmac_md5 = [](std::string_view key, std::string_view message) {
    return "hmac(" + std::string(key) + "," + std::string(message) + ")";
  };
  return o;
}

/// The server of most tests: an explicit list, so changes to the default scenario do not matter.
smtp::personality modern() {
  smtp::personality p = smtp::default_personality();
  p.extensions = {"PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES",
                  "AUTH PLAIN LOGIN"};
  return p;
}

/// A client and a server core talking in memory until the client finishes.
struct wired {
  explicit wired(smtp::client_options o, smtp::personality p = modern())
      : server(std::move(p)), client(std::move(o)) {}

  smtp::client_result run() {
    client.receive_data(server.start());
    for (int guard = 0; guard < 100000; ++guard) {
      client_event ev = client.next_event();
      switch (ev.kind) {
        case client_event_kind::sent:
        case client_event_kind::received:
          events.push_back(ev);
          break;
        case client_event_kind::need_data: {
          std::string out = client.take_output();
          REQUIRE_MESSAGE(!out.empty(), "the client waits for a reply it never asked for");
          wire_out += out;
          ++writes;
          std::string back = server.feed(out);
          wire_in += back;
          client.receive_data(back);
          if (server.closed) client.receive_eof();
          break;
        }
        case client_event_kind::start_tls:
          ++handshakes;
          server.conn.tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256");
          client.tls_started();
          break;
        case client_event_kind::finished: {
          std::string out = client.take_output();
          wire_out += out;
          if (!out.empty()) server.feed(out);
          return client.result();
        }
      }
    }
    FAIL("the session did not finish");
    return {};
  }

  /// The commands the client sent, in order (first line of each sent event).
  std::vector<std::string> sent() const {
    std::vector<std::string> out;
    for (const auto& ev : events)
      if (ev.kind == client_event_kind::sent && !ev.lines.empty()) out.push_back(ev.lines.front());
    return out;
  }

  test::harness server;
  smtp::client_connection client;
  std::vector<client_event> events;
  std::string wire_out;
  std::string wire_in;
  int writes = 0;
  int handshakes = 0;
};

/// Feeds `replies` to a fresh client one read at a time; returns its result.
smtp::client_result scripted(smtp::client_options o, const std::vector<std::string>& replies,
                             bool eof_at_end = true) {
  smtp::client_connection c(std::move(o));
  std::size_t next = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    auto ev = c.next_event();
    if (ev.kind == client_event_kind::finished) return c.result();
    if (ev.kind != client_event_kind::need_data) continue;
    c.take_output();
    if (next < replies.size()) {
      c.receive_data(replies[next++]);
    } else if (eof_at_end) {
      c.receive_eof();
    } else {
      c.timeout();
    }
  }
  FAIL("no finish");
  return {};
}

}  // namespace

TEST_CASE("unit: client: dot-stuffing and CRLF normalisation of the message data") {
  CHECK(smtp::encode_message_data("a\nb\r\n") == "a\r\nb\r\n.\r\n");
  CHECK(smtp::encode_message_data("a\rb") == "a\r\nb\r\n.\r\n");
  CHECK(smtp::encode_message_data(".x\n..y\n.\nz.\n") == "..x\r\n...y\r\n..\r\nz.\r\n.\r\n");
  CHECK(smtp::encode_message_data("") == ".\r\n");
  CHECK(smtp::encode_message_data("no end") == "no end\r\n.\r\n");
  CHECK(smtp::encode_message_data("\r\n.") == "\r\n..\r\n.\r\n");
}

TEST_CASE("unit: client: a whole unpipelined session against the server core") {
  auto o = basic();
  o.message = "Subject: dots\n\n.leading dot\n..two\n.\nend";
  wired w(o);
  auto r = w.run();
  CHECK_FALSE(r.failed);
  REQUIRE(r.transactions.size() == 1);
  CHECK(r.transactions[0].accepted);
  CHECK(w.sent() == std::vector<std::string>{"EHLO client.example", "MAIL FROM:<alice@example.com>",
                                             "RCPT TO:<bob@example.net>", "DATA", "Subject: dots",
                                             "QUIT"});
  REQUIRE(w.server.stored.size() == 1);
  // The server unstuffs what the client stuffed: the stored bytes are the message, CRLF'd.
  CHECK(w.server.stored[0].data == "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n");
  CHECK(w.server.stored[0].env.helo == "client.example");
  CHECK(w.client.extensions().front() == "PIPELINING");
  CHECK(w.client.banner().code == 220);
}

TEST_CASE("unit: client: BODY=8BITMIME and SMTPUTF8 on MAIL when the message needs them") {
  // The server core judges the client: what the client declares, the server finds no fault in.
  auto o = basic();
  o.message = "Subject: caf\xc3\xa9\r\n\r\nd\xc3\xa9j\xc3\xa0 vu\r\n";
  o.recipients = {
      "b\xc3\xb6"
      "b@example.net"};
  auto p = modern();
  p.extensions.push_back("SMTPUTF8");
  wired w(o, p);
  CHECK_FALSE(w.run().failed);
  CHECK(w.sent().at(1) == "MAIL FROM:<alice@example.com> BODY=8BITMIME SMTPUTF8");
  CHECK(w.server.conn.findings().empty());
  // Nothing to declare: a plain MAIL, and no finding either.
  wired plain(basic());
  CHECK_FALSE(plain.run().failed);
  CHECK(plain.sent().at(1) == "MAIL FROM:<alice@example.com>");
  CHECK(plain.server.conn.findings().empty());
  // Not advertised: never sent (the server then notes 8bit-undeclared, rightly).
  auto bare = modern();
  std::erase(bare.extensions, "8BITMIME");
  auto eight = basic();
  eight.message = o.message;
  wired w2(eight, bare);
  w2.run();
  CHECK(w2.sent().at(1) == "MAIL FROM:<alice@example.com>");
  REQUIRE(w2.server.conn.findings().size() == 1);
  CHECK(std::string(w2.server.conn.findings()[0].kind->code) == "8bit-undeclared");
}

TEST_CASE("unit: client: --chunking sends one BDAT LAST chunk where CHUNKING is advertised") {
  auto o = basic();
  o.chunking = true;
  o.pipeline = true;
  o.message = "Subject: c\n\n.not stuffed in BDAT\nend";
  auto p = modern();
  p.extensions.push_back("CHUNKING");
  wired w(o, p);
  CHECK_FALSE(w.run().failed);
  const std::string data = "Subject: c\r\n\r\n.not stuffed in BDAT\r\nend\r\n";
  CHECK(w.sent().at(3) == "BDAT " + std::to_string(data.size()) + " LAST");
  CHECK(w.wire_out.find("BDAT " + std::to_string(data.size()) + " LAST\r\n" + data) !=
        std::string::npos);
  REQUIRE(w.server.stored.size() == 1);
  CHECK(w.server.stored[0].data == data);
  CHECK(w.server.conn.findings().empty());
  CHECK(smtp::encode_chunk_data("a\nb") == "a\r\nb\r\n");
  CHECK(smtp::encode_chunk_data("") == "");
  // Without CHUNKING advertised: DATA, as if not asked.
  wired d(o);
  CHECK_FALSE(d.run().failed);
  CHECK(d.sent().at(3) == "DATA");
  CHECK(d.server.conn.findings().empty());
}

TEST_CASE("unit: client: PIPELINING sends MAIL, RCPTs and DATA in one write") {
  auto o = basic();
  o.pipeline = true;
  o.recipients = {"a@x.example", "b@x.example", "c@x.example"};
  wired w(o);
  auto r = w.run();
  CHECK_FALSE(r.failed);
  CHECK(w.wire_out.find("MAIL FROM:<alice@example.com>\r\nRCPT TO:<a@x.example>\r\n"
                        "RCPT TO:<b@x.example>\r\nRCPT TO:<c@x.example>\r\nDATA\r\n") !=
        std::string::npos);
  // EHLO, the group, the message, QUIT.
  CHECK(w.writes == 4);
  REQUIRE(w.server.stored.size() == 1);
  CHECK(w.server.stored[0].env.recipients.size() == 3);
  // Each reply was matched to its own command.
  std::vector<std::pair<client_stage, int>> got;
  for (const auto& ev : w.events)
    if (ev.kind == client_event_kind::received) got.emplace_back(ev.stage, ev.parsed.code);
  CHECK(got == std::vector<std::pair<client_stage, int>>{{client_stage::banner, 220},
                                                         {client_stage::ehlo, 250},
                                                         {client_stage::mail, 250},
                                                         {client_stage::rcpt, 250},
                                                         {client_stage::rcpt, 250},
                                                         {client_stage::rcpt, 250},
                                                         {client_stage::data, 354},
                                                         {client_stage::message, 250},
                                                         {client_stage::quit, 221}});
}

TEST_CASE("unit: client: --pipeline without PIPELINING advertised waits for each reply") {
  auto p = modern();
  p.extensions = {"DSN"};
  auto o = basic();
  o.pipeline = true;
  wired w(o, p);
  CHECK_FALSE(w.run().failed);
  CHECK(w.writes == 6);  // EHLO, MAIL, RCPT, DATA, message, QUIT
}

TEST_CASE("unit: client: several messages on one connection") {
  for (bool pipeline : {false, true}) {
    auto o = basic();
    o.pipeline = pipeline;
    o.transactions = 5;
    o.make_message = [](std::size_t i) { return "Subject: " + std::to_string(i) + "\n\nx\n"; };
    wired w(o);
    auto r = w.run();
    CHECK_FALSE(r.failed);
    CHECK(r.transactions.size() == 5);
    REQUIRE(w.server.stored.size() == 5);
    CHECK(w.server.stored[4].data == "Subject: 4\r\n\r\nx\r\n");
  }
}

TEST_CASE("unit: client: AUTH PLAIN, LOGIN and CRAM-MD5 against the server core") {
  auto p = modern();
  p.extensions = {"PIPELINING", "AUTH PLAIN LOGIN CRAM-MD5"};
  p.auth.accept_any = false;
  p.auth.users = {{"alice", "secret"}};
  for (std::string mech : {"PLAIN", "LOGIN", "CRAM-MD5", ""}) {
    CAPTURE(mech);
    auto o = basic();
    o.auth = true;
    o.auth_mechanism = mech;
    o.auth_user = "alice";
    o.auth_password = "secret";
    wired w(o, p);
    auto r = w.run();
    CHECK_FALSE(r.failed);
    CHECK(w.client.authenticated());
    CHECK(w.client.auth_mechanism_used() == (mech.empty() ? "CRAM-MD5" : mech));
    REQUIRE(w.server.stored.size() == 1);
    CHECK(w.server.stored[0].env.auth_user == "alice");

    o.auth_password = "wrong";
    wired bad(o, p);
    auto f = bad.run();
    CHECK(f.failed == client_stage::auth);
    CHECK(f.failed == client_stage::auth);
    CHECK(bad.server.stored.empty());
  }
}

TEST_CASE("unit: client: AUTH that is not advertised, or a mechanism that is not, exits 28") {
  auto p = modern();
  p.extensions = {"PIPELINING"};
  auto o = basic();
  o.auth = true;
  o.auth_user = "u";
  o.auth_password = "p";
  wired w(o, p);
  CHECK(w.run().failed == client_stage::auth);
  o.auth_mechanism = "CRAM-MD5";
  p.extensions = {"PIPELINING", "AUTH PLAIN LOGIN"};
  wired w2(o, p);
  CHECK(w2.run().failed == client_stage::auth);
  CHECK(w2.sent().back() == "QUIT");
}

TEST_CASE("unit: client: STARTTLS restarts with EHLO; required but absent exits 29") {
  auto p = modern();
  p.extensions = {"STARTTLS", "PIPELINING", "AUTH PLAIN"};
  auto o = basic();
  o.starttls = smtp::starttls_mode::required;
  wired w(o, p);
  auto r = w.run();
  CHECK_FALSE(r.failed);
  CHECK(w.handshakes == 1);
  CHECK(w.sent() == std::vector<std::string>{"EHLO client.example", "STARTTLS",
                                             "EHLO client.example", "MAIL FROM:<alice@example.com>",
                                             "RCPT TO:<bob@example.net>", "DATA", "Subject: hi",
                                             "QUIT"});
  CHECK(w.server.stored.at(0).env.tls_version == "TLSv1.3");
  // After TLS the list is the one inside TLS (no STARTTLS there).
  CHECK_FALSE(w.client.extension("STARTTLS"));
  bool tls_marked = false;
  for (const auto& ev : w.events)
    if (ev.kind == client_event_kind::sent && ev.lines.front() == "QUIT") tls_marked = ev.tls;
  CHECK(tls_marked);

  p.extensions = {"PIPELINING", "AUTH PLAIN"};
  wired absent(o, p);
  CHECK(absent.run().failed == client_stage::starttls);
  o.starttls = smtp::starttls_mode::opportunistic;
  wired optional(o, p);
  CHECK_FALSE(optional.run().failed);
}

TEST_CASE("unit: client: bytes after 220 to STARTTLS are refused, never read as EHLO") {
  auto p = modern();
  p.extensions = {"STARTTLS", "PIPELINING"};
  p.quirks.starttls_inject = "250 injected";
  auto o = basic();
  o.starttls = smtp::starttls_mode::required;
  wired w(o, p);
  auto r = w.run();
  CHECK(r.failed == client_stage::starttls);
  CHECK(r.error.find("injection") != std::string::npos);
  CHECK(w.handshakes == 0);
  CHECK(w.server.stored.empty());
  // Scripted: the 220 and the injected line in one read.
  auto s = scripted(o, {"220 ready\r\n", "250-x\r\n250 STARTTLS\r\n",
                        "220 Ready to start TLS\r\n250-evil\r\n250 AUTH PLAIN\r\n"});
  CHECK(s.failed == client_stage::starttls);
}

TEST_CASE("unit: client: the first failing stage decides the result") {
  const auto o = basic();
  const std::string banner = "220 mx ESMTP\r\n";
  const std::string ehlo = "250-mx\r\n250 PIPELINING\r\n";
  CHECK(scripted(o, {"554 go away\r\n", "221 bye\r\n"}).failed == client_stage::banner);
  CHECK(scripted(o, {"421 busy\r\n"}).failed == client_stage::banner);
  CHECK(scripted(o, {banner, "550 no\r\n", "550 no HELO either\r\n", "221 bye\r\n"}).failed ==
        client_stage::helo);
  CHECK_FALSE(scripted(o, {banner, "550 no\r\n", "250 hi\r\n", "250 ok\r\n", "250 ok\r\n",
                           "354 go\r\n", "250 queued\r\n", "221 bye\r\n"})
                  .failed);  // HELO fallback
  CHECK(scripted(o, {banner, ehlo, "550 sender\r\n", "221 bye\r\n"}).failed == client_stage::mail);
  CHECK(scripted(o, {banner, ehlo, "250 ok\r\n", "550 unknown\r\n", "221 bye\r\n"}).failed ==
        client_stage::rcpt);
  CHECK(scripted(o, {banner, ehlo, "250 ok\r\n", "250 ok\r\n", "554 no\r\n", "221\r\n"}).failed ==
        client_stage::data);
  CHECK(scripted(o,
                 {banner, ehlo, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "552 big\r\n", "221\r\n"})
            .failed == client_stage::message);
  CHECK(scripted(o, {banner, ehlo, "250 ok\r\n"}).failed ==
        client_stage::closed);  // closed while owed a reply
  CHECK(scripted(o, {banner, ehlo, "250 ok\r\n", "421 4.4.2 bye\r\n"}).failed ==
        client_stage::rcpt);
  auto t = scripted(o, {banner, ehlo}, false);
  CHECK(t.failed == client_stage::mail);  // a timeout fails the stage being waited for
  CHECK(t.error.find("timed out") != std::string::npos);
  // Closed after the QUIT without a 221 is fine.
  CHECK_FALSE(
      scripted(o, {banner, ehlo, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n"}).failed);
}

TEST_CASE("unit: client: multi-line replies split across reads, and malformed replies") {
  auto o = basic();
  o.stop = smtp::stop_point{smtp::milestone::greeting};
  smtp::client_connection c(o);
  c.receive_data("220 a\r\n");
  std::vector<client_event> evs;
  for (auto ev = c.next_event(); ev.kind != client_event_kind::need_data; ev = c.next_event())
    evs.push_back(ev);
  c.take_output();
  c.receive_data("250-mx.example\r\n250-SIZE 10");
  CHECK(c.next_event().kind == client_event_kind::need_data);
  c.receive_data("00\r\n250 8BITMIME\r\n");
  auto ev = c.next_event();
  REQUIRE(ev.kind == client_event_kind::received);
  CHECK(ev.lines == std::vector<std::string>{"250-mx.example", "250-SIZE 1000", "250 8BITMIME"});
  CHECK(c.extensions() == std::vector<std::string>{"SIZE 1000", "8BITMIME"});
  CHECK(c.next_event().lines == std::vector<std::string>{"QUIT"});

  CHECK(scripted(basic(), {"220 a\r\n", "250-x\r\n251 y\r\n"}).failed == client_stage::ehlo);
  CHECK(scripted(basic(), {"hello\r\n"}).failed == client_stage::banner);
  CHECK(scripted(basic(), {std::string(10000, 'x')}).failed == client_stage::banner);
}

TEST_CASE("unit: client: a pipelined group whose recipients all fail ends DATA with a lone dot") {
  // RFC 2920 3.1: the server accepted DATA although no RCPT succeeded.
  auto o = basic();
  o.pipeline = true;
  smtp::client_connection c(o);
  std::string written;
  std::vector<std::string> replies = {"220 a\r\n", "250-x\r\n250 PIPELINING\r\n",
                                      "250 ok\r\n550 no\r\n354 go\r\n", "250 empty\r\n",
                                      "221 bye\r\n"};
  std::size_t next = 0;
  for (int guard = 0; guard < 100; ++guard) {
    auto ev = c.next_event();
    if (ev.kind == client_event_kind::finished) break;
    if (ev.kind != client_event_kind::need_data) continue;
    written += c.take_output();
    if (next < replies.size()) c.receive_data(replies[next++]);
  }
  CHECK(written.find("DATA\r\n.\r\nQUIT\r\n") != std::string::npos);
  CHECK(c.result().failed == client_stage::rcpt);
}

TEST_CASE("unit: client: a stop point QUITs after its milestone, a success") {
  auto o = basic();
  o.stop = smtp::stop_point{smtp::milestone::rcpt};
  wired w(o);
  CHECK_FALSE(w.run().failed);
  CHECK(w.sent().back() == "QUIT");
  CHECK(w.sent().size() == 4);
  CHECK(w.server.stored.empty());
  o.stop = smtp::stop_point{smtp::milestone::banner};
  wired c(o);
  CHECK_FALSE(c.run().failed);
  CHECK(c.sent() == std::vector<std::string>{"QUIT"});
}

TEST_CASE("unit: client: load mode goes on after a failed transaction with RSET") {
  auto p = modern();
  p.auth.required = true;  // MAIL gets 530 without AUTH
  auto o = basic();
  o.transactions = 3;
  o.continue_after_failure = true;
  wired w(o, p);
  auto r = w.run();
  CHECK(r.failed == client_stage::mail);
  REQUIRE(r.transactions.size() == 3);
  CHECK(r.transactions[2].failed == client_stage::mail);
  CHECK(r.transactions[2].code == 530);
}

TEST_CASE("unit: client: a relay check runs MAIL and RCPT, then RSET instead of DATA") {
  auto o = basic();
  o.after_recipients = smtp::after_rcpt::rset;
  wired w(o);
  CHECK_FALSE(w.run().failed);
  CHECK(w.sent() == std::vector<std::string>{"EHLO client.example", "MAIL FROM:<alice@example.com>",
                                             "RCPT TO:<bob@example.net>", "RSET", "QUIT"});
  CHECK(w.server.stored.empty());
}

TEST_CASE("unit: client: a stop point with drop closes after its milestone without QUIT") {
  using smtp::milestone;
  struct row {
    milestone at;
    std::vector<std::string> sent;
  };
  const std::vector<std::string> ehlo_mail = {"EHLO client.example",
                                              "MAIL FROM:<alice@example.com>"};
  for (const auto& [at, sent] : std::vector<row>{
           {milestone::banner, {}},
           {milestone::first_greeting, {"EHLO client.example"}},
           {milestone::tls, {"EHLO client.example"}},  // no STARTTLS: the TLS point is here
           {milestone::greeting, {"EHLO client.example"}},
           {milestone::auth, {"EHLO client.example"}},  // no AUTH: where it would have been
           {milestone::mail, ehlo_mail},
           {milestone::rcpt, {ehlo_mail[0], ehlo_mail[1], "RCPT TO:<bob@example.net>"}},
           {milestone::data, {ehlo_mail[0], ehlo_mail[1], "RCPT TO:<bob@example.net>", "DATA"}},
           {milestone::dot,
            {ehlo_mail[0], ehlo_mail[1], "RCPT TO:<bob@example.net>", "DATA", "Subject: hi"}},
       }) {
    CAPTURE(static_cast<int>(at));
    auto o = basic();
    o.stop = smtp::stop_point{at, true};
    wired w(o);
    auto r = w.run();
    CHECK_FALSE(r.failed);
    CHECK(r.dropped);
    CHECK(w.sent() == sent);
    CHECK(w.server.stored.size() == (at == milestone::dot ? 1U : 0U));
  }
}

TEST_CASE("unit: client: stop points around STARTTLS, and DATA always drops") {
  using smtp::milestone;
  auto p = modern();
  p.extensions = {"STARTTLS", "PIPELINING", "AUTH PLAIN"};
  auto o = basic();
  o.starttls = smtp::starttls_mode::required;
  o.stop = smtp::stop_point{milestone::first_greeting};
  wired first(o, p);
  CHECK_FALSE(first.run().failed);
  CHECK(first.sent() == std::vector<std::string>{"EHLO client.example", "QUIT"});
  o.stop = smtp::stop_point{milestone::tls};
  wired tls(o, p);
  CHECK_FALSE(tls.run().failed);
  CHECK(tls.handshakes == 1);
  CHECK(tls.sent() == std::vector<std::string>{"EHLO client.example", "STARTTLS", "QUIT"});
  CHECK(tls.events.back().tls);  // the QUIT's reply came inside TLS
  o.stop = smtp::stop_point{milestone::greeting};
  wired second(o, p);
  CHECK_FALSE(second.run().failed);
  CHECK(second.sent() ==
        std::vector<std::string>{"EHLO client.example", "STARTTLS", "EHLO client.example", "QUIT"});
  // Pipelined: a stop at MAIL ends the group there; QUIT at DATA would be message data.
  auto q = basic();
  q.pipeline = true;
  q.stop = smtp::stop_point{milestone::mail};
  wired mail(q);
  CHECK_FALSE(mail.run().failed);
  CHECK(mail.sent() ==
        std::vector<std::string>{"EHLO client.example", "MAIL FROM:<alice@example.com>", "QUIT"});
  q.recipients.clear();  // a stop at MAIL needs none
  wired none(q);
  CHECK_FALSE(none.run().failed);
  CHECK(none.sent().back() == "QUIT");
  q.recipients = {"bob@example.net"};
  q.stop = smtp::stop_point{milestone::data, false};
  wired data(q);
  auto r = data.run();
  CHECK(r.dropped);
  CHECK(data.sent().back() == "DATA");
  CHECK(data.server.stored.empty());
}

TEST_CASE("unit: client: HELO only (plain SMTP) and LHLO with one data reply per recipient") {
  auto o = basic();
  o.hello = smtp::hello_verb::helo;
  o.pipeline = true;
  wired w(o);
  CHECK_FALSE(w.run().failed);
  CHECK(w.sent().front() == "HELO client.example");
  CHECK(w.client.extensions().empty());
  CHECK(w.writes == 6);  // HELO has no PIPELINING: each command waits for its reply
  o.auth = true;
  wired auth(o);
  CHECK(auth.run().failed == client_stage::auth);

  auto l = basic();
  l.hello = smtp::hello_verb::lhlo;
  l.recipients = {"a@x.example", "b@x.example", "c@x.example"};
  const std::string banner = "220 lmtp\r\n", lhlo = "250-lmtp\r\n250 PIPELINING\r\n";
  const std::vector<std::string> head = {
      banner, lhlo, "250 ok\r\n", "250 a\r\n", "550 b unknown\r\n", "250 c\r\n", "354 go\r\n"};
  auto with = [&](std::vector<std::string> tail) {
    auto all = head;
    all.insert(all.end(), tail.begin(), tail.end());
    return all;
  };
  smtp::client_connection c(l);
  std::vector<std::string> sent;
  auto replies = with({"250 a delivered\r\n452 c full\r\n", "221 bye\r\n"});
  std::size_t next = 0;
  for (int guard = 0; guard < 200 && !c.finished(); ++guard) {
    auto ev = c.next_event();
    if (ev.kind == client_event_kind::sent) sent.push_back(ev.lines.front());
    if (ev.kind == client_event_kind::need_data) {
      c.take_output();
      if (next < replies.size()) c.receive_data(replies[next++]);
    }
  }
  CHECK(sent.front() == "LHLO client.example");
  CHECK(sent.back() == "QUIT");
  REQUIRE(c.result().transactions.size() == 1);
  CHECK(c.result().transactions[0].accepted);  // one of the two accepted recipients got it
  CHECK_FALSE(c.result().failed);
  auto none = scripted(l, with({"452 a\r\n", "452 c\r\n", "221 bye\r\n"}));
  CHECK(none.failed == client_stage::message);
  // LHLO refused: no HELO fallback in LMTP.
  CHECK(scripted(l, {banner, "500 unknown command\r\n", "221 bye\r\n"}).failed ==
        client_stage::ehlo);
}

TEST_CASE("unit: client: optional STARTTLS goes on in plaintext when refused") {
  auto o = basic();
  o.starttls = smtp::starttls_mode::optional;
  const std::string banner = "220 mx\r\n", ehlo = "250-mx\r\n250 STARTTLS\r\n";
  auto r = scripted(o, {banner, ehlo, "454 4.7.0 TLS not available\r\n", "250 ok\r\n", "250 ok\r\n",
                        "354 go\r\n", "250 queued\r\n", "221 bye\r\n"});
  CHECK_FALSE(r.failed);
  REQUIRE(r.transactions.size() == 1);
  CHECK(r.transactions[0].accepted);
  o.starttls = smtp::starttls_mode::opportunistic;
  CHECK(scripted(o, {banner, ehlo, "454 4.7.0 TLS not available\r\n", "221 bye\r\n"}).failed ==
        client_stage::starttls);
}

TEST_CASE("unit: client: a stop point on_send drops right after its command is written") {
  using smtp::milestone;
  const std::vector<std::string> ehlo_mail = {"EHLO client.example",
                                              "MAIL FROM:<alice@example.com>"};
  struct row {
    milestone at;
    std::string last_written;  ///< the wire ends with this command, unanswered
  };
  for (const auto& [at, last] : std::vector<row>{
           {milestone::first_greeting, "EHLO client.example\r\n"},
           {milestone::mail, "MAIL FROM:<alice@example.com>\r\n"},
           {milestone::rcpt, "RCPT TO:<bob@example.net>\r\n"},
           {milestone::data, "DATA\r\n"},
           {milestone::dot, "\r\n.\r\n"},
       }) {
    CAPTURE(static_cast<int>(at));
    for (bool pipeline : {false, true}) {
      auto o = basic();
      o.pipeline = pipeline;
      o.recipients = {"bob@example.net", "carol@example.net"};
      o.stop = smtp::stop_point{at, true, true};
      wired w(o);
      auto r = w.run();
      CHECK_FALSE(r.failed);
      CHECK(r.dropped);
      CHECK(w.wire_out.ends_with(last));
      CHECK(w.wire_out.find("QUIT") == std::string::npos);
      // After the dot the server has the message (it stores before it replies, and the reply
      // is never read).
      CHECK(w.server.stored.size() == (at == milestone::dot ? 1U : 0U));
    }
  }
  // No AUTH asked: the AUTH point drops where AUTH would have been (after the EHLO's reply).
  auto o = basic();
  o.stop = smtp::stop_point{milestone::auth, true, true};
  wired w(o);
  CHECK(w.run().dropped);
  CHECK(w.sent() == std::vector<std::string>{"EHLO client.example"});
}

TEST_CASE("unit: client: optional AUTH goes on without; optional-strict only when not offered") {
  auto p = modern();
  p.extensions = {"PIPELINING", "AUTH LOGIN"};
  p.auth.accept_any = false;
  p.auth.users = {{"alice", "secret"}};
  auto o = basic();
  o.auth = true;
  o.auth_user = "alice";
  o.auth_password = "wrong";
  o.auth_need = smtp::auth_policy::optional;
  wired refused(o, p);
  CHECK_FALSE(refused.run().failed);  // 535, then MAIL as if no AUTH was asked
  CHECK(refused.server.stored.size() == 1);
  o.auth_need = smtp::auth_policy::optional_strict;
  wired strict(o, p);
  CHECK(strict.run().failed == client_stage::auth);
  o.auth_mechanism = "CRAM-MD5";  // not offered: strict goes on
  wired not_offered(o, p);
  CHECK_FALSE(not_offered.run().failed);
  p.extensions = {"PIPELINING"};  // no AUTH at all: both go on
  wired none(o, p);
  CHECK_FALSE(none.run().failed);
  // A comma list takes the first mechanism offered.
  auto list = basic();
  list.auth = true;
  list.auth_mechanism = "CRAM-MD5,LOGIN";
  list.auth_user = "u";
  list.auth_password = "p";
  wired w(list);
  CHECK_FALSE(w.run().failed);
  CHECK(w.client.auth_mechanism_used() == "LOGIN");
}
