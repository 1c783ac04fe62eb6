// The binding from core events to facts, on a real server_connection fed bytes: which events
// rules see, what each one's facts say, and per-transaction counters over a whole session.
#include "scenario/session_facts.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../smtp/harness.hpp"
#include "smtp/base64.hpp"

using namespace smtpmock;
using namespace smtpmock::scenario;
using namespace std::chrono_literals;

namespace {

/// What the facts of one event said, copied out before the event is answered.
struct seen {
  smtp::event_kind kind;
  std::optional<event_type> type;
  std::string session_id, client_ip, argument, sender, recipient, helo, user;
  std::uint64_t transaction = 0;
  bool message = false;
  std::size_t size = 0;
  session_counters* counters = nullptr;
  steady::time_point now{};
};

const steady::time_point t0 = steady::time_point{} + 1h;

/// Answers every decision event of `h` with `choose`'s reply (default: the core's proposal),
/// recording each event's rule event and facts. Returns the replies written.
struct driver {
  test::harness h;
  session_counters counters;
  std::vector<seen> log;
  std::function<std::optional<smtp::reply>(const smtp::event&, const facts&)> choose;

  explicit driver(smtp::personality p = smtp::default_personality()) : h(std::move(p)) {}

  std::string feed(std::string_view bytes) {
    if (!bytes.empty()) h.conn.receive_data(bytes);
    for (int guard = 0; guard < 10000; ++guard) {
      const smtp::event ev = h.conn.next_event();
      if (ev.kind == smtp::event_kind::need_data || ev.kind == smtp::event_kind::closed ||
          ev.kind == smtp::event_kind::start_tls)
        break;
      const auto type = rule_event(ev);
      smtp::reply r = ev.proposed;
      const facts f =
          facts_for(ev, type.value_or(event_type::any), h.conn, "S7", "192.0.2.1", &counters, t0);
      seen s{ev.kind,
             type,
             std::string(f.session_id),
             std::string(f.client_ip),
             std::string(f.argument),
             std::string(f.sender),
             std::string(f.recipient),
             std::string(f.helo),
             std::string(f.user),
             f.transaction,
             f.message != nullptr,
             f.size,
             f.counters,
             f.now};
      log.push_back(s);
      if (choose && type) {
        if (auto chosen = choose(ev, f)) r = *chosen;
      }
      h.conn.respond(r);
    }
    return h.conn.take_output();
  }
  std::string cmd(std::string_view line) { return feed(std::string(line) + "\r\n"); }
  const seen& last() const { return log.back(); }
};

/// Whether facts_for accepts an event of type E (a temporary would leave the facts dangling).
template <class E>
constexpr bool binds = requires(E&& e, const smtp::server_connection& c) {
  facts_for(std::forward<E>(e), event_type::any, c, "", "", nullptr, steady::time_point{});
};
static_assert(binds<const smtp::event&>);
static_assert(binds<smtp::event&>);
static_assert(!binds<smtp::event>);

}  // namespace

TEST_CASE("unit: session_facts: each core event's rule event and facts") {
  smtp::personality p = smtp::default_personality();
  p.auth.accept_any = true;
  driver d(p);
  d.feed("");
  REQUIRE(d.log.size() == 1);
  CHECK(d.last().kind == smtp::event_kind::connect);
  CHECK(d.last().type == event_type::connect);
  CHECK(d.last().session_id == "S7");
  CHECK(d.last().client_ip == "192.0.2.1");
  CHECK(d.last().transaction == 0);
  CHECK(d.last().counters == &d.counters);
  CHECK(d.last().now == t0);
  CHECK(d.last().helo.empty());

  d.cmd("EHLO client.example");
  CHECK(d.last().type == event_type::ehlo);
  CHECK(d.last().helo == "client.example");  // the name being given, before it is accepted
  CHECK(d.last().argument == "client.example");
  d.cmd("HELO other.example");
  CHECK(d.last().type == event_type::helo);
  CHECK(d.last().helo == "other.example");
  d.cmd("NOOP");
  CHECK(d.last().type == event_type::noop);
  CHECK(d.last().helo == "other.example");  // later events: the accepted name
  d.cmd("EHLO client.example");

  // AUTH: the 334 challenge is no rule event, the final answer is, with the user.
  d.cmd("AUTH LOGIN");
  CHECK(d.last().kind == smtp::event_kind::command);
  CHECK_FALSE(d.last().type.has_value());
  d.cmd(smtp::base64_encode("alice"));
  CHECK(d.last().kind == smtp::event_kind::auth_response);
  CHECK_FALSE(d.last().type.has_value());
  d.cmd(smtp::base64_encode("secret"));
  CHECK(d.last().kind == smtp::event_kind::auth_response);
  CHECK(d.last().type == event_type::auth);
  CHECK(d.last().user == "alice");

  d.cmd("MAIL FROM:<a@x.example>");
  CHECK(d.last().type == event_type::mail);
  CHECK(d.last().sender == "a@x.example");
  CHECK(d.last().transaction == 1);  // the transaction this MAIL opens
  d.cmd("RCPT TO:<b@y.example>");
  CHECK(d.last().type == event_type::rcpt);
  CHECK(d.last().recipient == "b@y.example");
  CHECK(d.last().sender == "a@x.example");
  CHECK(d.last().transaction == 1);
  d.cmd("DATA");
  CHECK(d.last().type == event_type::data);
  CHECK(d.last().transaction == 1);
  CHECK(d.feed("Subject: hi\r\n\r\nbody\r\n.\r\n") == "250 2.0.0 Ok: queued as M1\r\n");
  CHECK(d.last().type == event_type::message);
  CHECK(d.last().message);
  CHECK(d.last().size == std::string("Subject: hi\r\n\r\nbody\r\n").size());
  CHECK(d.last().transaction == 1);

  d.cmd("MAIL FROM:<c@x.example>");
  CHECK(d.last().transaction == 2);
  d.cmd("RSET");
  CHECK(d.last().type == event_type::rset);
  CHECK(d.last().transaction == 2);  // transaction 2 was opened, then reset
  d.cmd("VRFY bob");
  CHECK(d.last().type == event_type::vrfy);
  d.cmd("HELP");
  CHECK(d.last().type == event_type::help);
  d.cmd("EXPN list");
  CHECK(d.last().type == event_type::unknown);
  d.cmd("FROB");
  CHECK(d.last().type == event_type::unknown);
  d.cmd("STARTTLS");
  CHECK(d.last().type == event_type::starttls);
}

