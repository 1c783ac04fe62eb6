// Tests for http::search_query: Mailpit's search terms, quoting, negation, errors.
#include "http/search.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

using namespace smtpmock::http;

namespace {

search_fields sample() {
  search_fields f;
  f.from = "Alice <alice@vendor.example> alice@vendor.example";
  f.to = "Bob <bob@shop.example> bob@shop.example";
  f.cc = "carol@shop.example";
  f.subject = "Invoice 42 for March";
  f.message_id = "abc@vendor.example";
  f.session_id = "S0123456789ab";
  f.text = "Please pay by Friday.";
  f.reply_to = "Accounts <accounts@vendor.example> ";
  f.read = false;
  f.attachments = 1;
  f.inlines = 0;
  f.size = 2048;
  f.received_ms = 1'704'164'645'000;  // 2024-01-02T03:04:05Z
  return f;
}

bool matches(const char* query) {
  return search_query::parse(query).matches(sample());
}

}  // namespace

TEST_CASE("search: an empty query matches everything") {
  CHECK(search_query::parse("").terms().empty());
  CHECK(matches(""));
  CHECK(matches("   "));
}

TEST_CASE("search: field prefixes look at their field only") {
  CHECK(matches("from:alice"));
  CHECK(matches("from:VENDOR.example"));
  CHECK_FALSE(matches("from:bob"));
  CHECK(matches("to:bob@shop.example"));
  CHECK_FALSE(matches("to:carol"));
  CHECK(matches("cc:carol"));
  CHECK(matches("subject:invoice"));
  CHECK_FALSE(matches("subject:friday"));
  CHECK(matches("message-id:abc@"));
  CHECK(matches("session:s0123456789ab"));
  CHECK_FALSE(matches("session:S0123"));
  CHECK(matches("has:attachment"));
}

TEST_CASE("search: free text looks at subject, addresses and body") {
  CHECK(matches("friday"));
  CHECK(matches("march"));
  CHECK(matches("shop.example"));
  CHECK_FALSE(matches("nowhere"));
  CHECK(matches("re:nothing") == false);  // an unknown prefix is free text
}

TEST_CASE("search: quotes, negation and AND") {
  CHECK(matches("subject:\"invoice 42\""));
  CHECK_FALSE(matches("subject:\"invoice 43\""));
  CHECK(matches("\"pay by friday\""));
  CHECK(matches("-subject:reminder"));
  CHECK(matches("!from:bob"));
  CHECK_FALSE(matches("-from:alice"));
  CHECK(matches("from:alice subject:invoice"));
  CHECK_FALSE(matches("from:alice subject:reminder"));
}

TEST_CASE("search: is:read and is:unread") {
  CHECK(matches("is:unread"));
  CHECK_FALSE(matches("is:read"));
  auto f = sample();
  f.read = true;
  CHECK(search_query::parse("is:read").matches(f));
  CHECK(search_query::parse("IS:READ").matches(f));
}

TEST_CASE("search: terms smtpmock cannot honour are errors, not silent mismatches") {
  CHECK_THROWS_AS(search_query::parse("is:flagged"), std::invalid_argument);
  CHECK_THROWS_AS(search_query::parse("has:flowers"), std::invalid_argument);
  CHECK_THROWS_AS(search_query::parse("from:"), std::invalid_argument);
}

