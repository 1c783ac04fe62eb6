#include "smtp/reply.hpp"

#include <doctest/doctest.h>

#include "smtp/personality.hpp"

using namespace smtpmock::smtp;

TEST_CASE("unit: replies serialise with and without enhanced codes") {
  const reply r = make(stock::sender_ok);
  CHECK(serialise(r, true) == "250 2.1.0 Sender ok\r\n");
  CHECK(serialise(r, false) == "250 Sender ok\r\n");
}

TEST_CASE("unit: multi-line replies use hyphens on every line but the last") {
  const reply r{250, "", {"mx.example", "PIPELINING", "SIZE 100"}};
  CHECK(serialise(r, true) == "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
}

TEST_CASE("unit: scenario reply texts parse into code and text") {
  const reply r = reply::parse("250 2.1.0 MAIL ok");
  CHECK(r.code == 250);
  CHECK(r.text() == "2.1.0 MAIL ok");
  CHECK(serialise(r, true) == "250 2.1.0 MAIL ok\r\n");
  CHECK(reply::parse("25 x").code == 0);
  CHECK(reply::parse("250x").code == 0);
  CHECK(reply::parse("354").code == 354);
  const reply m = reply::parse_lines({"550-5.1.1 first", "550 5.1.1 second"});
  CHECK(serialise(m, false) == "550-5.1.1 first\r\n550 5.1.1 second\r\n");
  CHECK(reply::parse_lines({"550 a", "450 b"}).code == 0);
}

TEST_CASE("unit: no control character or overlong line reaches the wire") {
  const reply r{550, "", {"evil\r\nMAIL FROM:<x>\x1b[31m" + std::string(2000, 'a')}};
  const std::string out = serialise(r, false);
  CHECK(out.size() == 512);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find("\r\n") == out.size() - 2);
  CHECK(out.find('\n') == out.size() - 1);
}

TEST_CASE("unit: templates insert sanitised values") {
  template_values v{{"recipient", "bob\r\n250 injected\x1b@x"}, {"hostname", "mx.example"}};
  const std::string s = expand_template("<{recipient}> on {hostname} {unknown}", v);
  CHECK(s == "<bob250 injected@x> on mx.example {unknown}");
}

TEST_CASE("unit: template values are unset until assigned, and unset again when erased") {
  template_values v;
  CHECK(v.find("sender") == nullptr);
  CHECK(expand_template("<{sender}>", v) == "<{sender}>");
  v["sender"] = "a@example.test";
  REQUIRE(v.find("sender") != nullptr);
  CHECK(*v.find("sender") == "a@example.test");
  v["sender"] = "";  // set, though empty: the template expands to nothing
  CHECK(expand_template("<{sender}>", v) == "<>");
  v.erase("sender");
  CHECK(v.find("sender") == nullptr);
  CHECK(expand_template("<{sender}>", v) == "<{sender}>");
  CHECK(v.find("nonsense") == nullptr);
  CHECK_THROWS_AS(v["nonsense"], std::out_of_range);
  for (const auto name : template_values::names) {
    v[name] = std::string(name);
    CHECK(*v.find(name) == name);
  }
}
