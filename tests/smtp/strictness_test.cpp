// What a strict receiver refuses: control characters, repeated or malformed ESMTP parameters,
// non-ASCII addresses without SMTPUTF8 and paths over the RFC 5321 4.5.3.1 limits.
#include <doctest/doctest.h>

#include "harness.hpp"
#include "smtp/limits.hpp"

using namespace smtpmock;
using smtpmock::test::codes;
using smtpmock::test::harness;

namespace {
harness greeted(smtp::personality p = smtp::default_personality()) {
  harness h(std::move(p));
  h.start();
  h.cmd("EHLO c");
  return h;
}
/// The first line of `out` up to its enhanced code ("500 5.5.2").
std::string head(const std::string& out) {
  return out.substr(0, 9);
}
/// A valid domain of exactly `n` octets: labels of "a", dot-separated.
std::string domain(std::size_t n) {
  std::string d;
  while (d.size() < n)
    d += (d.size() % 10 == 9 && d.size() + 1 < n) ? '.' : 'a';
  return d;
}
}  // namespace

TEST_CASE("unit: strictness: a control character in a command line gets 500 5.5.2") {
  harness h;
  h.start();
  CHECK(head(h.cmd(std::string("EHLO a\0b", 8))) == "500 5.5.2");
  CHECK(head(h.cmd("EHLO\tx")) == "500 5.5.2");  // RFC 5321 4.1.1: the verb ends at SP
  CHECK(head(h.cmd("NOOP \x01")) == "500 5.5.2");
  CHECK(head(h.cmd("HELO x\x7f")) == "500 5.5.2");
  CHECK(codes(h.cmd("EHLO c")) == std::vector<int>{250});
  CHECK(head(h.cmd("MAIL FROM:<a@b>\tSIZE=5")) == "500 5.5.2");
  CHECK(h.events.back().command == smtp::verb::unknown);  // an `on: unknown` event for rules
  CHECK(codes(h.cmd("MAIL FROM:<a@b> SIZE=5")) == std::vector<int>{250});  // nothing opened before
  CHECK(!h.closed);
}

TEST_CASE("unit: strictness: a repeated ESMTP parameter gets 501 5.5.4") {
  auto h = greeted();
  CHECK(h.cmd("MAIL FROM:<a@b> SIZE=5 SIZE=6") == "501 5.5.4 Duplicate parameter SIZE\r\n");
  CHECK(head(h.cmd("MAIL FROM:<a@b> BODY=8BITMIME body=7BIT")) == "501 5.5.4");
  CHECK(head(h.cmd("MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8")) == "501 5.5.4");
  CHECK(head(h.cmd("MAIL FROM:<a@b> RET=FULL RET=HDRS")) == "501 5.5.4");
  CHECK(head(h.cmd("MAIL FROM:<a@b> ENVID=x ENVID=y")) == "501 5.5.4");
  CHECK(codes(h.cmd("MAIL FROM:<a@b> SIZE=5 BODY=8BITMIME")) == std::vector<int>{250});
  CHECK(head(h.cmd("RCPT TO:<c@d> NOTIFY=SUCCESS NOTIFY=FAILURE")) == "501 5.5.4");
  CHECK(head(h.cmd("RCPT TO:<c@d> ORCPT=rfc822;c@d ORCPT=rfc822;c@d")) == "501 5.5.4");
  CHECK(codes(h.cmd("RCPT TO:<c@d> NOTIFY=SUCCESS ORCPT=rfc822;c@d")) == std::vector<int>{250});
  REQUIRE(h.conn.current_envelope().recipients.size() == 1);
}

TEST_CASE("unit: strictness: DSN parameter values follow RFC 3461 4") {
  auto h = greeted();
  // RFC 3461 4.3 RET, 4.4 ENVID (xtext, at most 100 characters).
  CHECK(head(h.cmd("MAIL FROM:<a@b> RET=BOGUS")) == "501 5.5.4");
  CHECK(head(h.cmd("MAIL FROM:<a@b> ENVID=a+zz")) == "501 5.5.4");
  CHECK(head(h.cmd("MAIL FROM:<a@b> ENVID=a+2b")) == "501 5.5.4");  // hexchar is upper case
  CHECK(head(h.cmd("MAIL FROM:<a@b> ENVID=a+2")) == "501 5.5.4");
  CHECK(head(h.cmd("MAIL FROM:<a@b> ENVID=" + std::string(smtp::limits::envid + 1, 'e'))) ==
        "501 5.5.4");
  CHECK(codes(h.cmd("MAIL FROM:<a@b> RET=hdrs ENVID=" + std::string(smtp::limits::envid - 3, 'e') +
                    "+2B")) == std::vector<int>{250});
  // RFC 3461 4.1 NOTIFY: NEVER alone, or a list of SUCCESS, FAILURE, DELAY.
  for (std::string bad :
       {"NEVER,SUCCESS", "SUCCESS,NEVER", "BOGUS", "SUCCESS,,FAILURE", "SUCCESS,", ",DELAY"})
    CHECK_MESSAGE(head(h.cmd("RCPT TO:<c@d> NOTIFY=" + bad)) == "501 5.5.4", bad);
  // RFC 3461 4.2 ORCPT: addr-type ";" xtext.
  for (std::string bad : {"rfc822", "rfc822;", ";c@d", "rfc 822;c@d", "rfc822;c+d", "r@c;c@d"})
    CHECK_MESSAGE(head(h.cmd("RCPT TO:<c@d> ORCPT=" + bad)) == "501 5.5.4", bad);
  for (std::string good : {"NOTIFY=never", "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=delay,Failure",
                           "ORCPT=rfc822;c+40d", "ORCPT=RFC822;c@d NOTIFY=FAILURE"})
    CHECK_MESSAGE(codes(h.cmd("RCPT TO:<c@d> " + good)) == std::vector<int>{250}, good);
  CHECK(h.conn.current_envelope().recipients.size() == 5);
}

