// Findings (the client's verdict) noted by the core: for each code, the smallest input that
// produces it and a close neighbour that must not.
#include "smtp/findings.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <set>

#include "harness.hpp"
#include "smtp/base64.hpp"

using namespace smtpmock;
using smtpmock::test::harness;

namespace {

std::vector<std::string> codes_of(const harness& h) {
  std::vector<std::string> out;
  for (const auto& f : h.conn.findings())
    out.emplace_back(f.kind->code);
  return out;
}

using codes = std::vector<std::string>;

smtp::personality without(std::string_view keyword) {
  auto p = smtp::default_personality();
  std::erase_if(p.extensions, [&](const std::string& e) { return e.rfind(keyword, 0) == 0; });
  return p;
}

}  // namespace

TEST_CASE("findings: a well-behaved session has none") {
  harness h;
  h.start();
  h.cmd("EHLO client.example");
  h.cmd("MAIL FROM:<a@x.example>");
  h.cmd("RCPT TO:<b@y.example>");
  h.cmd("DATA");
  h.feed("Subject: hi\r\n\r\n..dot\r\n.\r\n");
  h.cmd("QUIT");
  CHECK(codes_of(h).empty());
  // Pipelined where PIPELINING is advertised: MAIL, RCPT and DATA in one write.
  harness p;
  p.start();
  p.cmd("EHLO client.example");
  p.feed("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n");
  p.feed("x\r\n.\r\nQUIT\r\n");  // the end of data and QUIT together (RFC 2920's example)
  CHECK(codes_of(p).empty());
  // An address literal is a good HELO argument.
  harness literal;
  literal.start();
  literal.cmd("EHLO [127.0.0.1]");
  literal.cmd("HELO [IPv6:::1]");
  CHECK(codes_of(literal).empty());
}

TEST_CASE("findings: the order of commands") {
  harness h;
  h.start();
  h.cmd("MAIL FROM:<a@x.example>");
  CHECK(codes_of(h) == codes{"no-helo"});
  h.cmd("EHLO client.example");
  h.cmd("RCPT TO:<b@y.example>");
  CHECK(codes_of(h) == codes{"no-helo", "rcpt-before-mail"});
  h.cmd("MAIL FROM:<a@x.example>");
  h.cmd("DATA");
  CHECK(codes_of(h) == codes{"no-helo", "rcpt-before-mail", "data-before-rcpt"});
  // Neighbour: DATA after a refused RCPT is not data-before-rcpt (it has its own code).
  harness n;
  n.start();
  n.cmd("EHLO client.example");
  n.cmd("MAIL FROM:<a@x.example>");
  n.cmd("RCPT TO:<bad address>");
  n.cmd("DATA");
  CHECK(codes_of(n).empty());
}

TEST_CASE("findings: pipelining without PIPELINING, and past a group's end") {
  harness h(without("PIPELINING"));
  h.start();
  h.cmd("EHLO client.example");
  h.feed("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n");
  CHECK(codes_of(h) == codes{"pipelining-unadvertised"});
  // With PIPELINING, a command after EHLO in the same write is past the end of a group.
  harness g;
  g.start();
  g.feed("EHLO client.example\r\nMAIL FROM:<a@x.example>\r\n");
  CHECK(codes_of(g) == codes{"pipelining-group"});
  CHECK(g.conn.findings()[0].text.find("EHLO") != std::string::npos);
}

TEST_CASE("findings: STARTTLS, then no new EHLO; plaintext passwords; mechanisms") {
  harness h;
  h.start();
  h.cmd("EHLO client.example");
  h.cmd("AUTH PLAIN " + smtp::base64_encode(std::string("\0u\0p", 4)));
  CHECK(codes_of(h) == codes{"auth-before-tls"});
  h.cmd("AUTH NTLM");
  CHECK(codes_of(h) == codes{"auth-before-tls", "auth-mechanism-unadvertised"});

  harness t;
  t.start();
  t.cmd("EHLO client.example");
  t.cmd("STARTTLS");
  t.conn.tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256");
  t.cmd("MAIL FROM:<a@x.example>");
  CHECK(codes_of(t) == codes{"no-ehlo-after-tls"});
  // Neighbour: EHLO again after the handshake, then AUTH inside TLS: nothing.
  harness ok;
  ok.start();
  ok.cmd("EHLO client.example");
  ok.cmd("STARTTLS");
  ok.conn.tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256");
  ok.cmd("EHLO client.example");
  ok.cmd("AUTH PLAIN " + smtp::base64_encode(std::string("\0u\0p", 4)));
  ok.cmd("MAIL FROM:<a@x.example>");
  CHECK(codes_of(ok).empty());
  // Without a certificate STARTTLS is not really on offer: a plaintext AUTH is no finding.
  harness no_tls(smtp::default_personality(), false);
  no_tls.start();
  no_tls.cmd("EHLO client.example");
  no_tls.cmd("AUTH PLAIN " + smtp::base64_encode(std::string("\0u\0p", 4)));
  CHECK(codes_of(no_tls).empty());
}

