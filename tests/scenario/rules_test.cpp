// Tests of scenario rules: event names, glob and /regex/ patterns, the loader's reading of
// `rules:` into a definition (the SPEC §3 example above all), every rule error at its exact
// line:column, and lint over a mix of good and broken files.
#include "scenario/rules.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "scenario/lint.hpp"
#include "scenario/loader.hpp"
#include "smtp/reply.hpp"
#include "support.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
namespace sc = smtpmock::scenario;
namespace smtp = smtpmock::smtp;
using namespace std::chrono_literals;

namespace {

using smtpmock::testing::contains;
using smtpmock::testing::scenario_tests;
const fs::path broken = smtpmock::testing::broken_fixtures;
const fs::path good = scenario_tests / "good";

/// The rules of a scenario made of `rules_yaml` (the text after "rules:\n").
std::vector<sc::rule> rules_of(const std::string& rules_yaml) {
  return sc::load_definition_text("rules:\n" + rules_yaml, "test.yaml")->rules;
}

/// The error loading `yaml` raises, or one with line -1 when it loads.
sc::load_error error_of_text(const std::string& yaml) {
  return smtpmock::testing::error_of("test.yaml",
                                     [&] { sc::load_definition_text(yaml, "test.yaml"); });
}

sc::load_error error_of_file(const fs::path& file) {
  return smtpmock::testing::error_of(file.string(), [&] { sc::load_definition_file(file); });
}

bool matches(const std::string& pattern, const std::string& value) {
  return sc::pattern(pattern).matches(value);
}

}  // namespace

// ---- the model ---------------------------------------------------------------------------

TEST_CASE("rules: event names round-trip, and unknown names are nullopt") {
  const auto names = sc::all_event_names();
  CHECK(names.size() == 17);
  CHECK(names.front() == "connect");
  CHECK(names.back() == "any");
  for (const auto name : names) {
    CAPTURE(name);
    const auto event = sc::event_from_name(name);
    REQUIRE(event.has_value());
    CHECK(sc::event_name(*event) == name);
  }
  CHECK(sc::event_from_name("rcpt") == sc::event_type::rcpt);
  CHECK(sc::event_from_name("message") == sc::event_type::message);
  CHECK_FALSE(sc::event_from_name("RCPT").has_value());  // written in lower case, as in SPEC
  CHECK_FALSE(sc::event_from_name("rcpt ").has_value());
  CHECK_FALSE(sc::event_from_name("").has_value());
  CHECK_FALSE(sc::event_from_name("ehlo_").has_value());
}

TEST_CASE("pattern: a glob matches the whole value, case-insensitively") {
  CHECK(matches("*@blocked.example", "bob@blocked.example"));
  CHECK(matches("*@blocked.example", "Bob@BLOCKED.Example"));
  CHECK(matches("*@blocked.example", "@blocked.example"));
  CHECK_FALSE(matches("*@blocked.example", "bob@blocked.example.org"));
  CHECK_FALSE(matches("*@blocked.example", "bob@notblocked.example."));
  CHECK(matches("*@*blocked.example", "bob@notblocked.example"));
  CHECK(matches("bob", "BOB"));
  CHECK_FALSE(matches("bob", "bobby"));
  CHECK_FALSE(matches("bob", "xbob"));
  CHECK(matches("b?b", "bOb"));
  CHECK_FALSE(matches("b?b", "bb"));
  CHECK_FALSE(matches("b?b", "boob"));
  CHECK(matches("*", ""));
  CHECK(matches("*", "anything at all"));
  CHECK(matches("", ""));
  CHECK_FALSE(matches("", "x"));
  CHECK(matches("**a**", "a"));
  CHECK(matches("a*b*c", "aXXbYYbZZc"));
  CHECK_FALSE(matches("a*b*c", "aXXbYYbZZ"));
  CHECK(matches("*ab", "aab"));  // the star gives back what the rest needs
  CHECK(matches("10.0.0.*", "10.0.0.17"));
  CHECK_FALSE(matches("10.0.0.*", "10.0.1.17"));
  CHECK(matches("[1.2.3.4]", "[1.2.3.4]"));  // brackets are literal: globs have only * and ?
  CHECK(matches("/", "/"));                  // a lone slash is a glob, not a regex
  CHECK(sc::pattern("*@x").text() == "*@x");
}

