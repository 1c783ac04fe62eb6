// The RFC limits table: each row asserts the reply code and exactly what was stored.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace smtpmock;
using smtpmock::test::codes;
using smtpmock::test::harness;

namespace {
const std::string envelope = "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n";
}

TEST_CASE("unit: limits: a 512-octet command is accepted, 513 gets 500 5.5.6") {
  harness h;
  h.start();
  const std::string arg510 = "NOOP " + std::string(505, 'a');  // 510 + CRLF = 512
  CHECK(codes(h.cmd(arg510)) == std::vector<int>{250});
  CHECK(h.cmd(arg510 + "b") == "500 5.5.6 Line too long\r\n");
  CHECK(codes(h.cmd("NOOP")) == std::vector<int>{250});  // the session goes on
}

TEST_CASE("unit: limits: a 1 MB command line without a line end keeps memory bounded") {
  harness h;
  h.start();
  std::size_t max_buffered = 0;
  for (int i = 0; i < 16; ++i) {
    CHECK(h.feed(std::string(65536, 'A')).empty());
    max_buffered = std::max(max_buffered, h.conn.buffered());
  }
  CHECK(max_buffered <= 65536);  // never more than one read is held
  CHECK(codes(h.feed("\r\nNOOP\r\n")) == std::vector<int>{500, 250});
}

TEST_CASE("unit: limits: 1000-octet text lines are fine, 1001 is answered after end of data") {
  harness h;
  h.start();
  h.feed(envelope);
  CHECK(codes(h.feed(std::string(998, 'a') + "\r\n.\r\n")) == std::vector<int>{250});
  CHECK(h.stored.size() == 1);
  h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
  const std::string out = h.feed(std::string(999, 'a') + "\r\nmore\r\n");
  CHECK(out.empty());  // latched, not answered mid-data
  CHECK(h.feed(".\r\n") == "500 5.5.6 Message line too long (RFC 5321 4.5.3.1.6: 1000 octets)\r\n");
  CHECK(h.stored.size() == 1);
}

TEST_CASE("unit: limits: 100 recipients accepted, the 101st gets 452") {
  harness h;
  h.start();
  h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\n");
  std::string rcpts;
  for (int i = 0; i < 101; ++i)
    rcpts += "RCPT TO:<r" + std::to_string(i) + "@x>\r\n";
  const auto c = codes(h.feed(rcpts));
  REQUIRE(c.size() == 101);
  CHECK(std::count(c.begin(), c.end(), 250) == 100);
  CHECK(c.back() == 452);
  h.feed("DATA\r\nx\r\n.\r\n");
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].env.recipients.size() == 100);
}

TEST_CASE("unit: limits: SIZE is enforced at MAIL and after the data") {
  smtp::personality p = smtp::default_personality();
  p.extensions = {"SIZE 1000", "ENHANCEDSTATUSCODES"};
  harness h(p);
  h.start();
  h.cmd("EHLO c");
  CHECK(h.cmd("MAIL FROM:<a@x> SIZE=1001") == "552 5.3.4 Message size exceeds fixed limit\r\n");
  h.feed("MAIL FROM:<a@x> SIZE=10\r\nRCPT TO:<b@x>\r\nDATA\r\n");
  std::string big;
  for (int i = 0; i < 100; ++i)
    big += "0123456789012345678\r\n";
  CHECK(codes(h.feed(big + ".\r\n")) == std::vector<int>{552});
  CHECK(h.stored.empty());
  h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
  CHECK(codes(h.feed(std::string(997, 'x') + "\r\n.\r\n")) == std::vector<int>{250});
  CHECK(h.stored.size() == 1);
}

TEST_CASE("unit: limits: bare LF and bare CR in commands get 500") {
  harness h;
  h.start();
  CHECK(h.feed("NOOP\n") == "500 5.5.2 Bare LF or CR in command line (RFC 5321 2.3.8)\r\n");
  CHECK(codes(h.feed("NO\rOP\r\n")) == std::vector<int>{500});
  CHECK(codes(h.feed("NOOP\r\n")) == std::vector<int>{250});
}

TEST_CASE("unit: limits: bare LF and bare CR in data are rejected after end of data") {
  harness h;
  h.start();
  h.feed(envelope);
  CHECK(h.feed("line one\nline two\r\n.\r\n") ==
        "554 5.6.11 Bare LF or CR in message data (RFC 5321 2.3.8)\r\n");
  h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
  CHECK(codes(h.feed("a\rb\r\n.\r\n")) == std::vector<int>{554});
  CHECK(h.stored.empty());
}

TEST_CASE("unit: limits: the ten end-of-data smuggling variants never end the data") {
  struct row {
    const char* variant;
    bool bare;  // contains a bare CR or LF: the message is rejected
  };
  const row rows[] = {
      {"\n.\n", true},       {"\n.\r\n", true},      {"\r\n.\n", true}, {"\r.\r", true},
      {"\r.\r\n", true},     {"\r\n.\r", true},      {"\n.\r", true},   {"\r.\n", true},
      {"\r\n.\r\r\n", true}, {"\r\n.\0\r\n", false},
  };
  for (const auto& r : rows) {
    std::string variant(r.variant);
    if (!r.bare) variant = std::string("\r\n.\0\r\n", 6);
    harness h;
    h.start();
    h.feed(envelope);
    const std::string smuggled = "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@x>\r\nDATA\r\nsmuggled\r\n";
    const std::string out = h.feed("legit" + variant + smuggled + ".\r\n");
    // Exactly one reply: the smuggled commands were message text, never executed.
    const auto c = codes(out);
    REQUIRE(c.size() == 1);
    if (r.bare) {
      CHECK(c[0] == 554);
      CHECK(h.stored.empty());
    } else {
      CHECK(c[0] == 250);
      REQUIRE(h.stored.size() == 1);
      CHECK(h.stored[0].data.find("MAIL FROM:<evil@x>") != std::string::npos);
      CHECK(h.stored[0].env.mail_from == "a@x");
    }
  }
}

TEST_CASE("unit: limits: bare_lf accept reproduces the lenient, smuggling-prone server") {
  smtp::personality p = smtp::default_personality();
  p.quirks.bare_lf = smtp::bare_lf_mode::accept;
  harness h(p);
  h.start();
  h.feed(envelope);
  const auto out = h.feed("legit\n.\nMAIL FROM:<evil@x>\r\n");
  CHECK(codes(out) == std::vector<int>{250, 250});
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data == "legit\n");
}