TEST_CASE("findings: BDAT without CHUNKING") {
  harness h(without("CHUNKING"));
  h.start();
  h.cmd("EHLO client.example");
  h.cmd("MAIL FROM:<a@x.example>");
  h.cmd("RCPT TO:<b@y.example>");
  h.feed("BDAT 3 LAST\r\nabc");
  CHECK(codes_of(h) == codes{"bdat-unadvertised"});
  harness ok;
  ok.start();
  ok.cmd("EHLO client.example");
  ok.cmd("MAIL FROM:<a@x.example>");
  ok.cmd("RCPT TO:<b@y.example>");
  ok.feed("BDAT 3 LAST\r\nabc");
  CHECK(codes_of(ok).empty());
}

TEST_CASE("findings: line framing of commands") {
  harness h;
  h.start();
  h.feed("EHLO client.example\n");
  CHECK(codes_of(h) == codes{"bare-lf"});
  h.feed("NOOP\rx\r\n");
  CHECK(codes_of(h) == codes{"bare-lf", "bare-cr"});
  h.cmd("NOOP " + std::string(600, 'x'));
  CHECK(codes_of(h) == codes{"bare-lf", "bare-cr", "line-too-long"});
  // Neighbour: 510 octets plus CRLF is within the limit.
  harness ok;
  ok.start();
  ok.cmd("NOOP " + std::string(505, 'x'));
  CHECK(codes_of(ok).empty());
}

TEST_CASE("findings: the HELO argument") {
  for (const char* bad : {"localhost", "vm", "client_example.com", "-a.example", "a..example"}) {
    CAPTURE(bad);
    harness h;
    h.start();
    h.cmd(std::string("EHLO ") + bad);
    CHECK(codes_of(h) == codes{"helo-not-fqdn"});
    CHECK(h.conn.findings()[0].kind->severity == smtp::severity::info);
  }
  for (const char* good : {"client.example", "mail.example.com.", "a-b.c9.example"}) {
    CAPTURE(good);
    harness h;
    h.start();
    h.cmd(std::string("HELO ") + good);
    CHECK(codes_of(h).empty());
  }
}

TEST_CASE("findings: closing without QUIT") {
  harness h;
  h.start();
  h.cmd("EHLO client.example");
  h.eof();
  CHECK(codes_of(h) == codes{"no-quit"});
  CHECK(h.conn.findings()[0].kind->severity == smtp::severity::warning);
  harness q;
  q.start();
  q.cmd("EHLO client.example");
  q.cmd("QUIT");
  q.eof();
  CHECK(codes_of(q).empty());
  // The server closing (a 421) is not the client's fault.
  harness s;
  s.start();
  s.conn.interrupt(smtp::reply{421, "4.3.2", {"shutting down"}});
  s.feed("");
  s.eof();
  CHECK(codes_of(s).empty());
}

TEST_CASE("findings: the catalogue") {
  std::set<std::string_view> seen;
  for (const auto& k : smtp::finding_kinds()) {
    CAPTURE(k.code);
    CHECK(seen.insert(k.code).second);
    CHECK(k.rfc.rfind("RFC ", 0) == 0);
    CHECK(!k.summary.empty());
    CHECK(smtp::find_finding_kind(k.code) == &k);
    for (char c : k.code)
      CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'));
  }
  CHECK(smtp::find_finding_kind("nope") == nullptr);
  CHECK(smtp::parse_severity("warning") == smtp::severity::warning);
  CHECK_FALSE(smtp::parse_severity("fatal"));
}

TEST_CASE("findings: docs/findings.md lists every code as the catalogue has it") {
  std::ifstream in(std::string(SMTPMOCK_SOURCE_DIR) + "/docs/findings.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& k : smtp::finding_kinds()) {
    const std::string row = "| `" + std::string(k.code) + "` | " +
                            std::string(smtp::severity_name(k.severity)) + " | " +
                            std::string(k.rfc) + " | " + std::string(k.summary) + " |";
    CHECK_MESSAGE(doc.find(row) != std::string::npos, row);
  }
}
