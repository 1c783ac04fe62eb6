#include "scenario/engine.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <string_view>

using namespace smtpmock::scenario;
using namespace std::chrono_literals;

namespace {

rule make_rule(std::string name, event_type on, std::vector<std::string> reply = {"550 no"}) {
  rule r;
  r.name = std::move(name);
  r.on = on;
  r.then.reply = std::move(reply);
  return r;
}

std::shared_ptr<const definition> def_of(std::vector<rule> rules) {
  auto d = std::make_shared<definition>();
  d->personality = std::make_shared<const smtpmock::smtp::personality>();
  d->rules = std::move(rules);
  return d;
}

/// Keeps `s` alive for the whole test run: facts hold views, never strings of their own.
std::string_view keep(std::string s) {
  static std::deque<std::string> kept;
  return kept.emplace_back(std::move(s));
}

facts rcpt(std::string recipient, std::string session = "S1", std::string client = "127.0.0.1") {
  facts f;
  f.event = event_type::rcpt;
  f.recipient = keep(std::move(recipient));
  f.sender = "a@x.example";
  f.session_id = keep(std::move(session));
  f.client_ip = keep(std::move(client));
  f.now = steady::time_point{} + 1h;
  return f;
}

std::string fired(engine& e, const facts& f) {
  auto a = e.decide(f);
  return a ? a->rule : "-";
}

}  // namespace

TEST_CASE("unit: engine: the event must match, first matching rule wins") {
  rule a = make_rule("blocked", event_type::rcpt);
  a.match.recipient = pattern("*@blocked.example");
  rule b = make_rule("all-rcpt", event_type::rcpt, {"451 later"});
  engine e(def_of({a, b}), 1);
  CHECK(fired(e, rcpt("bob@blocked.example")) == "blocked");
  CHECK(fired(e, rcpt("bob@ok.example")) == "all-rcpt");
  facts mail = rcpt("x");
  mail.event = event_type::mail;
  CHECK(fired(e, mail) == "-");
  auto act = e.decide(rcpt("bob@BLOCKED.example"));
  REQUIRE(act);
  CHECK(act->then.reply->front() == "550 no");
}

TEST_CASE("unit: engine: on any matches every event") {
  engine e(def_of({make_rule("all", event_type::any)}), 1);
  facts f;
  f.event = event_type::noop;
  CHECK(fired(e, f) == "all");
}

TEST_CASE("unit: engine: every match condition") {
  rule r = make_rule("m", event_type::rcpt);
  r.match.sender = pattern("/^a@/");
  r.match.helo = pattern("client.*");
  r.match.client = pattern("127.0.0.?");
  r.match.argument = pattern("*");
  r.match.user = pattern("bob");
  engine e(def_of({r}), 1);
  facts f = rcpt("x@y");
  f.helo = "client.example";
  f.user = "bob";
  CHECK(fired(e, f) == "m");
  f.user = "alice";
  CHECK(fired(e, f) == "-");
  f.user = "bob";
  f.client_ip = "10.0.0.1";
  CHECK(fired(e, f) == "-");
  f.client_ip = "127.0.0.1";
  f.sender = "b@x";
  CHECK(fired(e, f) == "-");
}

TEST_CASE("unit: engine: message header, body and size conditions") {
  rule r = make_rule("spammy", event_type::message);
  r.match.headers.emplace_back("Subject", pattern("*viagra*"));
  r.match.body = pattern("/unsubscribe/");
  rule big = make_rule("big", event_type::message, {"552 too big"});
  big.match.size_over = 100;
  engine e(def_of({r, big}), 1);
  const std::string spam =
      "From: a@x\r\nSubject: cheap\r\n  VIAGRA now\r\n\r\nclick to unsubscribe\r\n";
  const std::string ham = "Subject: hello\r\n\r\nunsubscribe\r\n";
  facts f;
  f.event = event_type::message;
  f.message = &spam;
  f.size = spam.size();
  CHECK(fired(e, f) == "spammy");
  f.message = &ham;
  f.size = ham.size();
  CHECK(fired(e, f) == "-");
  f.size = 101;
  CHECK(fired(e, f) == "big");
}

TEST_CASE("unit: engine: nth, every, after, times") {
  rule nth = make_rule("nth", event_type::connect);
  nth.when.nth = 2;
  engine e1(def_of({nth}), 1);
  facts c;
  c.event = event_type::connect;
  std::string seq;
  for (int i = 0; i < 4; ++i)
    seq += fired(e1, c) == "nth" ? "1" : "0";
  CHECK(seq == "0100");

  rule every = make_rule("every", event_type::connect);
  every.when.every = 3;
  engine e2(def_of({every}), 1);
  seq.clear();
  for (int i = 0; i < 7; ++i)
    seq += fired(e2, c) == "every" ? "1" : "0";
  CHECK(seq == "0010010");

  rule after = make_rule("after", event_type::connect);
  after.when.after = 2;
  after.when.times = 2;
  engine e3(def_of({after}), 1);
  seq.clear();
  for (int i = 0; i < 6; ++i)
    seq += fired(e3, c) == "after" ? "1" : "0";
  CHECK(seq == "001100");
}

