// Tests for store::metrics: counters by verb and code, rule hits, histogram buckets,
// concurrent updates without lost increments, and merging the listeners' snapshots.
#include "store/metrics.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using namespace smtpmock::store;

TEST_CASE("metrics: replies by what they answered and code") {
  metrics m;
  m.reply(reply_to::mail, 250);
  m.reply(reply_to::mail, 250);
  m.reply(reply_to_verb(smtpmock::smtp::verb::rcpt), 550);
  m.reply(reply_to::connect, 99);   // out of range: ignored
  m.reply(reply_to::connect, 600);  // out of range: ignored
  const auto s = m.snap();
  REQUIRE(s.replies.size() == 2);
  CHECK(s.replies[0].verb == "mail");
  CHECK(s.replies[0].code == 250);
  CHECK(s.replies[0].count == 2);
  CHECK(s.replies[1].verb == "rcpt");
  CHECK(reply_to_name(reply_to::auth_response) == "auth_response");
  CHECK(reply_to_name(reply_to::interrupted) == "interrupted");
  CHECK(reply_to_name(reply_to::connect) == "connect");
  CHECK(reply_to_name(reply_to::mail) == "mail");
  CHECK(reply_to_name(reply_to_verb(smtpmock::smtp::verb::starttls)) == "starttls");
  CHECK(reply_to_verb(smtpmock::smtp::verb::unknown) == reply_to::unknown);
}

TEST_CASE("metrics: sessions, messages, bytes and the duration histogram") {
  metrics m;
  m.session_opened();
  m.session_opened();
  m.session_closed(std::chrono::milliseconds(30));
  m.message_stored(100);
  m.bytes_received(7);
  m.bytes_sent(9);
  const auto s = m.snap();
  CHECK(s.sessions_total == 2);
  CHECK(s.sessions_active == 1);
  CHECK(s.messages_total == 1);
  CHECK(s.message_bytes_total == 100);
  CHECK(s.bytes_received == 7);
  CHECK(s.bytes_sent == 9);
  CHECK(s.duration_count == 1);
  CHECK(s.duration_counts[1] == 1);  // 0.01 < 0.03 <= 0.05
  CHECK(s.duration_sum == doctest::Approx(0.03));
}

TEST_CASE("metrics: concurrent updates lose nothing") {
  metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        m.reply(reply_to::rcpt, 250);
        m.rule_hit(i % 2 ? "a" : "b");
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const auto s = m.snap();
  CHECK(s.replies.at(0).count == 40000);
  CHECK(s.rule_hits.at("a") == 20000);
  CHECK(s.rule_hits.at("b") == 20000);
}

TEST_CASE("metrics: merge sums two listeners' snapshots, matching labels") {
  metrics a, b;
  a.session_opened();
  a.reply(reply_to::mail, 250);
  a.reply(reply_to::rcpt, 550);
  a.rule_hit("shared");
  a.message_stored(10);
  a.bytes_received(3);
  a.session_closed(std::chrono::milliseconds(30));
  b.session_opened();
  b.session_opened();
  b.reply(reply_to::mail, 250);
  b.reply(reply_to::data, 354);
  b.rule_hit("shared");
  b.rule_hit("own");
  b.message_stored(5);
  b.bytes_sent(4);
  b.client_finding(smtpmock::smtp::finding_kinds().front());
  b.session_closed(std::chrono::seconds(2));
  metrics::snapshot total;
  merge(total, a.snap());
  merge(total, b.snap());
  CHECK(total.sessions_total == 3);
  CHECK(total.sessions_active == 1);
  CHECK(total.messages_total == 2);
  CHECK(total.message_bytes_total == 15);
  CHECK(total.bytes_received == 3);
  CHECK(total.bytes_sent == 4);
  REQUIRE(total.replies.size() == 3);
  auto count = [&](std::string_view verb, int code) {
    for (const auto& r : total.replies)
      if (r.verb == verb && r.code == code) return r.count;
    return std::uint64_t{0};
  };
  CHECK(count("mail", 250) == 2);
  CHECK(count("rcpt", 550) == 1);
  CHECK(count("data", 354) == 1);
  CHECK(total.rule_hits.at("shared") == 2);
  CHECK(total.rule_hits.at("own") == 1);
  REQUIRE(total.findings.size() == 1);
  CHECK(total.findings[0].count == 1);
  CHECK(total.duration_count == 2);
  CHECK(total.duration_counts[1] == 1);  // 30 ms
  CHECK(total.duration_counts[6] == 1);  // 1 < 2 <= 2.5
  CHECK(total.duration_sum == doctest::Approx(2.03));
}
