// transcript_printer: swaks' prefixes and its output options, fed events by hand.
#include "client/transcript.hpp"

#include <doctest/doctest.h>

#include <sstream>

#include "smtp/base64.hpp"

using namespace smtpmock;
using client::output_options;
using smtp::client_event_kind;
using smtp::client_stage;

namespace {

/// Default options with one member set.
template <typename T, typename V>
output_options with(T output_options::*member, V value) {
  output_options o;
  o.*member = value;
  return o;
}

struct printed {
  std::ostringstream out;
  std::ostringstream err;
  client::transcript_printer p;
  explicit printed(output_options o = {}) : p(out, err, std::move(o)) {}

  void sent(client_stage stage, std::vector<std::string> lines, bool tls = false) {
    smtp::client_event ev;
    ev.kind = client_event_kind::sent;
    ev.stage = stage;
    ev.lines = std::move(lines);
    ev.tls = tls;
    p.event({ev, 1.0, -1});
  }
  void received(std::string line, bool unexpected = false, double latency = 1.5) {
    smtp::client_event ev;
    ev.kind = client_event_kind::received;
    ev.lines = {std::move(line)};
    ev.unexpected = unexpected;
    p.event({ev, 2.0, latency});
  }
  /// A short session with one unexpected reply and an error at the end.
  void session() {
    p.info("Trying 127.0.0.1:25...");
    received("220 hi");
    sent(client_stage::ehlo, {"EHLO me"});
    received("250 ok");
    sent(client_stage::mail, {"MAIL FROM:<a@x>"});
    received("550 no", true);
    sent(client_stage::quit, {"QUIT"});
    received("221 bye");
    p.error("550 no");
  }
};

}  // namespace

TEST_CASE("unit: transcript: swaks' prefixes; errors on the error stream") {
  printed t;
  t.session();
  CHECK(t.out.str() ==
        "=== Trying 127.0.0.1:25...\n<-  220 hi\n -> EHLO me\n<-  250 ok\n"
        " -> MAIL FROM:<a@x>\n<** 550 no\n -> QUIT\n<-  221 bye\n");
  CHECK(t.err.str() == "*** 550 no\n");
  printed tls;
  tls.sent(client_stage::mail, {"MAIL FROM:<a@x>"}, true);
  smtp::client_event ev;
  ev.kind = client_event_kind::received;
  ev.lines = {"550 no"};
  ev.unexpected = true;
  ev.tls = true;
  tls.p.event({ev, 1, 1});
  CHECK(tls.out.str() == " ~> MAIL FROM:<a@x>\n<~* 550 no\n");
}

TEST_CASE("unit: transcript: --silent 1 shows everything from the first error, 2 errors, 3 none") {
  printed one(with(&output_options::silent, 1));
  one.session();
  CHECK(one.out.str() == "<** 550 no\n -> QUIT\n<-  221 bye\n");
  CHECK(one.err.str() == "*** 550 no\n");
  printed two(with(&output_options::silent, 2));
  two.session();
  CHECK(two.out.str() == "<** 550 no\n");
  CHECK(two.err.str() == "*** 550 no\n");
  printed three(with(&output_options::silent, 3));
  three.session();
  CHECK(three.out.str().empty());
  CHECK(three.err.str().empty());
}

TEST_CASE("unit: transcript: --hide-* and --no-*-hints") {
  output_options o;
  o.hide_receive = true;
  o.hide_informational = true;
  o.no_send_hints = true;
  printed t(o);
  t.session();
  CHECK(t.out.str() == "EHLO me\nMAIL FROM:<a@x>\nQUIT\n");
  CHECK(t.err.str() == "*** 550 no\n");  // errors are not informational
}

TEST_CASE("unit: transcript: --suppress-data counts the message's lines") {
  printed t(with(&output_options::suppress_data, true));
  t.sent(client_stage::message, {"Subject: x", "", "body", "."});
  CHECK(t.out.str() == " -> 4 lines sent\n");
}

TEST_CASE("unit: transcript: --show-time-lapse before each reply") {
  printed hires(with(&output_options::time_lapse, output_options::lapse::hires));
  hires.received("250 ok", false, 12.3456);
  CHECK(hires.out.str() == "=== response in 0.012s\n<-  250 ok\n");
  printed integer(with(&output_options::time_lapse, output_options::lapse::integer));
  integer.received("250 ok", false, 2500);
  CHECK(integer.out.str() == "=== response in 2s\n<-  250 ok\n");
}

TEST_CASE("unit: transcript: --auth-hide-password replaces the password in PLAIN and LOGIN") {
  output_options o;
  o.hide_password = "PROVIDED_BUT_REMOVED";
  o.auth_user = "u";
  o.auth_password = "secret";
  printed t(o);
  t.sent(client_stage::auth, {"AUTH PLAIN " + smtp::base64_encode(std::string("\0u\0secret", 9))});
  t.sent(client_stage::auth, {smtp::base64_encode("u")});
  t.sent(client_stage::auth, {smtp::base64_encode("secret")});
  // swaks' own line for -ahp: "AUTH PLAIN AHUAUFJPVklERURfQlVUX1JFTU9WRUQ=".
  CHECK(t.out.str() ==
        " -> AUTH PLAIN AHUAUFJPVklERURfQlVUX1JFTU9WRUQ=\n -> dQ==\n"
        " -> " +
            smtp::base64_encode("PROVIDED_BUT_REMOVED") + "\n");
  CHECK(t.out.str().find(smtp::base64_encode("secret")) == std::string::npos);
}

TEST_CASE("unit: transcript: --auth-plaintext shows the AUTH exchange decoded, as swaks -apt") {
  output_options o;
  o.auth_plaintext = true;
  o.auth_user = "u";
  o.auth_password = "secret";
  printed t(o);
  t.sent(client_stage::auth, {"AUTH PLAIN " + smtp::base64_encode(std::string("\0u\0secret", 9))});
  t.sent(client_stage::auth, {"AUTH LOGIN"});
  smtp::client_event ev;
  ev.kind = client_event_kind::received;
  ev.stage = client_stage::auth;
  ev.lines = {"334 VXNlcm5hbWU6"};
  t.p.event({ev, 1, 1});
  t.sent(client_stage::auth, {smtp::base64_encode("u")});
  CHECK(t.out.str() == " -> AUTH PLAIN \\0u\\0secret\n -> AUTH LOGIN\n<-  334 Username:\n -> u\n");
  o.hide_password = "HIDDEN";
  printed hidden(o);
  hidden.sent(client_stage::auth,
              {"AUTH PLAIN " + smtp::base64_encode(std::string("\0u\0secret", 9))});
  CHECK(hidden.out.str() == " -> AUTH PLAIN \\0u\\0HIDDEN\n");
}