TEST_CASE("unit: engine: counter scopes server, client, session, transaction") {
  auto run = [](scope s) {
    rule r = make_rule("first", event_type::rcpt);
    r.when.nth = 1;
    r.when.per = s;
    engine e(def_of({r}), 1);
    std::string seq;
    // Two clients, two sessions each, two transactions per session.
    for (std::string client : {"10.0.0.1", "10.0.0.2"}) {
      for (std::string session : {"A", "B"}) {
        for (std::uint64_t t : {1u, 2u}) {
          facts f = rcpt("x@y", client + session, client);
          f.transaction = t;
          seq += fired(e, f) == "first" ? "1" : "0";
        }
      }
    }
    return seq;
  };
  CHECK(run(scope::server) == "10000000");
  CHECK(run(scope::client) == "10001000");
  CHECK(run(scope::session) == "10101010");
  CHECK(run(scope::transaction) == "11111111");
}

TEST_CASE("unit: engine: a fixed seed gives a fixed outcome sequence") {
  rule r = make_rule("flaky", event_type::message);
  r.when.probability = 0.3;
  auto sequence = [&](std::uint64_t seed) {
    engine e(def_of({r}), seed);
    facts f;
    f.event = event_type::message;
    std::string seq;
    for (int i = 0; i < 20; ++i)
      seq += fired(e, f) == "flaky" ? "x" : ".";
    return seq;
  };
  CHECK(sequence(42) == sequence(42));
  CHECK(sequence(42) != sequence(43));
  // The asserted sequence: a change to the generator is a visible behaviour change.
  CHECK(sequence(42) == "xx...xx...xxxx.xxx..");
  const std::string s = sequence(7);
  const auto hits = std::count(s.begin(), s.end(), 'x');
  CHECK(hits > 0);
  CHECK(hits < 20);
}

TEST_CASE("unit: engine: probability 0 and 1") {
  rule never = make_rule("never", event_type::noop);
  never.when.probability = 0.0;
  rule always = make_rule("always", event_type::noop);
  always.when.probability = 1.0;
  engine e(def_of({never, always}), 9);
  facts f;
  f.event = event_type::noop;
  for (int i = 0; i < 50; ++i)
    CHECK(fired(e, f) == "always");
}

TEST_CASE("unit: engine: rate matches once the client exceeds it") {
  rule r = make_rule("rate", event_type::mail);
  r.when.rate = rate_limit{3, 60s};
  r.when.per = scope::client;
  engine e(def_of({r}), 1);
  facts f = rcpt("x");
  f.event = event_type::mail;
  std::string seq;
  for (int i = 0; i < 5; ++i) {
    f.now += 1s;
    seq += fired(e, f) == "rate" ? "1" : "0";
  }
  CHECK(seq == "00011");
  f.client_ip = "10.9.9.9";  // another client has its own budget
  CHECK(fired(e, f) == "-");
  f.client_ip = "127.0.0.1";
  f.now += 120s;  // the window slid past
  CHECK(fired(e, f) == "-");
}

TEST_CASE("unit: engine: greylisting a triplet until it retries after the window") {
  rule r;
  r.name = "greylist";
  r.on = event_type::rcpt;
  r.then.greylist = 60s;
  engine e(def_of({r}), 1);
  facts f = rcpt("bob@x");
  auto first = e.decide(f);
  REQUIRE(first);
  CHECK(first->then.reply->front().rfind("451 4.7.1", 0) == 0);
  CHECK_FALSE(first->retried_after);  // the first sighting is no retry
  f.now += 30s;
  const auto early = e.decide(f);
  REQUIRE(early);                      // too early
  CHECK(early->retried_after == 30s);  // measured from the first sighting
  facts other = rcpt("carol@x");
  other.now = f.now;
  CHECK(fired(e, other) == "greylist");  // a new triplet starts its own window
  f.now += 31s;
  CHECK(fired(e, f) == "-");  // retried after 60 s: accepted
  f.now += 1h;
  CHECK(fired(e, f) == "-");
}