TEST_CASE("pattern: globs without inner wildcards compile to plain compares") {
  using form = sc::pattern::form;
  CHECK(sc::pattern("*@blocked.example").compiled_form() == form::suffix);
  CHECK(sc::pattern("**@blocked.example").compiled_form() == form::suffix);
  CHECK(sc::pattern("10.0.0.*").compiled_form() == form::prefix);
  CHECK(sc::pattern("*viagra*").compiled_form() == form::infix);
  CHECK(sc::pattern("bob").compiled_form() == form::literal);
  CHECK(sc::pattern("").compiled_form() == form::literal);
  CHECK(sc::pattern("*").compiled_form() == form::any);
  CHECK(sc::pattern("***").compiled_form() == form::any);
  CHECK(sc::pattern("b?b").compiled_form() == form::general);
  CHECK(sc::pattern("*@*blocked").compiled_form() == form::general);
  CHECK(sc::pattern("?*").compiled_form() == form::general);
  CHECK(sc::pattern("/x/").compiled_form() == form::regex);

  // suffix
  CHECK(matches("*@Blocked.Example", "bob@bLOCKED.example"));
  CHECK(matches("*@blocked.example", "@blocked.example"));
  CHECK_FALSE(matches("*@blocked.example", "blocked.example"));
  CHECK_FALSE(matches("*@blocked.example", ""));
  CHECK(matches("*", ""));
  // prefix
  CHECK(matches("Postmaster@*", "POSTMASTER@x"));
  CHECK(matches("postmaster@*", "postmaster@"));
  CHECK_FALSE(matches("postmaster@*", "postmaster"));
  CHECK_FALSE(matches("postmaster@*", ""));
  // literal
  CHECK(matches("Bob@X", "bob@x"));
  CHECK_FALSE(matches("bob@x", "bob@x "));
  CHECK_FALSE(matches("bob@x", ""));
  CHECK(matches("", ""));
  // infix
  CHECK(matches("*VIAGRA*", "cheap viagra now"));
  CHECK(matches("*viagra*", "VIAGRA"));
  CHECK(matches("*aab*", "aaab"));  // a partial match does not hide the real one
  CHECK_FALSE(matches("*viagra*", "viagr"));
  CHECK_FALSE(matches("*viagra*", ""));
  // '?' and inner stars keep the general matcher
  CHECK(matches("?@x", "B@X"));
  CHECK_FALSE(matches("?@x", "@x"));
  CHECK_FALSE(matches("?", ""));
  // Case folding is ASCII only: other octets compare as they are.
  CHECK(matches("*\xc3\xa9", "caf\xc3\xa9"));
  CHECK_FALSE(matches("*\xc3\xa9", "CAF\xc3\x89"));
}

TEST_CASE("pattern: every compiled glob answers as the general glob matcher would") {
  // A plain recursive reference: '*' any run, '?' one octet, ASCII case folded.
  std::function<bool(std::string_view, std::string_view)> reference = [&](std::string_view g,
                                                                          std::string_view v) {
    if (g.empty()) return v.empty();
    if (g[0] == '*') return reference(g.substr(1), v) || (!v.empty() && reference(g, v.substr(1)));
    if (v.empty()) return false;
    auto low = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (g[0] != '?' && low(g[0]) != low(v[0])) return false;
    return reference(g.substr(1), v.substr(1));
  };
  const std::vector<std::string> globs = {"",     "*",    "**", "a",   "A",    "ab",  "*a",
                                          "*ab",  "**ab", "a*", "ab*", "ab**", "*a*", "*ab*",
                                          "*aB*", "a?",   "?b", "a*b", "*a*b", "?*",  "*?"};
  const std::vector<std::string> values = {"",    "a",    "A",   "b",   "ab",   "AB",  "ba",
                                           "aab", "abb",  "xab", "abx", "xabx", "aXb", "aaab",
                                           "bab", "abab", "x",   "xx",  "Ab",   "@ab"};
  for (const auto& g : globs) {
    for (const auto& v : values) {
      CAPTURE(g);
      CAPTURE(v);
      CHECK(matches(g, v) == reference(g, v));
    }
  }
}

TEST_CASE("pattern: /regex/ searches, case-sensitively unless written /regex/i") {
  CHECK(matches("/blocked/", "bob@blocked.example"));  // search, not a whole match
  CHECK_FALSE(matches("/blocked/", "bob@BLOCKED.example"));
  CHECK(matches("/blocked/i", "bob@BLOCKED.example"));
  CHECK(matches("/^bob@/", "bob@x"));
  CHECK_FALSE(matches("/^bob@/", "alice.bob@x"));
  CHECK(matches("/^(alice|bob)@example\\.com$/", "alice@example.com"));
  CHECK_FALSE(matches("/^(alice|bob)@example\\.com$/", "alice@exampleXcom"));
  CHECK_FALSE(matches("/^(alice|bob)@example\\.com$/", "Alice@example.com"));
  CHECK(matches("/^(alice|bob)@example\\.com$/i", "Alice@Example.COM"));
  CHECK(matches("/a/b/", "xa/by"));  // the regex is everything between the outer slashes
  CHECK(matches("//", "anything"));
  CHECK(matches("/\\d{3}/", "code 550 here"));
  CHECK_FALSE(matches("/\\d{3}/", "code 55 here"));
  CHECK(sc::pattern("/x/i").text() == "/x/i");
}

TEST_CASE("pattern: a bad /regex/ throws pattern_error at construction") {
  CHECK_THROWS_AS(sc::pattern("/(unclosed/"), sc::pattern_error);
  CHECK_THROWS_AS(sc::pattern("/[z-a]/i"), sc::pattern_error);
  CHECK_THROWS_AS(sc::pattern("/a{2,1}/"), sc::pattern_error);
  CHECK_NOTHROW(sc::pattern("(unclosed"));  // a glob: nothing to compile
}

// ---- loading -----------------------------------------------------------------------------

