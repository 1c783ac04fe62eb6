// Tests for http::search_query: Mailpit's search terms, quoting, negation, errors.
#include "http/search.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

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
  f.read = false;
  f.attachments = 1;
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
  CHECK_THROWS_AS(search_query::parse("has:inline"), std::invalid_argument);
  CHECK_THROWS_AS(search_query::parse("from:"), std::invalid_argument);
}
