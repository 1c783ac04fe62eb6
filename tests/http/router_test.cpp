// The route matcher and the request-line helpers (router.hpp) on their own.
#include "http/router.hpp"

#include <doctest/doctest.h>

#include "http/api.hpp"

using namespace smtpmock::http;

namespace {

http_response answer_a(request_context&) {
  return {};
}
http_response answer_b(request_context&) {
  return {};
}

const route rows[] = {
    {"GET", "/api/v1/messages/wait", answer_a},
    {"GET", "/api/v1/messages/:id", answer_b},
    {"DELETE", "/api/v1/messages/:id", answer_b},
    {"GET", "/api/v1/message/:id/part/:part", answer_a},
    {"PUT", "/api/v1/tags/:tag", answer_a},
    {"DELETE", "/api/v1/tags/:tag", answer_b},
};

}  // namespace

TEST_CASE("router: the first matching row wins and its parameters are decoded") {
  router r;
  r.add(rows);
  auto wait = r.match("GET", "/api/v1/messages/wait");
  REQUIRE(wait.found);
  CHECK(wait.found == &rows[0]);
  auto one = r.match("DELETE", "/api/v1/messages/a%2Fb");
  REQUIRE(one.found);
  CHECK(one.found == &rows[2]);
  REQUIRE(one.params.size() == 1);
  CHECK(one.params[0] == std::pair<std::string, std::string>{"id", "a/b"});
  auto part = r.match("GET", "/api/v1/message/m1/part/1.2");
  REQUIRE(part.params.size() == 2);
  CHECK(part.params[1].second == "1.2");
  // A path keeps '+' (only a query reads it as a space).
  CHECK(r.match("PUT", "/api/v1/tags/c++").params.at(0).second == "c++");
  CHECK(r.match("PUT", "/api/v1/tags/two%20words").params.at(0).second == "two words");
  // A trailing slash is the same path.
  CHECK(r.match("GET", "/api/v1/messages/wait/").found == &rows[0]);
}

TEST_CASE("router: other methods on a known path give the Allow list; unknown paths nothing") {
  router r;
  r.add(rows);
  auto tag = r.match("GET", "/api/v1/tags/x");
  CHECK_FALSE(tag.found);
  CHECK(tag.allow == "PUT, DELETE");
  auto msg = r.match("POST", "/api/v1/messages/m1");
  CHECK(msg.allow == "GET, DELETE");
  CHECK(r.match("HEAD", "/api/v1/messages/m1").found == &rows[1]);  // HEAD is a GET
  auto none = r.match("GET", "/api/v1/nothing");
  CHECK_FALSE(none.found);
  CHECK(none.allow.empty());
  CHECK_THROWS_AS(r.match("GET", "/api/v1/messages/%zz"), std::invalid_argument);
}

TEST_CASE("router: query strings") {
  auto q = parse_query_string("query=subject:%22hello+world%22&limit=5&limit=7");
  REQUIRE(q);
  CHECK(q->at("query") == "subject:\"hello world\"");
  CHECK(q->at("limit") == "7");  // the last of repeated names
  // Unescaped quotes, brackets and UTF-8 as curl sends them.
  auto raw = parse_query_string("query=to:\"b@y.example\" <x> caf\xc3\xa9");
  REQUIRE(raw);
  CHECK(raw->at("query") == "to:\"b@y.example\" <x> caf\xc3\xa9");
  auto flags = parse_query_string("flag&a=1&other");
  REQUIRE(flags);
  CHECK(flags->at("flag").empty());
  CHECK(flags->at("a") == "1");
  CHECK(flags->count("other") == 1);
  CHECK(parse_query_string("")->empty());
  CHECK_FALSE(parse_query_string("a=%G0"));
  CHECK_FALSE(parse_query_string("a=%4"));
}

TEST_CASE("router: Basic credentials") {
  const auto c = basic_credentials("Basic dTpwOnE=");  // u:p:q
  REQUIRE(c);
  CHECK(c->first == "u");
  CHECK(c->second == "p:q");
  CHECK(basic_credentials("basic   dTpw"));  // the scheme is case-insensitive
  CHECK_FALSE(basic_credentials(""));
  CHECK_FALSE(basic_credentials("Bearer dTpw"));
  CHECK_FALSE(basic_credentials("Basic !!!"));
  CHECK_FALSE(basic_credentials("Basic dQ=="));  // "u": no colon
}