TEST_CASE("rules: the SPEC §3 example loads with all five rules as described") {
  const auto def = sc::load_definition_file(good / "spec-example.yaml");
  CHECK(def->file == (good / "spec-example.yaml").string());
  REQUIRE(def->personality);
  CHECK(def->personality->name == "powermta");
  CHECK(def->personality->hostname == "mail.port25.com");
  CHECK(def->personality->seed == std::optional<unsigned long long>(42));
  REQUIRE(def->personality->auth.users.size() == 1);
  CHECK(def->personality->auth.users[0].user == "alice");
  REQUIRE(def->rules.size() == 5);

  const auto& unknown_user = def->rules[0];
  CHECK(unknown_user.name == "unknown-user");
  CHECK(unknown_user.on == sc::event_type::rcpt);
  CHECK(unknown_user.line == 29);
  REQUIRE(unknown_user.match.recipient.has_value());
  CHECK(unknown_user.match.recipient->text() == "*@blocked.example");
  CHECK(unknown_user.match.recipient->matches("someone@Blocked.Example"));
  CHECK_FALSE(unknown_user.match.recipient->matches("someone@example.com"));
  CHECK_FALSE(unknown_user.match.sender.has_value());
  CHECK(unknown_user.then.reply ==
        std::vector<std::string>{
            "550 5.1.1 <{recipient}>: Recipient address rejected: User unknown"});
  CHECK_FALSE(unknown_user.then.hang);
  CHECK(unknown_user.then.disconnect == sc::disconnect_mode::none);
  CHECK_FALSE(unknown_user.when.nth.has_value());
  CHECK(unknown_user.when.per == sc::scope::server);

  const auto& greylist = def->rules[1];
  CHECK(greylist.name == "greylist");
  CHECK(greylist.on == sc::event_type::rcpt);
  CHECK(greylist.line == 33);
  CHECK(greylist.then.greylist == std::optional<std::chrono::milliseconds>(60s));
  CHECK_FALSE(greylist.then.reply.has_value());  // the engine's default 451 4.7.1

  const auto& busy = def->rules[2];
  CHECK(busy.name == "busy-first-connection");
  CHECK(busy.on == sc::event_type::connect);
  CHECK(busy.line == 36);
  CHECK(busy.when.nth == std::optional<std::uint64_t>(1));
  CHECK_FALSE(busy.when.every.has_value());
  CHECK(busy.then.reply == std::vector<std::string>{"421 4.3.2 Too busy, try later"});

  const auto& flaky = def->rules[3];
  CHECK(flaky.name == "flaky-data");
  CHECK(flaky.on == sc::event_type::message);
  CHECK(flaky.when.probability == std::optional<double>(0.1));
  CHECK(flaky.then.disconnect == sc::disconnect_mode::before_reply);
  CHECK_FALSE(flaky.then.reply.has_value());

  const auto& slow = def->rules[4];
  CHECK(slow.name == "slow-ehlo");
  CHECK(slow.on == sc::event_type::ehlo);
  CHECK(slow.line == 44);
  CHECK(slow.then.delay == std::optional<std::chrono::milliseconds>(3s));
  CHECK_FALSE(slow.then.reply.has_value());
}

TEST_CASE("rules: load_text and load_file still give the personality of the definition") {
  const auto file = good / "spec-example.yaml";
  CHECK(sc::load_file(file)->name == "powermta");
  CHECK(sc::load_file(file)->banner == sc::load_definition_file(file)->personality->banner);
  const auto text = sc::load_definition_text("name: t\nrules:\n  - {on: ehlo, delay: 1s}\n", "");
  CHECK(text->file.empty());  // text has no file; only load_definition_file records one
  CHECK(text->rules.size() == 1);
  CHECK(sc::load_text("name: t\nrules:\n  - {on: ehlo, delay: 1s}\n", "x.yaml")->name == "t");
  // Rules are checked even when only the personality is wanted.
  CHECK_THROWS_AS(sc::load_text("rules:\n  - {on: ehlo}\n", "x.yaml"), sc::load_error);
}

TEST_CASE("rules: a file without rules has none, and so has an empty list") {
  CHECK(sc::load_definition_text("name: x\n", "x.yaml")->rules.empty());
  CHECK(sc::load_definition_text("name: x\nrules: []\n", "x.yaml")->rules.empty());
}

TEST_CASE("rules: every key of a rule is read") {
  const auto rules = rules_of(R"(
  - name: everything
    on: message
    match:
      argument: "/size=/i"
      sender: "*@example.com"
      recipient: "bob@*"
      helo: "client.example"
      user: "alice"
      client: "127.0.0.*"
      header: {Subject: "*urgent*", X-Mailer: "/^Outlook/"}
      body: "/unsubscribe/i"
      size_over: 1000
    when: {nth: 3, every: 2, after: 1, times: 5, per: session, probability: 0.25, rate: 10/min}
    reply: ["452 4.3.1 Insufficient storage", "452 4.3.1 Try later"]
    delay: 1m30s
    drip: {bytes: 4, every: 50ms}
    split: true
    disconnect: after_reply
)");
  REQUIRE(rules.size() == 1);
  const auto& r = rules[0];
  CHECK(r.name == "everything");
  CHECK(r.on == sc::event_type::message);
  CHECK(r.line == 3);  // the raw string starts with a newline
  CHECK(r.match.argument->matches("SIZE=100"));
  CHECK(r.match.sender->matches("x@EXAMPLE.com"));
  CHECK(r.match.recipient->matches("bob@anywhere"));
  CHECK(r.match.helo->matches("CLIENT.example"));
  CHECK(r.match.user->matches("alice"));
  CHECK(r.match.client->matches("127.0.0.1"));
  REQUIRE(r.match.headers.size() == 2);
  CHECK(r.match.headers[0].first == "Subject");
  CHECK(r.match.headers[0].second.matches("an URGENT request"));
  CHECK(r.match.headers[1].first == "X-Mailer");
  CHECK(r.match.headers[1].second.matches("Outlook 16"));
  CHECK_FALSE(r.match.headers[1].second.matches("outlook 16"));
  CHECK(r.match.body->matches("...\r\nUnsubscribe here\r\n"));
  CHECK(r.match.size_over == std::optional<std::size_t>(1000));
  CHECK(r.when.nth == std::optional<std::uint64_t>(3));
  CHECK(r.when.every == std::optional<std::uint64_t>(2));
  CHECK(r.when.after == std::optional<std::uint64_t>(1));
  CHECK(r.when.times == std::optional<std::uint64_t>(5));
  CHECK(r.when.per == sc::scope::session);
  CHECK(r.when.probability == std::optional<double>(0.25));
  REQUIRE(r.when.rate.has_value());
  CHECK(r.when.rate->count == 10);
  CHECK(r.when.rate->window == 60s);
  REQUIRE(r.then.reply.has_value());
  CHECK(*r.then.reply ==
        std::vector<std::string>{"452 4.3.1 Insufficient storage", "452 4.3.1 Try later"});
  const auto parsed = smtp::reply::parse_lines(*r.then.reply);
  CHECK(parsed.code == 452);
  CHECK(parsed.lines.size() == 2);
  CHECK(r.then.delay == std::optional<std::chrono::milliseconds>(90s));
  REQUIRE(r.then.drip.has_value());
  CHECK(r.then.drip->bytes == 4);
  CHECK(r.then.drip->every == 50ms);
  CHECK(r.then.split);
  CHECK(r.then.disconnect == sc::disconnect_mode::after_reply);
  CHECK_FALSE(r.then.hang);
  CHECK_FALSE(r.then.reset);
  CHECK_FALSE(r.then.abort_after_bytes.has_value());
  CHECK_FALSE(r.then.greylist.has_value());
}