namespace {

/// The message of the std::invalid_argument that parsing `query` throws ("" if none).
std::string parse_error(const char* query) {
  try {
    search_query::parse(query);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("search: reply-to: looks at Reply-To only, addressed: at every address") {
  CHECK(matches("reply-to:accounts"));
  CHECK(matches("reply-to:\"Accounts <accounts@\""));
  CHECK_FALSE(matches("reply-to:alice"));
  CHECK_FALSE(matches("accounts"));  // free text does not look at Reply-To
  CHECK(matches("-reply-to:alice"));
  CHECK_FALSE(matches("!reply-to:accounts"));
  CHECK_THROWS_AS(search_query::parse("reply-to:"), std::invalid_argument);
  for (const char* q : {"addressed:alice", "addressed:bob@shop", "addressed:carol",
                        "addressed:accounts@vendor", "ADDRESSED:Alice"}) {
    CHECK_MESSAGE(matches(q), q);
  }
  auto f = sample();
  f.cc.clear();
  f.bcc = "dave@hidden.example ";
  CHECK(search_query::parse("addressed:dave@hidden").matches(f));
  CHECK_FALSE(matches("addressed:nobody"));
  CHECK(matches("-addressed:nobody"));
  CHECK_FALSE(matches("-addressed:carol"));  // excluded when any address matches
  CHECK_FALSE(matches("!addressed:accounts"));
  CHECK_THROWS_AS(search_query::parse("addressed:"), std::invalid_argument);
}

TEST_CASE("search: has:inline and has:inlines") {
  CHECK_FALSE(matches("has:inline"));
  CHECK(matches("-has:inline"));
  auto f = sample();
  f.inlines = 2;
  CHECK(search_query::parse("has:inline").matches(f));
  CHECK(search_query::parse("has:inlines").matches(f));
  CHECK(search_query::parse("HAS:Inline").matches(f));
  CHECK_FALSE(search_query::parse("!has:inlines").matches(f));
  CHECK(matches("has:attachments"));
  CHECK_FALSE(matches("-has:attachments"));
  CHECK(parse_error("has:flowers").find("has:inline") != std::string::npos);
}

TEST_CASE("search: dates in every accepted form, UTC unless a zone is given") {
  using std::int64_t;
  const int64_t day = 1'704'153'600'000;  // 2024-01-02T00:00:00Z
  CHECK(parse_search_date("2024-01-02") == day);
  CHECK(parse_search_date("2024-01-02 03:04") == day + (3 * 60 + 4) * 60'000);
  CHECK(parse_search_date("2024-01-02 03:04:05") == 1'704'164'645'000);
  CHECK(parse_search_date("2024-01-02t03:04:05z") == 1'704'164'645'000);
  CHECK(parse_search_date("2024-01-02T03:04:05Z") == 1'704'164'645'000);
  CHECK(parse_search_date("2024-01-02T03:04:05.25Z") == 1'704'164'645'250);
  CHECK(parse_search_date("2024-01-02T05:04:05+02:00") == 1'704'164'645'000);
  CHECK(parse_search_date("2024-01-01T22:04:05-0500") == 1'704'164'645'000);
  CHECK(parse_search_date("1970-01-01") == 0);
  CHECK(parse_search_date("2024-02-29") == 1'709'164'800'000);  // a leap day
  for (const char* bad :
       {"", "2024", "2024-1-2", "2024-13-01", "2023-02-29", "2024-01-32", "2024-01-02 24:00",
        "2024-01-02 10:60", "2024-01-02 10", "2024-01-02x", "2024-01-02 10:00:00 utc",
        "2024-01-02T10:00+25:00", "yesterday", "2024-01-02T10:00:00."}) {
    CHECK_MESSAGE(!parse_search_date(bad), bad);
  }
}

TEST_CASE("search: after: and before: compare the received time, negated as Mailpit does") {
  // received 2024-01-02T03:04:05Z
  CHECK(matches("after:2024-01-02"));
  CHECK(matches("after:2024-01-01"));
  CHECK_FALSE(matches("after:2024-01-03"));
  CHECK(matches("before:2024-01-03"));
  CHECK_FALSE(matches("before:2024-01-02"));
  CHECK(matches("after:2024-01-02 before:2024-01-03"));
  CHECK(matches("\"after:2024-01-02 03:04\""));
  CHECK_FALSE(matches("\"after:2024-01-02 03:05\""));
  CHECK(matches("after:2024-01-02T04:00:00+01:00"));        // 03:00 UTC
  CHECK_FALSE(matches("after:2024-01-02T04:00:00-01:00"));  // 05:00 UTC
  // The bound itself matches both a term and its negation (Mailpit's >= / <=).
  CHECK(matches("after:2024-01-02T03:04:05Z"));
  CHECK(matches("-after:2024-01-02T03:04:05Z"));
  CHECK(matches("before:2024-01-02T03:04:05Z"));
  CHECK(matches("!before:2024-01-02T03:04:05Z"));
  CHECK_FALSE(matches("-after:2024-01-02"));
  CHECK(matches("-after:2024-01-03"));
  CHECK(matches("-before:2024-01-02"));
  CHECK_FALSE(matches("!before:2024-01-03"));
}

TEST_CASE("search: a bad date is a 400 naming the term, not an ignored term") {
  for (const char* q : {"before:yesterday", "after:2024-13-01", "-after:2024-02-30", "before:"}) {
    CHECK_THROWS_AS(search_query::parse(q), std::invalid_argument);
  }
  const auto e = parse_error("before:2024-13-01");
  CHECK(e.find("before:2024-13-01") != std::string::npos);
  CHECK(e.find("UTC") != std::string::npos);
  CHECK(parse_error("!after:soon").find("after:soon") != std::string::npos);
}

TEST_CASE("search: sizes in Mailpit's forms") {
  CHECK(parse_search_size("100") == 100u);
  CHECK(parse_search_size("0") == 0u);
  CHECK(parse_search_size("2kb") == 2048u);
  CHECK(parse_search_size("2KB") == 2048u);
  CHECK(parse_search_size("2kB") == 2048u);
  CHECK(parse_search_size("2k") == 2048u);
  CHECK(parse_search_size("4MB") == 4u * 1024 * 1024);
  CHECK(parse_search_size("4mb") == 4u * 1024 * 1024);
  CHECK(parse_search_size("1.5m") == 1'572'864u);
  CHECK(parse_search_size("1.5 kb") == 1536u);
  CHECK(parse_search_size("10.7") == 10u);
  for (const char* bad : {"", "kb", "-1", "1.", ".5k", "2gb", "2 k b", "2  kb", "1e3", "2kbs",
                          "99999999999999999999999m"}) {
    CHECK_MESSAGE(!parse_search_size(bad), bad);
  }
}

TEST_CASE("search: larger: and smaller: compare the size, negated as Mailpit does") {
  // size 2048
  CHECK(matches("larger:2000"));
  CHECK(matches("larger:1k"));
  CHECK_FALSE(matches("larger:2kb"));
  CHECK_FALSE(matches("larger:1m"));
  CHECK(matches("smaller:3kb"));
  CHECK(matches("smaller:0.5m"));
  CHECK_FALSE(matches("smaller:2k"));
  CHECK(matches("larger:1kb smaller:3kb"));
  // Mailpit's negation: -larger:N is "smaller than N", -smaller:N "larger than N"; N itself
  // matches neither.
  CHECK(matches("-larger:3kb"));
  CHECK_FALSE(matches("-larger:1kb"));
  CHECK_FALSE(matches("-larger:2kb"));
  CHECK(matches("!smaller:1kb"));
  CHECK_FALSE(matches("!smaller:3kb"));
  CHECK_FALSE(matches("-smaller:2048"));
  CHECK(matches("\"larger:1.5 kb\""));
}

TEST_CASE("search: a bad size is a 400 naming the term") {
  for (const char* q : {"larger:big", "smaller:2gb", "-larger:1.k", "larger:", "smaller:"}) {
    CHECK_THROWS_AS(search_query::parse(q), std::invalid_argument);
  }
  const auto e = parse_error("larger:2gb");
  CHECK(e.find("larger:2gb") != std::string::npos);
  CHECK(e.find("1024") != std::string::npos);
}

TEST_CASE("search: tag: is a whole tag name, is:tagged any tag") {
  search_fields m;
  m.tags = {"red one", "urgent"};
  CHECK(search_query::parse("tag:urgent").matches(m));
  CHECK(search_query::parse("TAG:Urgent").matches(m));
  CHECK(search_query::parse("tag:\"red one\"").matches(m));
  CHECK_FALSE(search_query::parse("tag:red").matches(m));  // not a substring
  CHECK_FALSE(search_query::parse("-tag:urgent").matches(m));
  CHECK(search_query::parse("is:tagged").matches(m));
  CHECK_FALSE(search_query::parse("!is:tagged").matches(m));
  m.tags.clear();
  CHECK_FALSE(search_query::parse("is:tagged").matches(m));
  CHECK(search_query::parse("-is:tagged").matches(m));
  CHECK(parse_error("tag:").find("needs a value") != std::string::npos);
}
