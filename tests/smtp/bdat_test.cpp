// BDAT (RFC 3030 CHUNKING): chunks read by count, binary-safe, refused chunks still consumed.
#include <doctest/doctest.h>

#include "harness.hpp"

using namespace smtpmock;
using smtpmock::test::codes;
using smtpmock::test::harness;

namespace {
smtp::personality chunking() {
  smtp::personality p = smtp::default_personality();
  p.extensions.push_back("CHUNKING");
  return p;
}
}  // namespace

TEST_CASE("unit: bdat: chunks assemble one message, binary and unstuffed as sent") {
  harness h(chunking());
  h.start();
  h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
  CHECK(h.feed("BDAT 8\r\nline\r\n.\n") == "250 2.0.0 8 octets received\r\n");
  CHECK(codes(h.feed("BDAT 5 LAST\r\n..x\r\n")) == std::vector<int>{250});
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data == "line\r\n.\n..x\r\n");  // no dot-unstuffing, bare LF kept
  CHECK(h.stored[0].env.recipients.size() == 1);
}

TEST_CASE("unit: bdat: a chunk split across reads, and pipelined with its commands") {
  harness h(chunking());
  h.start();
  const std::string out =
      h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 10 LAST\r\n01234");
  CHECK(codes(out) == std::vector<int>{250, 250, 250});
  CHECK(codes(h.feed("56789QUIT\r\n")) == std::vector<int>{250, 221});
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data == "0123456789");
}

TEST_CASE("unit: bdat: refused chunks are still read, never taken for commands") {
  harness h(chunking());
  h.start();
  h.cmd("EHLO c");
  CHECK(codes(h.feed("BDAT 6 LAST\r\nRSET\r\nNOOP\r\n")) == std::vector<int>{503, 250});
  h.feed("MAIL FROM:<a@x>\r\n");
  CHECK(h.feed("BDAT 4\r\nQUIT") == "554 5.5.1 No valid recipients\r\n");
  CHECK_FALSE(h.conn.closing());
  CHECK(codes(h.cmd("BDAT x")) == std::vector<int>{501});
  CHECK(h.stored.empty());
}

TEST_CASE("unit: bdat: size limit, BDAT 0 LAST, DATA after BDAT, not advertised") {
  smtp::personality p = chunking();
  p.limits.max_message_size = 10;
  harness h(p);
  h.start();
  h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
  CHECK(codes(h.feed("BDAT 20 LAST\r\n" + std::string(20, 'z'))) == std::vector<int>{552});
  h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
  CHECK(codes(h.feed("BDAT 3\r\nabc")) == std::vector<int>{250});
  CHECK(codes(h.cmd("DATA")) == std::vector<int>{503});
  CHECK(codes(h.feed("BDAT 0 LAST\r\n")) == std::vector<int>{250});
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data == "abc");
  smtp::personality plain;
  plain.extensions = {"PIPELINING"};  // no CHUNKING
  harness d(plain);
  d.start();
  d.cmd("EHLO c");
  CHECK(codes(d.cmd("BDAT 3 LAST")) == std::vector<int>{502});
}

TEST_CASE("unit: bdat: events carry the BDAT command line for the transcript") {
  harness h(chunking());
  h.start();
  h.feed("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
  h.feed("BDAT 4\r\nabcd");
  REQUIRE(h.events.back().kind == smtp::event_kind::command);
  CHECK(h.events.back().command == smtp::verb::bdat);
  CHECK(h.events.back().line == "BDAT 4");
  CHECK(h.events.back().argument == "4");
  h.feed("bdat 3 last\r\nefg");
  REQUIRE(h.events.back().kind == smtp::event_kind::message);
  CHECK(h.events.back().command == smtp::verb::bdat);  // the message came by BDAT, not DATA
  CHECK(h.events.back().line == "bdat 3 last");
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data == "abcdefg");
  // A refused chunk's event shows its command too; DATA's end of data stays a DATA event.
  h.feed("BDAT 2\r\nxy");
  CHECK(h.events.back().line == "BDAT 2");
  CHECK(h.events.back().proposed.code == 503);  // no transaction
  h.feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n");
  REQUIRE(h.events.back().kind == smtp::event_kind::message);
  CHECK(h.events.back().command == smtp::verb::data);
}