TEST_CASE("unit: engine: effects come back as described, never performed") {
  rule r;
  r.name = "slow-drip";
  r.on = event_type::ehlo;
  r.then.delay = 3s;
  r.then.drip = drip_settings{1, 200ms};
  r.then.split = true;
  rule d;
  d.name = "cut";
  d.on = event_type::message;
  d.then.disconnect = disconnect_mode::before_reply;
  rule h;
  h.name = "hang";
  h.on = event_type::quit;
  h.then.hang = true;
  rule a;
  a.name = "abort";
  a.on = event_type::data;
  a.then.abort_after_bytes = 10;
  a.then.reset = true;
  engine e(def_of({r, d, h, a}), 1);
  facts f;
  f.event = event_type::ehlo;
  auto x = e.decide(f);
  REQUIRE(x);
  CHECK(*x->then.delay == 3s);
  CHECK(x->then.drip->every == 200ms);
  CHECK(x->then.split);
  f.event = event_type::message;
  CHECK(e.decide(f)->then.disconnect == disconnect_mode::before_reply);
  f.event = event_type::quit;
  CHECK(e.decide(f)->then.hang);
  f.event = event_type::data;
  auto y = e.decide(f);
  CHECK(*y->then.abort_after_bytes == 10);
  CHECK(y->then.reset);
}

TEST_CASE("unit: engine: parse_headers unfolds continuation lines") {
  auto h = parse_headers("Subject: a\r\n b\r\nTo: x\r\n\r\nBody: no\r\n");
  REQUIRE(h.size() == 2);
  CHECK(h[0].second == "a b");
  CHECK(h[1].first == "To");
}

TEST_CASE("unit: engine: per-session counters are the session's own, isolated between sessions") {
  rule r = make_rule("first", event_type::rcpt);
  r.when.nth = 1;
  r.when.per = scope::session;
  engine e(def_of({r}), 1);
  session_counters a, b;
  auto in = [](session_counters& c) {
    facts f = rcpt("x@y", "same-id");  // the id does not tell them apart: the counters do
    f.counters = &c;
    return f;
  };
  CHECK(fired(e, in(a)) == "first");
  CHECK(fired(e, in(a)) == "-");
  CHECK(fired(e, in(b)) == "first");
  CHECK(fired(e, in(b)) == "-");
  CHECK(a.size() == 1);
  CHECK(b.size() == 1);
  e.end_session("same-id");  // nothing shared to forget; the sessions' counters are theirs
  CHECK(fired(e, in(a)) == "-");
  session_counters fresh;
  CHECK(fired(e, in(fresh)) == "first");
}

TEST_CASE("unit: engine: per-transaction nth restarts with a new transaction number") {
  rule r = make_rule("second", event_type::rcpt);
  r.when.nth = 2;
  r.when.per = scope::transaction;
  engine e(def_of({r}), 1);
  session_counters c;
  auto seq = [&](std::uint64_t t, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      facts f = rcpt("x@y");
      f.counters = &c;
      f.transaction = t;
      s += fired(e, f) == "second" ? "1" : "0";
    }
    return s;
  };
  CHECK(seq(1, 3) == "010");
  CHECK(seq(2, 3) == "010");
  // The previous transaction is kept (a refused MAIL's facts name the next one, later events
  // the current one again); older ones are dropped.
  CHECK(seq(1, 1) == "0");
  CHECK(c.size() == 2);
  CHECK(seq(3, 1) == "0");
  CHECK(c.size() == 2);  // transaction 1 went
  CHECK(seq(2, 1) == "0");
  CHECK(seq(3, 1) == "1");
}

TEST_CASE("unit: engine: facts without counters keep session counters in the shared map") {
  rule r = make_rule("first", event_type::rcpt);
  r.when.nth = 1;
  r.when.per = scope::session;
  rule t = make_rule("first-in-transaction", event_type::mail);
  t.when.nth = 1;
  t.when.per = scope::transaction;
  engine e(def_of({r, t}), 1);
  CHECK(fired(e, rcpt("x@y", "S1")) == "first");
  CHECK(fired(e, rcpt("x@y", "S1")) == "-");
  CHECK(fired(e, rcpt("x@y", "S2")) == "first");
  facts mail = rcpt("x@y", "S1");
  mail.event = event_type::mail;
  mail.transaction = 1;
  CHECK(fired(e, mail) == "first-in-transaction");
  CHECK(fired(e, mail) == "-");
  e.end_session("S1");  // forgets S1's session and transaction counters, not S2's
  CHECK(fired(e, rcpt("x@y", "S1")) == "first");
  CHECK(fired(e, mail) == "first-in-transaction");
  CHECK(fired(e, rcpt("x@y", "S2")) == "-");
  // A session's own counters and the shared map never mix.
  session_counters c;
  facts own = rcpt("x@y", "S2");
  own.counters = &c;
  CHECK(fired(e, own) == "first");
}

