// Every AUTH path of the core: mechanisms, cancels, bad base64, limits and the failure budget.
#include <doctest/doctest.h>

#include "harness.hpp"
#include "smtp/base64.hpp"
#include "smtp/limits.hpp"

using namespace smtpmock;
using smtpmock::test::codes;
using smtpmock::test::harness;

namespace {
smtp::personality users() {
  smtp::personality p = smtp::default_personality();
  p.extensions = {"ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2"};
  p.auth.accept_any = false;
  p.auth.users = {{"alice", "secret"}};
  return p;
}
std::string b64(std::string_view s) {
  return smtp::base64_encode(s);
}
harness greeted(smtp::personality p = users()) {
  harness h(std::move(p));
  h.start();
  h.cmd("EHLO c");
  return h;
}
}  // namespace

TEST_CASE("unit: auth: CRAM-MD5 checks the HMAC of its challenge") {
  auto h = greeted();
  const std::string out = h.cmd("AUTH CRAM-MD5");
  REQUIRE(out.rfind("334 ", 0) == 0);
  const auto challenge = smtp::base64_decode(out.substr(4, out.size() - 6));
  REQUIRE(challenge);
  CHECK(*challenge == "<S1.1@localhost>");
  CHECK(h.cmd(b64("alice hmac(secret," + *challenge + ")")) ==
        "235 2.7.0 Authentication successful\r\n");
  CHECK(h.conn.current_envelope().auth_user == "alice");
  auto bad = greeted();
  bad.cmd("AUTH CRAM-MD5");
  CHECK(codes(bad.cmd(b64("alice 0123456789abcdef"))) == std::vector<int>{535});
  CHECK(codes(bad.cmd("AUTH CRAM-MD5 " + b64("x"))) == std::vector<int>{501});  // no IR
}

TEST_CASE("unit: auth: XOAUTH2 with a good token, and the JSON error then 535") {
  auto h = greeted();
  CHECK(codes(h.cmd("AUTH XOAUTH2 " + b64("user=alice\x01"
                                          "auth=Bearer secret\x01\x01"))) == std::vector<int>{235});
  auto bad = greeted();
  const auto out = bad.cmd("AUTH XOAUTH2 " + b64("user=alice\x01"
                                                 "auth=Bearer nope\x01\x01"));
  REQUIRE(out.rfind("334 ", 0) == 0);
  CHECK(smtp::base64_decode(out.substr(4, out.size() - 6))->find("\"status\":\"401\"") !=
        std::string::npos);
  CHECK(bad.cmd("") == "535 5.7.8 Authentication credentials invalid\r\n");
  auto two = greeted();
  CHECK(codes(two.cmd("AUTH XOAUTH2")) == std::vector<int>{334});
  CHECK(codes(two.cmd(b64("user=alice\x01"
                          "auth=Bearer secret\x01\x01"))) == std::vector<int>{235});
}

TEST_CASE("unit: auth: * cancels at every prompt of every mechanism") {
  for (std::string mech : {"LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2"}) {
    auto h = greeted();
    CHECK(codes(h.cmd("AUTH " + mech)) == std::vector<int>{334});
    CHECK(h.cmd("*") == "501 5.7.0 Authentication cancelled\r\n");
    CHECK(codes(h.cmd("NOOP")) == std::vector<int>{250});  // back to commands
  }
  auto h = greeted();
  h.cmd("AUTH LOGIN");
  h.cmd(b64("alice"));
  CHECK(codes(h.cmd("*")) == std::vector<int>{501});
}

TEST_CASE("unit: auth: bad base64 at every prompt and in initial responses") {
  for (std::string bad : {"!!!", "=AAA", "AAA=BBB"}) {
    for (std::string mech : {"LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2"}) {
      auto h = greeted();
      h.cmd("AUTH " + mech);
      CHECK_MESSAGE(h.cmd(bad) == "501 5.5.2 Cannot decode base64 response\r\n", mech);
      if (mech != "CRAM-MD5")
        CHECK_MESSAGE(codes(h.cmd("AUTH " + mech + " " + bad)) == std::vector<int>{501}, mech);
    }
  }
}

