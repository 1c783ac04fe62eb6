// Tests of multi-line replies written as on the wire ("550-..." on every line but the last):
// they load as the same reply as the dash-less form, and the wrong ones fail at their line.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "scenario/lint.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"
#include "smtp/reply.hpp"
#include "support.hpp"
#include "temp_dir.hpp"

namespace sc = smtpmock::scenario;
namespace smtp = smtpmock::smtp;

namespace {

using smtpmock::testing::contains;

/// The reply lines of the only rule of a scenario whose rule is `{on: rcpt, reply: <reply>}`.
std::vector<std::string> reply_of(const std::string& reply) {
  const auto def =
      sc::load_definition_text("rules:\n  - on: rcpt\n    reply: " + reply + "\n", "test.yaml");
  REQUIRE(def->rules.size() == 1);
  REQUIRE(def->rules[0].then.reply.has_value());
  return *def->rules[0].then.reply;
}

std::string wire(const std::vector<std::string>& lines, bool enhanced) {
  return smtp::serialise(smtp::reply::parse_lines(lines), enhanced);
}

sc::load_error error_of_text(const std::string& yaml) {
  return smtpmock::testing::error_of("test.yaml",
                                     [&] { sc::load_definition_text(yaml, "test.yaml"); });
}

const std::string last_line_dash =
    "the last line of a reply has a space after the code, not a dash";

}  // namespace

TEST_CASE("wire replies: the wire form and the dash-less form are the same reply") {
  const auto dashless = reply_of(R"(["550 5.7.1 first", "550 5.7.1 second", "550 5.7.1 last"])");
  const auto on_wire = reply_of(R"(["550-5.7.1 first", "550-5.7.1 second", "550 5.7.1 last"])");
  const auto mixed = reply_of(R"(["550-5.7.1 first", "550 5.7.1 second", "550 5.7.1 last"])");
  CHECK(on_wire == dashless);  // stored in one form
  CHECK(mixed == dashless);
  for (const bool enhanced : {false, true}) {
    CHECK(wire(on_wire, enhanced) == wire(dashless, enhanced));
    CHECK(wire(mixed, enhanced) == wire(dashless, enhanced));
  }
  CHECK(wire(on_wire, false) == "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n");
  const smtp::reply r = smtp::reply::parse_lines(on_wire);
  CHECK(r.code == 550);
  CHECK(r.lines == std::vector<std::string>{"5.7.1 first", "5.7.1 second", "5.7.1 last"});
}

TEST_CASE("wire replies: block lists, templates, texts without a space and greylist replies") {
  const auto block = reply_of("\n      - \"250-first\"\n      - \"250 last\"");
  CHECK(block == std::vector<std::string>{"250 first", "250 last"});
  // A continuation line with no text: "250-" is "250" with an empty text.
  CHECK(wire(reply_of(R"(["250-", "250 last"])"), false) == "250-\r\n250 last\r\n");
  const auto templated = reply_of(R"(["550-5.1.1 <{recipient}> unknown", "550 5.1.1 bye"])");
  CHECK(templated.front() == "550 5.1.1 <{recipient}> unknown");
  CHECK(contains(
      error_of_text("rules:\n  - {on: rcpt, reply: [\"550-<{recipent}>\", \"550 x\"]}\n").message(),
      "unknown template '{recipent}'"));
  const auto def = sc::load_definition_text(
      "rules:\n  - on: rcpt\n    greylist: {retry_after: 60s, reply: [\"451-4.7.1 wait\", "
      "\"451 4.7.1 retry\"]}\n",
      "test.yaml");
  REQUIRE(def->rules.at(0).then.reply.has_value());
  CHECK(*def->rules[0].then.reply == std::vector<std::string>{"451 4.7.1 wait", "451 4.7.1 retry"});
  // The class check of a greylist reply reads the first line's code, dash or not.
  CHECK(contains(error_of_text("rules:\n  - on: rcpt\n    greylist: {retry_after: 60s, reply: "
                               "[\"550-5.7.1 no\", \"550 5.7.1 no\"]}\n")
                     .message(),
                 "must be a 4xx reply"));
  // The DATA check of abort_after_bytes too.
  const auto abort = sc::load_definition_text(
      "rules:\n  - {on: data, abort_after_bytes: 10, reply: [\"354-go\", \"354 on\"]}\n",
      "test.yaml");
  CHECK(abort->rules.at(0).then.abort_after_bytes.has_value());
}

