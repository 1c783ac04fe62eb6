// RFC 5321 4.1.4: a session needs an accepted HELO/EHLO before MAIL. Nothing else a client
// says first (a refused AUTH, a BDAT chunk) stands in for the greeting.
#include <doctest/doctest.h>

#include "harness.hpp"
#include "smtp/base64.hpp"

using namespace smtpmock;
using smtpmock::test::codes;
using smtpmock::test::harness;

TEST_CASE("unit: a refused AUTH before EHLO leaves the session ungreeted") {
  harness h;
  h.start();
  CHECK(codes(h.cmd("AUTH PLAIN " + smtp::base64_encode(std::string("\0a\0b", 4)))) ==
        std::vector<int>{503});
  CHECK(h.cmd("MAIL FROM:<a@x>") == "503 5.5.1 Send HELO/EHLO first\r\n");
  CHECK(codes(h.cmd("EHLO c")) == std::vector<int>{250});
  CHECK(codes(h.cmd("MAIL FROM:<a@x>")) == std::vector<int>{250});
}

TEST_CASE("unit: a BDAT chunk before EHLO leaves the session ungreeted") {
  harness h;
  h.start();
  CHECK(codes(h.feed("BDAT 1\r\nx")) == std::vector<int>{503});
  CHECK(h.cmd("MAIL FROM:<a@x>") == "503 5.5.1 Send HELO/EHLO first\r\n");
  CHECK(codes(h.cmd("HELO c")) == std::vector<int>{250});
  CHECK(codes(h.cmd("MAIL FROM:<a@x>")) == std::vector<int>{250});
}

TEST_CASE("unit: after EHLO, a refused AUTH keeps the session greeted") {
  harness h;
  h.start();
  h.cmd("EHLO c");
  CHECK(codes(h.cmd("AUTH BOGUS")) == std::vector<int>{504});
  CHECK(codes(h.cmd("MAIL FROM:<a@x>")) == std::vector<int>{250});
}