TEST_CASE("unit: auth: response lines up to 12288 octets, longer gets 500 5.5.6") {
  auto h = greeted();
  h.cmd("AUTH PLAIN");
  CHECK(codes(h.cmd(std::string(smtp::limits::auth_line - 2, 'A'))) == std::vector<int>{501});
  h.cmd("AUTH PLAIN");
  CHECK(h.cmd(std::string(smtp::limits::auth_line - 1, 'A')) == "500 5.5.6 Line too long\r\n");
  CHECK(codes(h.cmd("NOOP")) == std::vector<int>{250});
  // An initial response may be long too; other commands stay limited to 512.
  auto ir = greeted();
  const std::string padded =
      b64(std::string("\0alice\0secret", 13) + std::string(3000, ' '));  // bad password
  CHECK(codes(ir.cmd("AUTH PLAIN " + padded)) == std::vector<int>{535});
  CHECK(codes(ir.cmd("NOOP " + std::string(600, 'x'))) == std::vector<int>{500});
}

TEST_CASE("unit: auth: the failure budget ends the session with 421") {
  smtp::personality p = users();
  p.limits.max_auth_failures = 2;
  auto h = greeted(p);
  const std::string bad = "AUTH PLAIN " + b64(std::string("\0alice\0nope", 11));
  CHECK(codes(h.cmd(bad)) == std::vector<int>{535});
  CHECK(codes(h.cmd(bad)) == std::vector<int>{535});
  CHECK(h.cmd(bad) == "421 4.7.0 Too many authentication failures\r\n");
  CHECK(h.closed);
}

TEST_CASE("unit: auth: secrets never appear in event lines, for every mechanism") {
  auto h = greeted();
  h.cmd("AUTH PLAIN " + b64(std::string("\0alice\0secret", 13)));
  auto l = greeted();
  l.feed("AUTH LOGIN " + b64("alice") + "\r\n" + b64("secret") + "\r\n");
  auto x = greeted();
  x.cmd("AUTH XOAUTH2 " + b64("user=alice\x01"
                              "auth=Bearer secret\x01\x01"));
  for (auto* s : {&h, &l, &x}) {
    for (const auto& ev : s->events) {
      CHECK(ev.line.find("secret") == std::string::npos);
      CHECK(ev.line.find(b64(std::string("\0alice\0secret", 13))) == std::string::npos);
      CHECK(ev.argument.find("AGFsaWNl") == std::string::npos);
    }
  }
}

TEST_CASE("unit: auth: undecodable responses count as failed attempts") {
  smtp::personality p = users();
  p.limits.max_auth_failures = 2;
  auto h = greeted(p);
  CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{334});
  CHECK(h.cmd("!!!") == "501 5.5.2 Cannot decode base64 response\r\n");
  CHECK(codes(h.cmd("AUTH PLAIN !!!")) == std::vector<int>{501});  // in an initial response too
  CHECK(h.cmd("AUTH LOGIN") == "421 4.7.0 Too many authentication failures\r\n");
  CHECK(h.closed);
  // A cancel is the client's choice, not a failed attempt (RFC 4954 4).
  auto c = greeted(p);
  for (int i = 0; i < 3; ++i) {
    CHECK(codes(c.cmd("AUTH LOGIN")) == std::vector<int>{334});
    CHECK(codes(c.cmd("*")) == std::vector<int>{501});
  }
  CHECK(!c.closed);
}

TEST_CASE("unit: auth: bad base64 after AUTH LOGIN spends the error budget") {
  smtp::personality p = users();
  p.limits.max_auth_failures = 0;  // unlimited: only the error budget can end the loop
  p.limits.max_errors = 3;
  auto h = greeted(p);
  for (int i = 0; i < 3; ++i) {
    CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{334});
    CHECK(codes(h.cmd("!!!")) == std::vector<int>{501});
  }
  CHECK(codes(h.cmd("AUTH LOGIN")) == std::vector<int>{334});
  CHECK(h.cmd("!!!") == "421 4.7.0 Too many errors, closing connection\r\n");
  CHECK(h.closed);
  CHECK(h.conn.errors() == 3);  // the 421 itself is not a client mistake
}
