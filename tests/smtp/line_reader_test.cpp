#include "smtp/line_reader.hpp"

#include <doctest/doctest.h>

#include "smtp/limits.hpp"

using namespace smtpmock::smtp;

TEST_CASE("unit: lines split at CRLF and keep what follows") {
  line_reader r;
  std::string buf = "NOOP\r\nRSET\r\nQU";
  std::size_t pos = 0;
  auto a = r.next(buf, pos, 512);
  REQUIRE(a);
  CHECK(a->text == "NOOP");
  CHECK_FALSE(a->bare_lf);
  auto b = r.next(buf, pos, 512);
  REQUIRE(b);
  CHECK(b->text == "RSET");
  CHECK_FALSE(r.next(buf, pos, 512));
  CHECK(buf.substr(pos) == "QU");
}

TEST_CASE("unit: 512 octets including CRLF is a command, 513 is too long") {
  line_reader r;
  std::string ok = std::string(510, 'a') + "\r\n";
  std::size_t pos = 0;
  auto a = r.next(ok, pos, limits::command_line);
  REQUIRE(a);
  CHECK_FALSE(a->too_long);
  std::string bad = std::string(511, 'a') + "\r\n";
  pos = 0;
  auto b = r.next(bad, pos, limits::command_line);
  REQUIRE(b);
  CHECK(b->too_long);
}

TEST_CASE("unit: a 1 MB line without a line end is drained with bounded memory") {
  line_reader r;
  std::size_t consumed_total = 0;
  for (int i = 0; i < 16; ++i) {
    std::string chunk(65536, 'x');
    std::size_t pos = 0;
    CHECK_FALSE(r.next(chunk, pos, limits::command_line));
    CHECK(pos == chunk.size());  // everything consumed: nothing held back
    consumed_total += pos;
  }
  CHECK(consumed_total == 1 << 20);
  CHECK(r.draining());
  std::string tail = "yyy\r\nNOOP\r\n";
  std::size_t pos = 0;
  auto a = r.next(tail, pos, limits::command_line);
  REQUIRE(a);
  CHECK(a->too_long);
  CHECK(a->text.size() == limits::command_line);
  auto b = r.next(tail, pos, limits::command_line);
  REQUIRE(b);
  CHECK(b->text == "NOOP");
  CHECK_FALSE(b->too_long);
}

TEST_CASE("unit: bare LF and bare CR are flagged") {
  line_reader r;
  std::string buf = "NOOP\nRS\rET\r\n";
  std::size_t pos = 0;
  auto a = r.next(buf, pos, 512);
  REQUIRE(a);
  CHECK(a->bare_lf);
  CHECK(a->text == "NOOP");
  auto b = r.next(buf, pos, 512);
  REQUIRE(b);
  CHECK(b->bare_cr);
  CHECK_FALSE(b->bare_lf);
}