TEST_CASE("rules: effects that go together load") {
  SUBCASE("hang with a delay, and on any event") {
    const auto rules = rules_of("  - {on: any, hang: true, delay: 1s}\n");
    CHECK(rules[0].then.hang);
    CHECK(rules[0].then.delay == std::optional<std::chrono::milliseconds>(1s));
    CHECK(rules[0].on == sc::event_type::any);
  }
  SUBCASE("reset alone, and with disconnect: before_reply") {
    CHECK(rules_of("  - {on: mail, reset: true}\n")[0].then.reset);
    const auto rules =
        rules_of("  - {on: mail, reset: true, disconnect: before_reply, delay: 2s}\n");
    CHECK(rules[0].then.reset);
    CHECK(rules[0].then.disconnect == sc::disconnect_mode::before_reply);
  }
  SUBCASE("disconnect before_reply after a delay; after_reply with a reply") {
    CHECK(rules_of("  - {on: message, disconnect: before_reply, delay: 5s}\n")[0].then.delay);
    const auto rules =
        rules_of("  - {on: rcpt, reply: \"421 4.7.0 bye\", disconnect: after_reply}\n");
    CHECK(rules[0].then.disconnect == sc::disconnect_mode::after_reply);
  }
  SUBCASE("abort_after_bytes on data, alone or with a 354") {
    CHECK(rules_of("  - {on: data, abort_after_bytes: 1}\n")[0].then.abort_after_bytes ==
          std::optional<std::size_t>(1));
    CHECK(rules_of("  - {on: data, abort_after_bytes: 10, reply: \"354 go\", delay: 1s}\n")[0]
              .then.abort_after_bytes == std::optional<std::size_t>(10));
  }
  SUBCASE("drip or split alone shape the default reply") {
    CHECK(rules_of("  - {on: ehlo, drip: {}}\n")[0].then.drip->bytes == 1);
    CHECK(rules_of("  - {on: ehlo, drip: {}}\n")[0].then.drip->every == 200ms);
    CHECK(rules_of("  - {on: ehlo, split: true}\n")[0].then.split);
  }
  SUBCASE("a false flag next to a real effect") {
    const auto rules = rules_of("  - {on: data, hang: false, reset: false, reply: \"451 no\"}\n");
    CHECK_FALSE(rules[0].then.hang);
    CHECK_FALSE(rules[0].then.reset);
  }
}

TEST_CASE("rules: greylist's own reply becomes the rule's reply") {
  const auto rules = rules_of(R"(
  - on: rcpt
    greylist:
      retry_after: 5m
      reply: "450 4.2.0 <{recipient}>: Greylisted, see https://example.com/greylist"
)");
  CHECK(rules[0].then.greylist == std::optional<std::chrono::milliseconds>(5min));
  CHECK(rules[0].then.reply ==
        std::vector<std::string>{
            "450 4.2.0 <{recipient}>: Greylisted, see https://example.com/greylist"});
}

TEST_CASE("rules: names default to rule-N, counted from 1") {
  const auto rules = rules_of(R"(
  - {on: ehlo, delay: 1s}
  - {name: named, on: helo, delay: 1s}
  - {on: mail, delay: 1s}
)");
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].name == "rule-1");
  CHECK(rules[1].name == "named");
  CHECK(rules[2].name == "rule-3");
  CHECK(rules[0].line == 3);
  CHECK(rules[2].line == 5);
}

TEST_CASE("rules: rates per second, minute and hour, short or long") {
  const std::vector<std::pair<std::string, std::chrono::milliseconds>> cases = {
      {"5/sec", 1s}, {"5/s", 1s}, {"5/min", 60s}, {"5/m", 60s}, {"5/hour", 3600s}, {"5/h", 3600s}};
  for (const auto& [text, window] : cases) {
    CAPTURE(text);
    const auto rules = rules_of("  - {on: mail, when: {rate: \"" + text + "\"}, delay: 1s}\n");
    REQUIRE(rules[0].when.rate.has_value());
    CHECK(rules[0].when.rate->count == 5);
    CHECK(rules[0].when.rate->window == window);
  }
}