TEST_CASE("unit: strictness: non-ASCII addresses need SMTPUTF8 on MAIL (RFC 6531 3.5)") {
  auto h = greeted();
  CHECK(head(h.cmd("MAIL FROM:<j\xc3\xb6rg@b.example>")) == "550 5.6.7");
  CHECK(head(h.cmd("MAIL FROM:<jorg@b\xc3\xbc.example>")) == "550 5.6.7");
  CHECK(codes(h.cmd("MAIL FROM:<a@b.example>")) == std::vector<int>{250});
  CHECK(head(h.cmd("RCPT TO:<\xc3\xbc@c.example>")) == "553 5.6.7");
  CHECK(codes(h.cmd("RCPT TO:<u@c.example>")) == std::vector<int>{250});
  CHECK(codes(h.cmd("RSET")) == std::vector<int>{250});
  // Given SMTPUTF8, both are accepted, for this transaction only.
  CHECK(codes(h.cmd("MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8")) == std::vector<int>{250});
  CHECK(codes(h.cmd("RCPT TO:<\xc3\xbc@b\xc3\xbc.example>")) == std::vector<int>{250});
  CHECK(codes(h.cmd("RSET")) == std::vector<int>{250});
  CHECK(codes(h.cmd("MAIL FROM:<a@b.example>")) == std::vector<int>{250});
  CHECK(head(h.cmd("RCPT TO:<\xc3\xbc@c.example>")) == "553 5.6.7");
  // A server that does not advertise SMTPUTF8 refuses the parameter and the address.
  smtp::personality p = smtp::default_personality();
  p.extensions = {"ENHANCEDSTATUSCODES", "8BITMIME"};
  auto plain = greeted(p);
  CHECK(codes(plain.cmd("MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8")) == std::vector<int>{555});
  CHECK(head(plain.cmd("MAIL FROM:<j\xc3\xb6rg@b.example>")) == "550 5.6.7");
}

TEST_CASE("unit: strictness: local part 64, domain 255, path 256 octets (RFC 5321 4.5.3.1)") {
  using smtp::limits::local_part;
  auto h = greeted();
  const std::string local64(local_part, 'l');
  CHECK(head(h.cmd("MAIL FROM:<" + local64 + "l@b.example>")) == "501 5.1.7");
  CHECK(head(h.cmd("MAIL FROM:<a@" + domain(smtp::limits::domain + 1) + ">")) == "501 5.1.7");
  // 64 + "@" + 189 + "<>" = 256 octets; one more is too long.
  const std::size_t room = smtp::limits::path - local_part - 3;
  CHECK(head(h.cmd("MAIL FROM:<" + local64 + "@" + domain(room + 1) + ">")) == "501 5.1.7");
  CHECK(codes(h.cmd("MAIL FROM:<" + local64 + "@" + domain(room) + ">")) == std::vector<int>{250});
  CHECK(head(h.cmd("RCPT TO:<" + local64 + "l@b.example>")) == "501 5.1.3");
  CHECK(head(h.cmd("RCPT TO:<r@" + domain(smtp::limits::domain + 1) + ">")) == "501 5.1.3");
  CHECK(head(h.cmd("RCPT TO:<" + local64 + "@" + domain(room + 1) + ">")) == "501 5.1.3");
  CHECK(codes(h.cmd("RCPT TO:<" + local64 + "@" + domain(room) + ">")) == std::vector<int>{250});
  // A source route counts towards the path (it is part of the reverse-path).
  CHECK(head(h.cmd("RCPT TO:<@" + domain(100) + ":" + local64 + "@" + domain(room - 101) + ">")) ==
        "501 5.1.3");
}
