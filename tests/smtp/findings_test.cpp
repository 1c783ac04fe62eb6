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
  // Neighbour: DATA after a refused RCPT is not data-before-rcpt; the client saw the refusal
  // and sent DATA anyway, which has its own code.
  harness n;
  n.start();
  n.cmd("EHLO client.example");
  n.cmd("MAIL FROM:<a@x.example>");
  n.cmd("RCPT TO:<bad address>");
  n.cmd("DATA");
  CHECK(codes_of(n) == codes{"data-after-all-rcpt-rejected"});
  CHECK(n.conn.findings()[0].text == "DATA after all 1 RCPT were refused");
  // Its neighbour: DATA pipelined behind the RCPTs, which the client could not have read.
  harness pipelined;
  pipelined.start();
  pipelined.cmd("EHLO client.example");
  pipelined.feed("MAIL FROM:<a@x.example>\r\nRCPT TO:<bad address>\r\nDATA\r\n");
  CHECK(codes_of(pipelined).empty());
  // One accepted RCPT among refused ones is fine.
  harness some;
  some.start();
  some.cmd("EHLO client.example");
  some.cmd("MAIL FROM:<a@x.example>");
  some.cmd("RCPT TO:<bad address>");
  some.cmd("RCPT TO:<b@y.example>");
  some.cmd("DATA");
  CHECK(codes_of(some).empty());
}

namespace {

/// A session that has sent EHLO, MAIL (with `mail_params`) and one RCPT, each waiting for its
/// reply.
harness in_transaction(std::string_view mail_params = "",
                       smtp::personality p = smtp::default_personality()) {
  harness h(std::move(p));
  h.start();
  h.cmd("EHLO client.example");
  h.cmd("MAIL FROM:<a@x.example>" + std::string(mail_params));
  h.cmd("RCPT TO:<b@y.example>");
  return h;
}

/// The codes a message with `mail_params` and `content` (sent after the 354) gets.
codes message_codes(std::string_view content, std::string_view mail_params = "") {
  harness h = in_transaction(mail_params);
  h.cmd("DATA");
  h.feed(content);
  return codes_of(h);
}

}  // namespace

TEST_CASE("findings: message content before the 354") {
  harness h = in_transaction();
  h.feed("DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\n");
  CHECK(codes_of(h) == codes{"data-before-354"});
  CHECK(h.conn.findings()[0].transaction == 1);
  // Neighbour: DATA alone, the content once the 354 was out.
  harness ok = in_transaction();
  ok.cmd("DATA");
  ok.feed("Subject: hi\r\n\r\nhello\r\n.\r\n");
  CHECK(codes_of(ok).empty());
  // DATA refused (no recipient): what follows is read as commands, no data-before-354.
  harness refused;
  refused.start();
  refused.cmd("EHLO client.example");
  refused.feed("MAIL FROM:<a@x.example>\r\nRCPT TO:<bad address>\r\nDATA\r\nQUIT\r\n");
  CHECK(codes_of(refused) == codes{"pipelining-group"});
}

TEST_CASE("findings: dot-stuffing, line ends and line length in the message") {
  CHECK(message_codes("a\r\n.hidden\r\n.\r\n") == codes{"dot-not-stuffed"});
  {
    harness h = in_transaction();
    h.cmd("DATA");
    h.feed("a\r\nb\r\n.hidden\r\n.\r\n");
    CHECK(h.conn.findings().at(0).text == "message line 3 began with a single \".\" and text");
  }
  CHECK(message_codes("a\r\n..stuffed\r\n.\r\n").empty());
  CHECK(message_codes("a\nb\r\n.\r\n") == codes{"bare-lf"});
  CHECK(message_codes("a\rb\r\n.\r\n") == codes{"bare-cr"});
  CHECK(message_codes("a\r\nb\r\n.\r\n").empty());
  CHECK(message_codes(std::string(999, 'a') + "\r\n.\r\n") == codes{"line-too-long"});
  CHECK(message_codes(std::string(998, 'a') + "\r\n.\r\n").empty());
  // With the bare-LF quirk accepting LF as a line end, a bare LF is still the client's fault.
  auto lenient = smtp::default_personality();
  lenient.quirks.bare_lf = smtp::bare_lf_mode::accept;
  harness l = in_transaction("", lenient);
  l.cmd("DATA");
  l.feed("a\nb\n.\n");
  CHECK(codes_of(l) == codes{"bare-lf"});
}