TEST_CASE("rules: probabilities 0 and 1 are allowed") {
  CHECK(rules_of("  - {on: mail, when: {probability: 0}, delay: 1s}\n")[0].when.probability ==
        std::optional<double>(0.0));
  CHECK(rules_of("  - {on: mail, when: {probability: 1}, delay: 1s}\n")[0].when.probability ==
        std::optional<double>(1.0));
  CHECK(rules_of("  - {on: mail, when: {probability: 1.0}, delay: 1s}\n")[0].when.probability ==
        std::optional<double>(1.0));
  CHECK(rules_of("  - {on: mail, when: {after: 0}, delay: 1s}\n")[0].when.after ==
        std::optional<std::uint64_t>(0));
}

// ---- errors ------------------------------------------------------------------------------

TEST_CASE("rules: broken fixtures fail at the exact line and column with a clear message") {
  struct expectation {
    std::string file;
    int line;
    int column;
    std::string message;
  };
  const std::vector<expectation> cases = {
      {"rules-unknown-key.yaml", 7, 5, "unknown key 'repyl' in 'rules[0]' (did you mean 'reply'?)"},
      {"rules-unknown-match-key.yaml", 6, 13,
       "unknown key 'recipent' in 'rules[0].match' (did you mean 'recipient'?)"},
      {"rules-wrong-type.yaml", 6, 11, "expected a boolean (true or false) for 'rules[0].hang'"},
      {"rules-unknown-event.yaml", 5, 9,
       "unknown event 'rcp' for 'rules[0].on' (did you mean 'rcpt'?); events: connect, helo, "
       "ehlo, starttls, auth, mail, rcpt, data, message, bdat, rset, noop, vrfy, help, quit, "
       "unknown, any"},
      {"rules-missing-on.yaml", 6, 5, "rule 'no-event' needs 'on:', the event it reacts to"},
      {"rules-bad-duration.yaml", 6, 12, "bad duration '3' for 'rules[0].delay'"},
      {"rules-bad-regex.yaml", 6, 21,
       "bad regular expression '/^(spam|junk@example\\.com$/i' for 'rules[0].match.sender': "},
      {"rules-bad-reply.yaml", 6, 12, "bad reply '150 5.1.1 User unknown' for 'rules[0].reply'"},
      {"rules-multiline-codes.yaml", 8, 9,
       "every line of a multi-line reply must have the same code: line 1 has 550, this line "
       "has 551"},
      {"rules-probability.yaml", 6, 25,
       "'rules[0].when.probability' must be between 0 and 1 (a probability, not a percentage)"},
      {"rules-rate.yaml", 8, 13,
       "bad rate '100/day' for 'rules[0].when.rate' (expected a count per sec, min or hour"},
      {"rules-zero-count.yaml", 6, 17, "'rules[0].when.nth' must be at least 1"},
      {"rules-bad-per.yaml", 6, 27,
       "bad value 'connection' for 'rules[0].when.per' (allowed: server, client, session, "
       "transaction)"},
      {"rules-bad-disconnect.yaml", 6, 17,
       "bad value 'true' for 'rules[0].disconnect' (allowed: before_reply, after_reply)"},
      {"rules-hang-reply.yaml", 7, 5,
       "rule 'black-hole': 'hang' and 'reply' cannot be combined: a hanging rule never sends a "
       "reply"},
      {"rules-before-reply.yaml", 7, 5,
       "rule 'drop-slowly': 'disconnect: before_reply' and 'drip' cannot be combined: the "
       "connection closes before anything is sent"},
      {"rules-reset-reply.yaml", 7, 5,
       "rule 'rst': 'reset' and 'reply' cannot be combined: reset closes the connection with a "
       "TCP RST instead of replying"},
      {"rules-greylist-reply.yaml", 7, 5,
       "rule 'greylist': 'reply' and 'greylist' cannot be combined: greylisting sends its own "
       "reply; give it as greylist: {retry_after: 60s, reply: "},
      {"rules-greylist-event.yaml", 6, 5,
       "rule 'greylist': 'greylist' needs on: rcpt (greylisting keys on the recipient"},
      {"rules-abort-event.yaml", 6, 5,
       "rule 'cut-off': 'abort_after_bytes' needs on: data (it acts while the message is "
       "transferred), not on: message"},
      {"rules-header-event.yaml", 6, 13, "rule 'urgent': 'match.header' needs on: message"},
      {"rules-recipient-event.yaml", 7, 7,
       "rule 'blocked': 'match.recipient' needs on: rcpt, message or any; on: mail has no "
       "recipient"},
      {"rules-does-nothing.yaml", 4, 5, "rule 'forgotten' does nothing: give it an effect"},
      {"rules-duplicate-name.yaml", 9, 11,
       "duplicate rule name 'slow' (first used by the rule on line 4)"},
      {"rules-not-a-list.yaml", 4, 3, "expected a list of rules for 'rules'"},
  };
  std::size_t fixtures = 0;
  for (const auto& item : fs::directory_iterator(broken)) {
    fixtures += item.path().extension() == ".yaml" &&
                item.path().filename().string().rfind("rules-", 0) == 0;
  }
  CHECK(fixtures == cases.size());  // every rules fixture has its expectation here
  for (const auto& c : cases) {
    CAPTURE(c.file);
    const auto e = error_of_file(broken / c.file);
    CAPTURE(e.what());
    CHECK(e.line() == c.line);
    CHECK(e.column() == c.column);
    CHECK(contains(e.message(), c.message));
    CHECK(std::string(e.what()) == (broken / c.file).string() + ":" + std::to_string(c.line) + ":" +
                                       std::to_string(c.column) + ": " + e.message());
  }
}

