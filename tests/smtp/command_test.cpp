#include "smtp/command.hpp"

#include <doctest/doctest.h>

using namespace smtpmock::smtp;

TEST_CASE("unit: verbs are case-insensitive and split from their argument") {
  auto c = parse_command("mail FROM:<a@b.example>");
  CHECK(c.id == verb::mail);
  CHECK(c.argument == "FROM:<a@b.example>");
  CHECK(parse_command("eHlO client.example").id == verb::ehlo);
  CHECK(parse_command("QUIT").id == verb::quit);
  CHECK(parse_command("STARTTLS").id == verb::starttls);
  CHECK(parse_command("MAILX FROM:<a@b>").id == verb::unknown);
  CHECK(parse_command("").id == verb::unknown);
  CHECK(parse_command("NOOP   trailing   ").argument == "trailing");
}

TEST_CASE("unit: the command table marks the RFC 2920 group enders") {
  for (const auto& row : command_table) {
    const bool ends = row.id == verb::helo || row.id == verb::ehlo || row.id == verb::data ||
                      row.id == verb::vrfy || row.id == verb::expn || row.id == verb::quit ||
                      row.id == verb::noop || row.id == verb::help || row.id == verb::auth ||
                      row.id == verb::starttls;
    CHECK_MESSAGE(row.ends_pipeline_group == ends, row.name);
  }
}

TEST_CASE("unit: MAIL FROM paths and parameters") {
  path_argument p;
  CHECK(parse_path("FROM:<a@b.example>", "FROM", p) == path_error::none);
  CHECK(p.address == "a@b.example");
  CHECK(parse_path("FROM: <support@port25.com>", "FROM", p) == path_error::none);
  CHECK(p.address == "support@port25.com");
  CHECK(parse_path("from:<>", "FROM", p) == path_error::none);
  CHECK(p.address.empty());
  CHECK(parse_path("FROM:<a@b> size=100 BODY=8BITMIME SMTPUTF8", "FROM", p) == path_error::none);
  REQUIRE(p.params.size() == 3);
  CHECK(p.params[0].keyword == "SIZE");
  CHECK(p.params[0].value == "100");
  CHECK(p.params[2].text() == "SMTPUTF8");
  CHECK(parse_path("FROM:<@relay.example:a@b.example>", "FROM", p) == path_error::none);
  CHECK(p.address == "a@b.example");
  CHECK(parse_path("FROM:<\"john doe\"@b.example>", "FROM", p) == path_error::none);
  CHECK(p.address == "\"john doe\"@b.example");
}

TEST_CASE("unit: malformed paths are reported, never thrown") {
  path_argument p;
  CHECK(parse_path("FROM a@b", "FROM", p) == path_error::missing_prefix);
  CHECK(parse_path("TO:<a@b>", "FROM", p) == path_error::missing_prefix);
  CHECK(parse_path("FROM:a@b", "FROM", p) == path_error::bad_path);
  CHECK(parse_path("FROM:<a@b", "FROM", p) == path_error::bad_path);
  CHECK(parse_path("FROM:<ab>", "FROM", p) == path_error::bad_path);
  CHECK(parse_path("FROM:<a b@c>", "FROM", p) == path_error::bad_path);
  CHECK(parse_path("FROM:<a@>", "FROM", p) == path_error::bad_path);
  CHECK(parse_path("FROM:<a@b>SIZE=1", "FROM", p) == path_error::bad_parameter);
  CHECK(parse_path("FROM:<a@b> SIZE=", "FROM", p) == path_error::bad_parameter);
  CHECK(parse_path("FROM:<a@b> =x", "FROM", p) == path_error::bad_parameter);
  CHECK(parse_path("TO:<postmaster>", "TO", p) == path_error::none);
}