TEST_CASE("wire replies: wrong ones fail at the offending line with a clear message") {
  struct expectation {
    std::string yaml;
    int line;
    int column;
    std::string message;
  };
  const std::vector<expectation> cases = {
      // A dash on the last line.
      {"rules:\n  - {on: rcpt, reply: [\"550-a\", \"550-b\"]}\n", 2, 33,
       "bad reply '550-b' for 'rules[0].reply[1]': " + last_line_dash},
      {"rules:\n  - on: rcpt\n    reply:\n      - \"550-a\"\n      - \"550-b\"\n", 5, 9,
       "bad reply '550-b' for 'rules[0].reply[1]': " + last_line_dash},
      // A one-line reply with a dash is a last line with a dash.
      {"rules:\n  - {on: rcpt, reply: \"250-ok\"}\n", 2, 23,
       "bad reply '250-ok' for 'rules[0].reply': " + last_line_dash +
           " (a one-line reply is its own last line)"},
      {"rules:\n  - {on: rcpt, reply: [\"250-ok\"]}\n", 2, 24,
       "bad reply '250-ok' for 'rules[0].reply[0]': " + last_line_dash},
      {"rules:\n  - on: rcpt\n    greylist: {retry_after: 1s, reply: \"451-4.7.1 later\"}\n", 3, 40,
       "bad reply '451-4.7.1 later' for 'rules[0].greylist.reply': " + last_line_dash},
      // Codes that disagree, at the line that disagrees, whatever the dashes.
      {"rules:\n  - on: rcpt\n    reply:\n      - \"550-5.7.1 a\"\n      - \"551-5.7.1 b\"\n"
       "      - \"550 5.7.1 c\"\n",
       5, 9,
       "every line of a multi-line reply must have the same code: line 1 has 550, this line has "
       "551"},
      {"rules:\n  - {on: rcpt, reply: [\"550-a\", \"550-b\", \"450 c\"]}\n", 2, 42,
       "every line of a multi-line reply must have the same code: line 1 has 550, this line has "
       "450"},
      // A dash where another character belongs is still a bad reply.
      {"rules:\n  - {on: rcpt, reply: [\"550_a\", \"550 b\"]}\n", 2, 24,
       "bad reply '550_a' for 'rules[0].reply[0]' (expected a code from 200 to 599"},
      {"rules:\n  - {on: rcpt, reply: [\"150-a\", \"150 b\"]}\n", 2, 24, "bad reply '150-a'"},
      {"rules:\n  - {on: rcpt, reply: [\"550-4.1.1 a\", \"550 5.1.1 b\"]}\n", 2, 24,
       "enhanced status code class 4 does not match reply code 550"},
      // Personality replies and the STARTTLS injection are one line: a dash is the last line's.
      {"replies:\n  rcpt: \"250-2.1.5 ok\"\n", 2, 9,
       "bad reply '250-2.1.5 ok' for 'replies.rcpt': " + last_line_dash},
      {"quirks:\n  starttls_inject: \"250-x\"\n", 2, 20,
       "bad reply '250-x' for 'quirks.starttls_inject': " + last_line_dash},
  };
  for (const auto& c : cases) {
    CAPTURE(c.yaml);
    const auto e = error_of_text(c.yaml);
    CAPTURE(e.what());
    CHECK(e.line() == c.line);
    CHECK(e.column() == c.column);
    CHECK(contains(e.message(), c.message));
  }
}

TEST_CASE("wire replies: lint reports every wrong line in one run, each at its position") {
  smtpmock::testing::temp_dir dir;
  const auto file = dir.write("replies.yaml",
                              "name: replies\n"                                  // 1
                              "rules:\n"                                         // 2
                              "  - name: good-wire\n"                            // 3
                              "    on: rcpt\n"                                   // 4
                              "    reply: [\"550-5.7.1 a\", \"550 5.7.1 b\"]\n"  // 5
                              "  - name: codes\n"                                // 6
                              "    on: rcpt\n"                                   // 7
                              "    reply:\n"                                     // 8
                              "      - \"550-5.7.1 a\"\n"                        // 9
                              "      - \"551-5.7.1 b\"\n"                        // 10
                              "      - \"550-5.7.1 c\"\n"                        // 11
                              "  - name: last-dash\n"                            // 12
                              "    on: mail\n"                                   // 13
                              "    reply: [\"451-4.3.0 a\", \"451-4.3.0 b\"]\n"  // 14
                              "  - name: one-line\n"                             // 15
                              "    on: helo\n"                                   // 16
                              "    reply: \"250-hello\"\n"                       // 17
                              "replies:\n"                                       // 18
                              "  mail: \"250-2.1.0 ok\"\n");                     // 19
  const auto results = sc::lint({file.string()});
  REQUIRE(results.size() == 1);
  CHECK_FALSE(results[0].ok);
  const auto& errors = results[0].errors;
  REQUIRE(errors.size() == 5);
  const std::string f = file.string() + ":";
  CHECK(errors[0].rfind(f + "10:9: every line of a multi-line reply must have the same code", 0) ==
        0);
  CHECK(errors[1] ==
        f + "11:9: bad reply '550-5.7.1 c' for 'rules[1].reply[2]': " + last_line_dash);
  CHECK(errors[2] ==
        f + "14:28: bad reply '451-4.3.0 b' for 'rules[2].reply[1]': " + last_line_dash);
  CHECK(errors[3] == f + "17:12: bad reply '250-hello' for 'rules[3].reply': " + last_line_dash +
                         " (a one-line reply is its own last line)");
  CHECK(errors[4] == f + "19:9: bad reply '250-2.1.0 ok' for 'replies.mail': " + last_line_dash +
                         " (a one-line reply is its own last line)");
}
