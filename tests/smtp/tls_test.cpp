// STARTTLS in the core: the 220, the discarded plaintext, the fresh session after TLS.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace smtpmock;
using smtpmock::test::codes;
using smtpmock::test::harness;

namespace {
smtp::personality tls_personality() {
  smtp::personality p = smtp::default_personality();
  p.extensions.insert(p.extensions.begin(), "STARTTLS");
  return p;
}
/// Runs to the start_tls event, as the driver does, and completes the handshake.
void handshake(harness& h) {
  auto ev = h.conn.next_event();
  REQUIRE(ev.kind == smtp::event_kind::start_tls);
  h.conn.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384");
}
}  // namespace

TEST_CASE("unit: STARTTLS gets 220 and the session starts over inside TLS") {
  harness h(tls_personality());
  h.start();
  h.cmd("EHLO c");
  h.cmd("MAIL FROM:<a@x>");
  h.conn.receive_data("STARTTLS\r\n");
  auto ev = h.conn.next_event();
  CHECK(ev.proposed.code == 220);
  h.conn.respond(ev.proposed);
  CHECK(h.conn.take_output() == "220 2.0.0 Ready to start TLS\r\n");
  handshake(h);
  CHECK(h.conn.tls_active());
  // RFC 3207 4.2: EHLO required again, the transaction is forgotten.
  CHECK(codes(h.cmd("RCPT TO:<b@x>")) == std::vector<int>{503});
  const std::string ehlo = h.cmd("EHLO c");
  CHECK(ehlo.find("STARTTLS") == std::string::npos);
  CHECK(codes(h.cmd("RCPT TO:<b@x>")) == std::vector<int>{503});
  CHECK(h.cmd("STARTTLS") == "503 5.5.1 TLS already active\r\n");
  h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n");
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].env.tls_version == "TLSv1.3");
  CHECK(h.stored[0].env.tls_cipher == "TLS_AES_256_GCM_SHA384");
}

TEST_CASE("unit: STARTTLS with an argument gets 501, not advertised 502") {
  harness h(tls_personality());
  h.start();
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("STARTTLS now")) == std::vector<int>{501});
  smtp::personality plain = smtp::default_personality();
  std::erase(plain.extensions, "STARTTLS");
  harness d(plain);
  d.start();
  d.cmd("EHLO c");
  CHECK(codes(d.cmd("STARTTLS")) == std::vector<int>{502});
}

TEST_CASE("unit: plaintext pipelined after STARTTLS is discarded, never executed in TLS") {
  for (std::string smuggled :
       {"RSET\r\n", "MAIL FROM:<evil@x>\r\n", "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"}) {
    harness h(tls_personality());
    h.start();
    h.cmd("EHLO c");
    CHECK(h.feed("STARTTLS\r\n" + smuggled) == "220 2.0.0 Ready to start TLS\r\n");
    handshake(h);
    // The first reply inside TLS answers the client's EHLO, nothing smuggled.
    const std::string out = h.cmd("EHLO c");
    CHECK(out.rfind("250-localhost\r\n", 0) == 0);
    CHECK(codes(out).size() == 1);
    CHECK_FALSE(h.conn.authenticated());
    CHECK(h.conn.current_envelope().mail_from.empty());
    CHECK(codes(h.cmd("RCPT TO:<b@x>")) == std::vector<int>{503});
  }
}

TEST_CASE("unit: AUTH is forgotten after STARTTLS") {
  harness h(tls_personality());
  h.start();
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==")) == std::vector<int>{235});
  h.cmd("STARTTLS");
  handshake(h);
  CHECK_FALSE(h.conn.authenticated());
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==")) == std::vector<int>{235});
}

TEST_CASE("unit: tls.required gives 530 before TLS but NOOP, EHLO and QUIT work") {
  smtp::personality p = tls_personality();
  p.tls.required = true;
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("MAIL FROM:<a@x>") == "530 5.7.0 Must issue a STARTTLS command first\r\n");
  CHECK(codes(h.cmd("RCPT TO:<a@x>")) == std::vector<int>{530});
  CHECK(codes(h.cmd("DATA")) == std::vector<int>{530});
  CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{530});
  CHECK(codes(h.cmd("VRFY a")) == std::vector<int>{530});
  CHECK(codes(h.cmd("NOOP")) == std::vector<int>{250});
  CHECK(codes(h.cmd("EHLO c")) == std::vector<int>{250});
  h.cmd("STARTTLS");
  handshake(h);
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("MAIL FROM:<a@x>")) == std::vector<int>{250});
  CHECK(codes(h.cmd("QUIT")) == std::vector<int>{221});
}

TEST_CASE("unit: auth.require_tls gives 538 before TLS") {
  smtp::personality p = tls_personality();
  p.auth.require_tls = true;
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("AUTH LOGIN") ==
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  h.cmd("STARTTLS");
  handshake(h);
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{334});
}

TEST_CASE("unit: quirk starttls_inject writes an extra reply with the 220") {
  smtp::personality p = tls_personality();
  p.quirks.starttls_inject = "250 2.0.0 injected";
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("STARTTLS") == "220 2.0.0 Ready to start TLS\r\n250 2.0.0 injected\r\n");
}

TEST_CASE("unit: implicit TLS sessions start inside TLS") {
  smtp::personality p = tls_personality();
  smtp::connection_options o;
  o.tls = true;
  o.tls_version = "TLSv1.2";
  o.tls_cipher = "ECDHE-RSA-AES256-GCM-SHA384";
  o.tls_available = true;
  smtp::server_connection conn(std::make_shared<const smtp::personality>(p), o);
  CHECK(conn.tls_active());
  CHECK(conn.current_envelope().tls_version == "TLSv1.2");
}