TEST_CASE("unit: session_facts: BDAT and QUIT, and a refused MAIL counts no transaction") {
  driver d;
  d.feed("");
  d.cmd("EHLO c");
  d.cmd("MAIL FROM:<a@x>");
  d.cmd("RCPT TO:<b@y>");
  d.feed("BDAT 5 LAST\r\nabc\r\n");
  REQUIRE(d.log.size() >= 2);
  CHECK(d.last().type == event_type::message);
  CHECK(d.last().size == 5);
  CHECK(d.last().transaction == 1);
  d.cmd("QUIT");
  CHECK(d.last().type == event_type::quit);
  CHECK(d.h.conn.closing());
}

TEST_CASE("unit: session_facts: a refused MAIL names the next transaction, later events not") {
  driver d;
  d.choose = [](const smtp::event& ev, const facts&) -> std::optional<smtp::reply> {
    if (ev.command == smtp::verb::mail && ev.sender == "refused@x")
      return smtp::reply::parse("550 5.7.1 no");
    return std::nullopt;
  };
  d.feed("");
  d.cmd("EHLO c");
  d.cmd("MAIL FROM:<refused@x>");
  CHECK(d.last().transaction == 1);
  d.cmd("RCPT TO:<b@y>");  // 503: no transaction was opened
  CHECK(d.last().transaction == 0);
  d.cmd("MAIL FROM:<a@x>");
  CHECK(d.last().transaction == 1);
  d.cmd("RCPT TO:<b@y>");
  CHECK(d.last().transaction == 1);
  d.cmd("RSET");
  d.cmd("MAIL FROM:<refused@x>");
  CHECK(d.last().transaction == 2);
  d.cmd("NOOP");
  CHECK(d.last().transaction == 1);
}

TEST_CASE("unit: session_facts: the engine over a real session, counters per transaction") {
  auto def = std::make_shared<definition>();
  def->personality = std::make_shared<const smtp::personality>(smtp::default_personality());
  rule second;
  second.name = "second-rcpt";
  second.on = event_type::rcpt;
  second.when.nth = 2;
  second.when.per = scope::transaction;
  second.then.reply = std::vector<std::string>{"452 4.5.3 <{recipient}>: later"};
  rule once;
  once.name = "first-noop";
  once.on = event_type::noop;
  once.when.nth = 1;
  once.when.per = scope::session;
  once.then.reply = std::vector<std::string>{"250 2.0.0 first"};
  def->rules = {second, once};
  engine e(def, 1);
  auto run = [&](driver& d) {
    d.choose = [&](const smtp::event&, const facts& f) -> std::optional<smtp::reply> {
      if (!e.listens(f.event)) return std::nullopt;
      auto act = e.decide(f);
      if (!act || !act->then.reply) return std::nullopt;
      return d.h.conn.render(*act->then.reply);
    };
    d.feed("");
    d.cmd("EHLO c");
    std::vector<int> codes;
    for (int t = 0; t < 2; ++t) {
      d.cmd("MAIL FROM:<a@x>");
      for (const char* rcpt : {"RCPT TO:<b@y>", "RCPT TO:<c@y>", "RCPT TO:<d@y>"}) {
        const auto out = test::codes(d.cmd(rcpt));
        codes.insert(codes.end(), out.begin(), out.end());
      }
      d.cmd("RSET");
    }
    CHECK(d.cmd("NOOP") == "250 2.0.0 first\r\n");
    CHECK(d.cmd("NOOP") == "250 2.0.0 Ok\r\n");
    return codes;
  };
  driver one, two;  // two sessions of one engine, each with its own counters
  CHECK(run(one) == std::vector<int>{250, 452, 250, 250, 452, 250});
  CHECK(run(two) == std::vector<int>{250, 452, 250, 250, 452, 250});
  CHECK(one.counters.size() == 3);  // the NOOP rule for the session; RCPT for 1 and 2
}
