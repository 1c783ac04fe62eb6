#include "smtp/data_decoder.hpp"

#include <doctest/doctest.h>

using namespace smtpmock::smtp;

namespace {
struct decoded {
  bool done;
  std::string message;
  std::string rest;
  bool bare;
  bool too_long;
};
decoded decode(std::string_view in, bare_lf_mode mode = bare_lf_mode::reject,
               std::size_t limit = 1 << 20) {
  data_decoder d(limit, mode);
  std::size_t pos = 0;
  const bool done = d.feed(in, pos);
  return {done, d.message(), std::string(in.substr(pos)), d.bare_line_end(), d.line_too_long()};
}
}  // namespace

TEST_CASE("unit: end of data is CRLF.CRLF and the rest stays buffered") {
  auto r = decode("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  CHECK(r.done);
  CHECK(r.message == "Subject: x\r\n\r\nbody\r\n");
  CHECK(r.rest == "QUIT\r\n");
  CHECK(decode(".\r\n").message.empty());
  CHECK(decode(".\r\n").done);
}

TEST_CASE("unit: a leading dot is removed at the start of a line only") {
  auto r = decode("..hidden\r\na.b\r\n...\r\n..\r\n.\r\n");
  CHECK(r.done);
  CHECK(r.message == ".hidden\r\na.b\r\n..\r\n.\r\n");
}

TEST_CASE("unit: data split across feeds at every byte") {
  const std::string in = "a\r\n..b\r\n.\r\n";
  data_decoder d(1 << 20, bare_lf_mode::reject);
  bool done = false;
  for (char c : in) {
    std::string one(1, c);
    std::size_t pos = 0;
    done = d.feed(one, pos);
  }
  CHECK(done);
  CHECK(d.message() == "a\r\n.b\r\n");
}

TEST_CASE("unit: bare LF variants never end the data in reject mode") {
  for (std::string v :
       {"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n"}) {
    auto r = decode("x" + v + "MAIL FROM:<e@x>\r\n");
    CHECK_MESSAGE(!r.done, "variant ended data");
    CHECK(r.bare);
  }
}

TEST_CASE("unit: bare_lf accept treats LF as a line end, as lenient servers do") {
  auto r = decode("x\n.\nMAIL", bare_lf_mode::accept);
  CHECK(r.done);
  CHECK(r.message == "x\n");
  CHECK(r.rest == "MAIL");
}

TEST_CASE("unit: text lines over 1000 octets are latched, 1000 is fine") {
  CHECK_FALSE(decode(std::string(998, 'a') + "\r\n.\r\n").too_long);
  CHECK(decode(std::string(999, 'a') + "\r\n.\r\n").too_long);
}

TEST_CASE("unit: beyond the size limit octets are counted, not stored") {
  data_decoder d(10, bare_lf_mode::reject);
  std::string in = std::string(100, 'a') + "\r\n.\r\n";
  std::size_t pos = 0;
  CHECK(d.feed(in, pos));
  CHECK(d.too_big());
  CHECK(d.size() == 102);
  CHECK(d.message().size() == 10);
}