TEST_CASE("rules: the bad-regex error carries the regex library's own reason") {
  const auto e = error_of_file(broken / "rules-bad-regex.yaml");
  const std::string prefix = "for 'rules[0].match.sender': ";
  const auto at = e.message().find(prefix);
  REQUIRE(at != std::string::npos);
  CHECK(e.message().size() > at + prefix.size());  // something after the colon
  std::string reason;
  try {
    sc::pattern("/^(spam|junk@example\\.com$/i");
  } catch (const sc::pattern_error& error) {
    reason = error.what();
  }
  CHECK_FALSE(reason.empty());
  CHECK(contains(e.message(), reason));
}

TEST_CASE("rules: more impossible values and combinations fail at the offending key or value") {
  struct expectation {
    std::string yaml;
    int line;
    int column;
    std::string message;
  };
  const std::vector<expectation> cases = {
      // Types and shapes.
      {"rules: {on: rcpt}\n", 1, 8, "expected a list of rules for 'rules'"},
      {"rules:\n", 1, 1, "missing value for 'rules'"},
      {"rules:\n  - rcpt\n", 2, 5, "expected a mapping for 'rules[0]'"},
      {"rules:\n  - {on: [rcpt], delay: 1s}\n", 2, 10, "expected a string for 'rules[0].on'"},
      {"rules:\n  - {on: rcpt, match: \"*@x\"}\n", 2, 23,
       "expected a mapping for 'rules[0].match'"},
      {"rules:\n  - {on: rcpt, reply: {code: 550}}\n", 2, 23,
       "expected a reply line or a list of reply lines for 'rules[0].reply'"},
      {"rules:\n  - {on: rcpt, reply: []}\n", 2, 23, "'rules[0].reply' needs at least one"},
      {"rules:\n  - {on: rcpt, reply: [\"550 a\", [x]]}\n", 2, 33,
       "expected a reply line in 'rules[0].reply'"},
      {"rules:\n  - {on: rcpt, delay: 0s}\n", 2, 23, "'rules[0].delay' must be longer than 0"},
      {"rules:\n  - {on: rcpt, match: {sender: [a]}}\n", 2, 32,
       "expected a string for 'rules[0].match.sender'"},
      {"rules:\n  - {on: rcpt, split: 1}\n", 2, 23, "expected a boolean (true or false)"},
      {"rules:\n  - {name: \"\", on: rcpt, delay: 1s}\n", 2, 12,
       "'rules[0].name' must not be empty"},
      {"rules:\n  - {on: rcpt, delay: 1s, delay: 2s}\n", 2, 27,
       "duplicate key 'rules[0].delay' (first given on line 2)"},
      // Replies.
      {"rules:\n  - {on: rcpt, reply: \"550-5.1.1 no\"}\n", 2, 23,
       "bad reply '550-5.1.1 no' for 'rules[0].reply': the last line of a reply has a space "
       "after the code, not a dash"},
      {"rules:\n  - {on: rcpt, reply: [\"550 a\", \"550-b\"]}\n", 2, 33,
       "bad reply '550-b' for 'rules[0].reply[1]': the last line of a reply has a space"},
      {"rules:\n  - {on: rcpt, reply: \"600 no\"}\n", 2, 23, "bad reply '600 no'"},
      {"rules:\n  - {on: rcpt, reply: \"550 4.1.1 no\"}\n", 2, 23,
       "enhanced status code class 4 does not match reply code 550"},
      {"rules:\n  - {on: rcpt, reply: \"550 <{recipent}>\"}\n", 2, 23,
       "unknown template '{recipent}' (did you mean '{recipient}'?)"},
      // Patterns.
      {"rules:\n  - {on: rcpt, match: {recipient: \"/x/g\"}, delay: 1s}\n", 2, 35,
       "unsupported regular expression flags in '/x/g'"},
      {"rules:\n  - {on: rcpt, match: {recipient: \"/[z-a]/\"}, delay: 1s}\n", 2, 35,
       "bad regular expression '/[z-a]/' for 'rules[0].match.recipient': "},
      {"rules:\n  - {on: message, match: {header: {\"Sub ject\": x}}, delay: 1s}\n", 2, 36,
       "'Sub ject' is not a header name"},
      {"rules:\n  - {on: message, match: {header: {Subject: x, subject: y}}, delay: 1s}\n", 2, 48,
       "duplicate header 'subject' in 'rules[0].match.header' (first given on line 2"},
      {"rules:\n  - {on: message, match: {header: x}, delay: 1s}\n", 2, 35,
       "expected a mapping of header names to patterns for 'rules[0].match.header'"},
      {"rules:\n  - {on: rcpt, match: {body: /x/}, delay: 1s}\n", 2, 24,
       "'match.body' needs on: message"},
      {"rules:\n  - {on: data, match: {size_over: 10}, delay: 1s}\n", 2, 24,
       "'match.size_over' needs on: message"},
      // Counters.
      {"rules:\n  - {on: rcpt, when: {every: 0}, delay: 1s}\n", 2, 30,
       "'rules[0].when.every' must be at least 1"},
      {"rules:\n  - {on: rcpt, when: {times: 0}, delay: 1s}\n", 2, 30,
       "'rules[0].when.times' must be at least 1"},
      {"rules:\n  - {on: rcpt, when: {nth: -1}, delay: 1s}\n", 2, 28,
       "expected a non-negative whole number for 'rules[0].when.nth'"},
      {"rules:\n  - {on: rcpt, when: {probability: -0.5}, delay: 1s}\n", 2, 36,
       "must be between 0 and 1"},
      {"rules:\n  - {on: rcpt, when: {probability: \"0.5\"}, delay: 1s}\n", 2, 36,
       "expected a number from 0 to 1 for 'rules[0].when.probability'"},
      {"rules:\n  - {on: rcpt, when: {probability: ten}, delay: 1s}\n", 2, 36,
       "expected a number from 0 to 1"},
      {"rules:\n  - {on: rcpt, when: {rate: 10}, delay: 1s}\n", 2, 29, "bad rate '10'"},
      {"rules:\n  - {on: rcpt, when: {rate: /min}, delay: 1s}\n", 2, 29, "bad rate '/min'"},
      {"rules:\n  - {on: rcpt, when: {rate: 0/min}, delay: 1s}\n", 2, 29,
       "'rules[0].when.rate' must allow at least 1 event"},
      {"rules:\n  - {on: rcpt, when: {rate: 5/min/s}, delay: 1s}\n", 2, 29, "bad rate"},
      {"rules:\n  - {on: rcpt, when: {nht: 1}, delay: 1s}\n", 2, 23,
       "unknown key 'nht' in 'rules[0].when' (did you mean 'nth'?)"},
      // Effects' own values.
      {"rules:\n  - {on: rcpt, drip: {bytes: 0}}\n", 2, 30,
       "'rules[0].drip.bytes' must be between 1 and"},
      {"rules:\n  - {on: rcpt, drip: {bytes: 1, evry: 1s}}\n", 2, 33,
       "unknown key 'evry' in 'rules[0].drip' (did you mean 'every'?)"},
      {"rules:\n  - {on: rcpt, greylist: {}}\n", 2, 26, "'rules[0].greylist' needs 'retry_after'"},
      {"rules:\n  - {on: rcpt, greylist: {retry_after: 1m, reply: \"550 no\"}}\n", 2, 51,
       "'rules[0].greylist.reply' must be a 4xx reply"},
      {"rules:\n  - {on: rcpt, greylist: {retry: 1m}}\n", 2, 27,
       "unknown key 'retry' in 'rules[0].greylist'"},
      {"rules:\n  - {on: data, abort_after_bytes: 0}\n", 2, 35,
       "'rules[0].abort_after_bytes' must be at least 1 (to close right after the 354, use "
       "disconnect: after_reply)"},
      // Combinations.
      {"rules:\n  - {on: data, hang: true, disconnect: after_reply}\n", 2, 28,
       "'hang' and 'disconnect: after_reply' cannot be combined: a hanging rule keeps the "
       "connection open"},
      {"rules:\n  - {on: data, reset: true, hang: true}\n", 2, 29,
       "'hang' and 'reset' cannot be combined"},
      {"rules:\n  - {on: data, split: true, hang: true}\n", 2, 29,
       "'hang' and 'split' cannot be combined"},
      {"rules:\n  - {on: data, hang: true, abort_after_bytes: 5}\n", 2, 28,
       "'hang' and 'abort_after_bytes' cannot be combined"},
      {"rules:\n  - {on: rcpt, hang: true, greylist: {retry_after: 1s}}\n", 2, 28,
       "'hang' and 'greylist' cannot be combined"},
      {"rules:\n  - {on: rcpt, reset: true, disconnect: after_reply}\n", 2, 29,
       "'reset' and 'disconnect: after_reply' cannot be combined"},
      {"rules:\n  - {on: rcpt, split: true, reset: true}\n", 2, 29,
       "'reset' and 'split' cannot be combined"},
      {"rules:\n  - {on: data, reset: true, abort_after_bytes: 5}\n", 2, 29,
       "'reset' and 'abort_after_bytes' cannot be combined"},
      {"rules:\n  - {on: rcpt, disconnect: before_reply, reply: \"550 no\"}\n", 2, 42,
       "'disconnect: before_reply' and 'reply' cannot be combined: the connection closes "
       "before anything is sent (after_reply sends the reply first)"},
      {"rules:\n  - {on: rcpt, split: true, disconnect: before_reply}\n", 2, 29,
       "'disconnect: before_reply' and 'split' cannot be combined"},
      {"rules:\n  - {on: rcpt, greylist: {retry_after: 1s}, disconnect: before_reply}\n", 2, 45,
       "'disconnect: before_reply' and 'greylist' cannot be combined"},
      {"rules:\n  - {on: data, abort_after_bytes: 5, disconnect: after_reply}\n", 2, 38,
       "'disconnect: after_reply' and 'abort_after_bytes' cannot be combined"},
      {"rules:\n  - {on: data, abort_after_bytes: 5, reply: \"554 no\"}\n", 2, 38,
       "'abort_after_bytes' needs the DATA reply to be 354"},
      {"rules:\n  - {on: bdat, abort_after_bytes: 5}\n", 2, 16,
       "'abort_after_bytes' needs on: data"},
      {"rules:\n  - {on: any, greylist: {retry_after: 1s}}\n", 2, 15, "'greylist' needs on: rcpt"},
      {"rules:\n  - {on: connect, match: {recipient: x}, delay: 1s}\n", 2, 27,
       "'match.recipient' needs on: rcpt, message or any; on: connect has no recipient"},
      // Rules as a whole.
      {"rules:\n  - {on: rcpt}\n", 2, 5, "rule 'rule-1' does nothing"},
      {"rules:\n  - {on: rcpt, split: false, match: {recipient: x}, when: {nth: 2}}\n", 2, 5,
       "rule 'rule-1' does nothing"},
      {"rules:\n  - {delay: 1s}\n", 2, 5, "rule 'rule-1' needs 'on:'"},
      {"rules:\n  - {on: ehlo, delay: 1s}\n  - {name: rule-1, on: helo, delay: 1s}\n", 3, 12,
       "duplicate rule name 'rule-1' (first used by the rule on line 2)"},
      {"rules:\n  - {name: rule-2, on: ehlo, delay: 1s}\n  - {on: helo, delay: 1s}\n", 3, 5,
       "duplicate rule name 'rule-2' (first used by the rule on line 2)"},
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

// ---- lint --------------------------------------------------------------------------------

TEST_CASE("lint: one verdict per file, in order, good and bad mixed") {
  const smtpmock::testing::temp_dir dir;
  const auto written = dir.write("mine.yaml", "name: mine\nrules:\n  - {on: mail, delay: 1s}\n");
  const auto typo = dir.write("typo.yaml", "name: typo\nrules:\n  - {on: mial, delay: 1s}\n");
  const std::vector<std::string> files = {
      (good / "spec-example.yaml").string(),
      (broken / "rules-hang-reply.yaml").string(),
      written.string(),
      typo.string(),
      (dir.path() / "missing.yaml").string(),
      (broken / "unknown_top_key.yaml").string(),
  };
  const auto results = sc::lint(files);
  REQUIRE(results.size() == files.size());
  for (std::size_t i = 0; i < files.size(); ++i)
    CHECK(results[i].file == files[i]);

  CHECK(results[0].ok);
  CHECK(results[0].errors.empty());
  CHECK_FALSE(results[1].ok);
  CHECK(results[1].errors.at(0) ==
        files[1] +
            ":7:5: rule 'black-hole': 'hang' and 'reply' cannot be combined: "
            "a hanging rule never sends a reply");
  CHECK(results[2].ok);
  CHECK_FALSE(results[3].ok);
  CHECK(results[3].errors.at(0).rfind(files[3] + ":3:10: unknown event 'mial'", 0) == 0);
  CHECK(contains(results[3].errors.at(0), "(did you mean 'mail'?)"));
  CHECK_FALSE(results[4].ok);
  CHECK(results[4].errors.at(0) == files[4] + ": no such scenario file");
  CHECK_FALSE(results[5].ok);
  CHECK(results[5].errors.at(0).rfind(files[5] + ":3:1: unknown key 'hostnmae'", 0) == 0);
}

TEST_CASE("lint: nothing to lint is no verdicts, and bundled names resolve") {
  CHECK(sc::lint({}).empty());
  const auto results = sc::lint({"powermta"});  // the source tree's scenarios/ is searched last
  REQUIRE(results.size() == 1);
  CHECK(results[0].file == "powermta");
  CHECK(results[0].ok);
}

TEST_CASE("lint: every error of a file, in order, each with its line and column") {
  const std::string file =
      (fs::path(smtpmock::testing::broken_fixtures).parent_path() / "lint" / "five-errors.yaml")
          .string();
  const auto results = sc::lint({file});
  REQUIRE(results.size() == 1);
  CHECK_FALSE(results[0].ok);
  const auto& errors = results[0].errors;
  REQUIRE(errors.size() == 5);
  CHECK(errors[0].rfind(file + ":4:1: unknown key 'hostnmae' (did you mean 'hostname'?)", 0) == 0);
  CHECK(errors[1].rfind(file + ":5:45: bad duration '5 minutes' for 'limits.idle_timeout'", 0) ==
        0);
  CHECK(errors[2].rfind(file + ":8:9: bad reply '25O ok' for 'replies.rcpt'", 0) == 0);
  CHECK(errors[3].rfind(file + ":14:9: unknown event 'mial'", 0) == 0);
  CHECK(errors[4].rfind(file + ":19:5: rule 'both': 'hang' and 'reply' cannot be combined", 0) ==
        0);
  // The server stops at the first of them, with the same text.
  try {
    sc::load_definition_file(file);
    FAIL("five-errors.yaml loaded");
  } catch (const sc::load_error& e) {
    CHECK(std::string(e.what()) == errors[0]);
  }
}

TEST_CASE("lint: at most 50 errors per file, then one line saying more follow") {
  const smtpmock::testing::temp_dir dir;
  std::string text = "name: many\nrules:\n";
  for (int i = 0; i < 70; ++i)
    text += "  - {on: mial}\n";
  const auto file = dir.write("many.yaml", text);
  const auto results = sc::lint({file.string()});
  REQUIRE(results.size() == 1);
  const auto& errors = results[0].errors;
  REQUIRE(errors.size() == 51);
  CHECK(errors[0].rfind(file.string() + ":3:10: unknown event 'mial'", 0) == 0);
  CHECK(errors[49].rfind(file.string() + ":52:10: unknown event 'mial'", 0) == 0);
  CHECK(errors[50] == file.string() + ": more errors follow; stopped after 50");
  CHECK(sc::lint({file.string()}, 3).at(0).errors.size() == 4);
}

TEST_CASE("lint: a YAML syntax error is the only error (nothing after it can be read)") {
  const smtpmock::testing::temp_dir dir;
  const auto file = dir.write("syntax.yaml", "name: x\nhostnmae: y\nrules: [\n");
  const auto results = sc::lint({file.string()});
  REQUIRE(results.at(0).errors.size() == 1);
  CHECK(results[0].errors[0].rfind(file.string() + ":", 0) == 0);
}