TEST_CASE("findings: 8-bit content, non-ASCII addresses, SIZE") {
  const std::string eight = "Subject: caf\xc3\xa9\r\n\r\nx\r\n.\r\n";
  CHECK(message_codes(eight) == codes{"8bit-undeclared"});
  CHECK(message_codes(eight, " BODY=8BITMIME").empty());
  CHECK(message_codes(eight, " SMTPUTF8").empty());
  CHECK(message_codes("Subject: cafe\r\n\r\nx\r\n.\r\n", " BODY=7BIT").empty());

  harness m;
  m.start();
  m.cmd("EHLO client.example");
  m.cmd("MAIL FROM:<j\xc3\xb6s@x.example>");
  CHECK(codes_of(m) == codes{"smtputf8-undeclared"});
  harness r;
  r.start();
  r.cmd("EHLO client.example");
  r.cmd("MAIL FROM:<a@x.example>");
  r.cmd("RCPT TO:<j\xc3\xb6s@y.example>");
  CHECK(codes_of(r) == codes{"smtputf8-undeclared"});
  harness ok;
  ok.start();
  ok.cmd("EHLO client.example");
  ok.cmd("MAIL FROM:<j\xc3\xb6s@x.example> SMTPUTF8");
  ok.cmd("RCPT TO:<j\xc3\xb6s@y.example>");
  CHECK(codes_of(ok).empty());

  // "x\r\n" is 3 octets; the dot of ".\r\n" and stuffed dots do not count (RFC 1870).
  CHECK(message_codes("x\r\n.\r\n", " SIZE=2") == codes{"size-understated"});
  CHECK(message_codes("x\r\n.\r\n", " SIZE=3").empty());
  CHECK(message_codes("..\r\n.\r\n", " SIZE=3").empty());
  {
    harness h = in_transaction(" SIZE=2");
    h.cmd("DATA");
    h.feed("x\r\n.\r\n");
    CHECK(h.conn.findings().at(0).text == "the message had 3 octets; MAIL declared SIZE=2");
  }
  // BDAT counts its chunks.
  harness b = in_transaction(" SIZE=2");
  b.feed("BDAT 3 LAST\r\nabc");
  CHECK(codes_of(b) == codes{"size-understated"});
}

TEST_CASE("findings: parameters of extensions that were not advertised") {
  harness h = in_transaction("", without("DSN"));
  h.cmd("RCPT TO:<c@y.example> NOTIFY=NEVER");
  CHECK(codes_of(h) == codes{"param-unadvertised"});
  CHECK(h.conn.findings()[0].text == "RCPT parameter NOTIFY needs DSN, which was not advertised");
  harness m = in_transaction(" RET=HDRS", without("DSN"));  // refused with 555, still noted
  CHECK(codes_of(m) == codes{"param-unadvertised", "rcpt-before-mail"});
  // After HELO nothing is advertised.
  harness helo;
  helo.start();
  helo.cmd("HELO client.example");
  helo.cmd("MAIL FROM:<a@x.example> SIZE=10");
  CHECK(codes_of(helo) == codes{"param-unadvertised"});
  // Neighbours: the default scenario advertises all of these.
  harness ok;
  ok.start();
  ok.cmd("EHLO client.example");
  ok.cmd("MAIL FROM:<a@x.example> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=x SMTPUTF8");
  ok.cmd("RCPT TO:<b@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y.example");
  CHECK(codes_of(ok).empty());
  harness binary;  // BODY=BINARYMIME needs BINARYMIME itself
  binary.start();
  binary.cmd("EHLO client.example");
  binary.cmd("MAIL FROM:<a@x.example> BODY=BINARYMIME");
  CHECK(codes_of(binary) == codes{"param-unadvertised"});
}

TEST_CASE("findings: which transaction a finding belongs to") {
  harness h;
  h.start();
  h.cmd("EHLO vm");                           // the session's
  h.cmd("MAIL FROM:<a@x.example> XFOO=1");    // refused: belongs to no transaction
  h.cmd("MAIL FROM:<j\xc3\xb6s@x.example>");  // refused too (non-ASCII without SMTPUTF8)
  h.cmd("MAIL FROM:<a@x.example> SIZE=1");    // accepted: transaction 1
  h.cmd("RCPT TO:<b@y.example>");
  h.cmd("DATA");
  h.feed("x\r\n.\r\n");
  h.cmd("MAIL FROM:<a@x.example>");
  h.feed("RCPT TO:<b@y.example>\r\nDATA\r\nx\r\n.\r\n");  // transaction 2
  const auto& f = h.conn.findings();
  REQUIRE(f.size() == 5);
  CHECK(std::string(f[0].kind->code) == "helo-not-fqdn");
  CHECK(f[0].transaction == 0);
  CHECK(std::string(f[1].kind->code) == "param-unadvertised");
  CHECK(f[1].transaction == 0);
  CHECK(std::string(f[2].kind->code) == "smtputf8-undeclared");
  CHECK(f[2].transaction == 0);
  CHECK(std::string(f[3].kind->code) == "size-understated");
  CHECK(f[3].transaction == 1);
  CHECK(std::string(f[4].kind->code) == "data-before-354");
  CHECK(f[4].transaction == 2);
}

TEST_CASE("findings: those the driver observes") {
  harness h;
  h.start();
  h.conn.observed("early-talker", "the client spoke 3 octets before the banner");
  h.conn.observed("no-such-code", "ignored");
  REQUIRE(codes_of(h) == codes{"early-talker"});
  CHECK(h.conn.findings()[0].text == "the client spoke 3 octets before the banner");
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