TEST_CASE("unit: engine: counters used with another engine start over") {
  rule r = make_rule("first", event_type::rcpt);
  r.when.nth = 1;
  r.when.per = scope::session;
  engine one(def_of({r}), 1);
  engine two(def_of({r}), 1);
  session_counters c;
  facts f = rcpt("x@y");
  f.counters = &c;
  CHECK(fired(one, f) == "first");
  CHECK(fired(one, f) == "-");
  CHECK(fired(two, f) == "first");  // the scenario switched: its rules count afresh
}

TEST_CASE("unit: engine: probability draws are the same through session counters and without") {
  // Sequences computed by the engine before session_counters existed (seed 42, p 0.4), for
  // scopes server, client, session, transaction: a draw depends on (seed, rule, scope, n) only.
  const std::vector<std::string> expected = {
      "xxx..x x...xx xx.xxx ..x.xx ...... x.xxxx ",
      ".....x xx..xx ..xx.. x...x. ..x... x.xx.x ",
      "x.x..x ..xx.. xx.... .x..x. .x.x.x .xx..x ",
      ".x.x.. ..xxx. .xx.x. x.xxxx ....xx .....x ",
  };
  for (scope s : {scope::server, scope::client, scope::session, scope::transaction}) {
    for (bool own : {false, true}) {
      CAPTURE(static_cast<int>(s));
      CAPTURE(own);
      rule r = make_rule("flaky", event_type::rcpt, {"451 x"});
      r.when.probability = 0.4;
      r.when.per = s;
      engine e(def_of({r}), 42);
      std::string seq;
      for (std::string session : {"S0123456789ab", "S1"}) {
        session_counters counters;  // one per session
        for (std::uint64_t t : {1u, 2u, 12u}) {
          for (int i = 0; i < 6; ++i) {
            facts f;
            f.event = event_type::rcpt;
            f.session_id = session;
            f.client_ip = "10.0.0.1";
            f.transaction = t;
            if (own) f.counters = &counters;
            seq += e.decide(f) ? "x" : ".";
          }
          seq += " ";
        }
      }
      CHECK(seq == expected[static_cast<std::size_t>(s)]);
    }
  }
}

TEST_CASE("unit: engine: greylisting with session counters is still shared across sessions") {
  rule r;
  r.name = "greylist";
  r.on = event_type::rcpt;
  r.when.per = scope::session;
  r.when.after = 0;
  r.then.greylist = 60s;
  engine e(def_of({r}), 1);
  session_counters first, second;
  facts f = rcpt("bob@x", "A");
  f.counters = &first;
  CHECK(fired(e, f) == "greylist");
  facts retry = rcpt("bob@x", "B");  // the client retries in a new session
  retry.counters = &second;
  retry.now = f.now + 61s;
  CHECK(fired(e, retry) == "-");
}

TEST_CASE("unit: engine: rules of other events are never looked at, any rules always") {
  rule a = make_rule("on-mail", event_type::mail);
  rule b = make_rule("on-any", event_type::any);
  b.match.argument = pattern("QUIT-ME");
  rule c = make_rule("on-rcpt", event_type::rcpt);
  engine e(def_of({a, b, c}), 1);
  facts f = rcpt("x@y");
  CHECK(fired(e, f) == "on-rcpt");
  f.argument = "quit-me";
  CHECK(fired(e, f) == "on-any");  // file order: the any rule comes before the rcpt one
  f.event = event_type::mail;
  CHECK(fired(e, f) == "on-mail");
  f.event = event_type::any;
  CHECK(fired(e, f) == "on-any");
}

TEST_CASE("unit: engine: header conditions see unfolded values; a blank continuation is a space") {
  rule r = make_rule("subject", event_type::message);
  r.match.headers.emplace_back("subject", pattern("/^a b c$/"));
  engine e(def_of({r}), 1);
  const std::string folded = "Subject: a\r\n b\r\n\tc\r\n\r\nbody\r\n";
  const std::string blank = "X: 1\r\nSubject: a\r\n \r\n b\r\n\r\n";
  facts f;
  f.event = event_type::message;
  f.message = &folded;
  CHECK(fired(e, f) == "subject");
  f.message = &blank;
  CHECK(fired(e, f) == "-");  // "a  b": the blank line added a space of its own
  auto h = parse_headers(blank);
  REQUIRE(h.size() == 2);
  CHECK(h[1].second == "a  b");
  CHECK(parse_headers("Subject:\r\n\r\n").at(0).second.empty());
  CHECK(parse_headers(" x: 1\r\nno colon\r\nA:b\n\nB: c").size() == 2);  // LF ends lines too
}
