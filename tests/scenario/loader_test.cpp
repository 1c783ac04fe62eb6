// Tests of the scenario loader: the bundled scenarios load with the fields they document,
// every broken file fails with the exact line:column and message, and names resolve to files.
#include "scenario/loader.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
namespace sc = smtpmock::scenario;
namespace smtp = smtpmock::smtp;
using namespace std::chrono_literals;

namespace {

const fs::path source_scenarios = fs::path(SMTPMOCK_SOURCE_DIR) / "scenarios";
const fs::path broken = smtpmock::testing::broken_fixtures;
using smtpmock::testing::contains;

/// The error load_text raises, or one with line -1 when the text loads.
sc::load_error error_of_text(const std::string& yaml, const std::string& file = "test.yaml") {
  return smtpmock::testing::error_of(file, [&] { sc::load_text(yaml, file); });
}

sc::load_error error_of_file(const fs::path& file) {
  return smtpmock::testing::error_of(file.string(), [&] { sc::load_file(file); });
}

}  // namespace

TEST_CASE("loader: default.yaml is a modern ESMTP server that accepts any credentials") {
  const auto p = sc::load_file(source_scenarios / "default.yaml");
  CHECK(p->name == "default");
  CHECK(p->hostname == "localhost");
  CHECK(p->extensions == std::vector<std::string>{"PIPELINING", "SIZE 52428800", "8BITMIME",
                                                  "ENHANCEDSTATUSCODES",
                                                  "AUTH PLAIN LOGIN CRAM-MD5", "STARTTLS",
                                                  "SMTPUTF8", "DSN", "CHUNKING"});
  CHECK(p->auth.accept_any);
  CHECK_FALSE(p->auth.required);
  CHECK(p->check_credentials("anyone", "anything"));
  CHECK(p->message_size_limit() == 52428800);
  CHECK(p->auth_mechanisms() == std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"});
  CHECK(p->limits.idle_timeout == 300s);
  CHECK(p->quirks.pipelining == smtp::pipelining_mode::normal);
  CHECK_FALSE(p->quirks.starttls_inject.has_value());
  CHECK_FALSE(p->seed.has_value());
}

TEST_CASE("loader: default.yaml and the built-in default personality agree") {
  const auto file = sc::load_file(source_scenarios / "default.yaml");
  const auto built_in = smtp::default_personality();
  CHECK(file->extensions == built_in.extensions);
  CHECK(file->hostname == built_in.hostname);
  CHECK(file->banner == built_in.banner);
  CHECK(file->ehlo_greeting == built_in.ehlo_greeting);
  CHECK(file->auth.accept_any == built_in.auth.accept_any);
  CHECK(file->replies == built_in.replies);
}

TEST_CASE("loader: powermta.yaml is the SPEC example personality") {
  const auto p = sc::load_file(source_scenarios / "powermta.yaml");
  CHECK(p->name == "powermta");
  CHECK(p->description == "PowerMTA 4.0 as seen at mail.port25.com");
  CHECK(p->hostname == "mail.port25.com");
  CHECK(p->banner == "{hostname} (PowerMTA(TM) v4.0) ESMTP service ready");
  CHECK(p->ehlo_greeting == "{hostname} says hello");
  CHECK(p->extensions == std::vector<std::string>{"STARTTLS", "ENHANCEDSTATUSCODES", "PIPELINING",
                                                  "CHUNKING", "8BITMIME", "XACK", "XMRG",
                                                  "SIZE 54525952", "VERP", "DSN"});
  CHECK(p->replies == std::map<std::string, std::string>{
                          {"mail", "250 2.1.0 MAIL ok"},
                          {"rcpt", "250 2.1.5 <{recipient}> ok"},
                          {"data", "354 send message"},
                          {"message", "250 2.6.0 message received"},
                          {"quit", "221 2.0.0 {hostname} says goodbye"},
                      });
  CHECK(p->auth.accept_any);
  CHECK_FALSE(p->auth.required);
  CHECK_FALSE(p->auth.require_tls);
  CHECK(p->limits.max_recipients == 100);
  CHECK(p->limits.idle_timeout == 300s);
  CHECK(p->limits.max_errors == 20);
  CHECK(p->message_size_limit() == 54525952);
  CHECK(p->enhanced_codes());
  CHECK(p->quirks.bare_lf == smtp::bare_lf_mode::reject);
}

TEST_CASE("loader: yahoo.yaml advertises Yahoo's three extensions") {
  const auto p = sc::load_file(source_scenarios / "yahoo.yaml");
  CHECK(p->name == "yahoo");
  CHECK(p->hostname == "mta7.am0.yahoodns.net");
  CHECK(p->banner == "{hostname} ESMTP ready");
  CHECK(p->extensions == std::vector<std::string>{"8BITMIME", "SIZE 41943040", "PIPELINING"});
  CHECK(p->message_size_limit() == 41943040);
  CHECK_FALSE(p->enhanced_codes());
  CHECK_FALSE(p->advertises("STARTTLS"));
  CHECK(p->auth_mechanisms().empty());
}

TEST_CASE("loader: aol.yaml advertises DSN and nothing else") {
  const auto p = sc::load_file(source_scenarios / "aol.yaml");
  CHECK(p->name == "aol");
  CHECK(p->hostname == "mx-aol.mail.gm0.yahoodns.net");
  CHECK(contains(p->banner, "{hostname}"));
  CHECK(p->extensions == std::vector<std::string>{"DSN"});
  CHECK_FALSE(p->advertises("PIPELINING"));
  CHECK_FALSE(p->advertises("SIZE"));
}

TEST_CASE("loader: every bundled file opens with a comment and is named after its file") {
  for (const auto& item : fs::directory_iterator(source_scenarios)) {
    if (item.path().extension() != ".yaml") continue;
    CAPTURE(item.path());
    std::ifstream in(item.path());
    std::string first_line;
    std::getline(in, first_line);
    CHECK(first_line.rfind("# ", 0) == 0);
    const auto p = sc::load_file(item.path());
    CHECK(p->name == item.path().stem().string());
    CHECK_FALSE(p->description.empty());
  }
}

TEST_CASE("loader: broken fixtures fail at the exact line and column with a clear message") {
  struct expectation {
    std::string file;
    int line;
    int column;
    std::string message;
  };
  const std::vector<expectation> cases = {
      {"unknown_top_key.yaml", 3, 1, "unknown key 'hostnmae' (did you mean 'hostname'?)"},
      {"unknown_nested_key.yaml", 5, 3,
       "unknown key 'greting' in 'ehlo' (did you mean 'greeting'?)"},
      {"wrong_type_bool.yaml", 4, 13, "expected a boolean (true or false) for 'auth.required'"},
      {"bad_duration.yaml", 3, 44, "bad duration '300' for 'limits.idle_timeout'"},
      {"bad_enum.yaml", 5, 15,
       "bad value 'sometimes' for 'quirks.pipelining' (allowed: normal, hold_until_data, "
       "reject)"},
      {"bad_reply_code.yaml", 5, 9, "bad reply '25O 2.1.5 <{recipient}> ok' for 'replies.rcpt'"},
      {"syntax_error.yaml", 5, 9, "YAML syntax error: end of sequence flow not found"},
      {"duplicate_key.yaml", 5, 1, "duplicate key 'hostname' (first given on line 3)"},
      {"tls-bad-certificate.yaml", 6, 16,
       "bad value 'self_signed' for 'tls.certificate' (allowed: normal, expired, wrong_host)"},
      {"tls-bad-handshake.yaml", 5, 14,
       "bad value 'false' for 'tls.handshake' (allowed: ok, fail)"},
      {"tls-unknown-key.yaml", 4, 7, "unknown key 'requried' in 'tls' (did you mean 'required'?)"},
      {"tls-required-not-bool.yaml", 5, 13,
       "expected a boolean (true or false) for 'tls.required'"},
  };
  std::size_t fixtures = 0;
  for (const auto& item : fs::directory_iterator(broken)) {
    // rules-*.yaml belong to rules_test.cpp, which checks them the same way.
    fixtures += item.path().extension() == ".yaml" &&
                item.path().filename().string().rfind("rules-", 0) != 0;
  }
  CHECK(fixtures == cases.size());  // every fixture has its expectation here
  for (const auto& c : cases) {
    CAPTURE(c.file);
    const auto e = error_of_file(broken / c.file);
    CHECK(e.line() == c.line);
    CHECK(e.column() == c.column);
    CHECK(contains(e.message(), c.message));
    CHECK(e.file() == (broken / c.file).string());
    CHECK(std::string(e.what()) == (broken / c.file).string() + ":" + std::to_string(c.line) + ":" +
                                       std::to_string(c.column) + ": " + e.message());
  }
}

TEST_CASE("loader: impossible values and combinations fail at the offending key or value") {
  struct expectation {
    std::string yaml;
    int line;
    int column;
    std::string message;
  };
  const std::string long_reply = "250 " + std::string(600, 'x');
  const std::vector<expectation> cases = {
      {"replies:\n  mail: \"550 5.7.1 no\"\n", 2, 9, "'replies.mail' must be a 2xx reply"},
      {"replies:\n  data: \"250 ok\"\n", 2, 9, "'replies.data' must be a 3xx reply"},
      {"replies:\n  rcpt: \"250 5.1.1 ok\"\n", 2, 9,
       "enhanced status code class 5 does not match reply code 250"},
      {"replies:\n  rcpt: \"250 2.1.5 <{recipent}> ok\"\n", 2, 9,
       "unknown template '{recipent}' (did you mean '{recipient}'?)"},
      {"replies:\n  rcp: \"250 ok\"\n", 2, 3,
       "unknown key 'rcp' in 'replies' (did you mean 'rcpt'?)"},
      {"replies:\n  ehlo: \"250 hi\"\n", 2, 3,
       "the EHLO reply is ehlo.greeting and ehlo.extensions"},
      {"replies:\n  quit: \"221\"\n  helo: 250ok\n", 3, 9, "bad reply '250ok'"},
      {"replies:\n  mail: \"" + long_reply + "\"\n", 2, 9, "longer than 510 characters"},
      {"ehlo:\n  extensions: [PIPELINING]\nauth:\n  required: true\n", 4, 13,
       "no AUTH extension is advertised"},
      {"ehlo: 5\n", 1, 7, "expected a mapping for 'ehlo'"},
      {"name: x\nbanner:\nhostname: h\n", 2, 1, "missing value for 'banner'"},
      {"ehlo:\n  extensions: PIPELINING\n", 2, 15,
       "expected a list of strings for 'ehlo.extensions'"},
      {"ehlo:\n  extensions: [PIPELINING, SIZE 10MB]\n", 2, 28, "SIZE takes a number"},
      {"ehlo:\n  extensions:\n    - AUTH\n", 3, 7, "AUTH needs its mechanisms"},
      {"ehlo:\n  extensions: [PIPELINING, {SIZE: 5}]\n", 2, 28,
       "expected a string in 'ehlo.extensions'"},
      {"auth:\n  users: [{user: alice}]\n", 2, 11,
       "'auth.users[0]' needs both 'user' and 'password'"},
      {"auth:\n  users: [{user: alice, pasword: x}]\n", 2, 25,
       "unknown key 'pasword' in 'auth.users[0]' (did you mean 'password'?)"},
      {"auth:\n  accept_any: \"true\"\n", 2, 15, "expected a boolean (true or false)"},
      {"name: a\n---\nname: b\n", 3, 1, "only one YAML document per file"},
      {"- a\n- b\n", 1, 1, "a scenario must be a mapping"},
      {"limits:\n  idle_timeout: 0s\n", 2, 17, "'limits.idle_timeout' must be longer than 0"},
      {"limits:\n  max_recipients: 0\n", 2, 19, "'limits.max_recipients' must be between 1 and"},
      {"limits:\n  max_errors: 3\n  max_errors: 4\n", 3, 3,
       "duplicate key 'limits.max_errors' (first given on line 2)"},
      {"seed: -1\n", 1, 7, "expected a non-negative whole number for 'seed'"},
      {"seed: 18446744073709551616\n", 1, 7, "expected a non-negative whole number for 'seed'"},
      {"banner: \"hi\\r\\n250 injected\"\n", 1, 9, "without control characters"},
      {"hostname: mail example\n", 1, 11, "'hostname' must be one word"},
      {"quirks:\n  smuggling: on\n", 2, 3,
       "unknown key 'smuggling' in 'quirks' (allowed: pipelining, early_talker, bare_lf, "
       "starttls_inject)"},
      {"quirks:\n  starttls_inject: injected\n", 2, 20, "bad reply 'injected'"},
      {"quirks:\n  bare_lf: [accept]\n", 2, 12, "bad value a non-string for 'quirks.bare_lf'"},
      {"? [a, b]\n: 1\n", 1, 3, "keys must be plain names"},
      {"tls: true\n", 1, 6, "expected a mapping for 'tls'"},
      {"tls:\n  certificate: [expired]\n", 2, 16, "bad value a non-string for 'tls.certificate'"},
      {"tls:\n  handshake: failed\n", 2, 14,
       "bad value 'failed' for 'tls.handshake' (allowed: ok, fail)"},
      {"tls:\n  required: true\n  required: false\n", 3, 3,
       "duplicate key 'tls.required' (first given on line 2)"},
      {"tls:\n  starttls_inject: \"250 x\"\n", 2, 3,
       "unknown key 'starttls_inject' in 'tls' (allowed: required, certificate, handshake)"},
      {"limits:\n  max_auth_failures: -1\n", 2, 22,
       "expected a non-negative whole number for 'limits.max_auth_failures'"},
      {"limits:\n  max_auth_failure: 3\n", 2, 3,
       "unknown key 'max_auth_failure' in 'limits' (did you mean 'max_auth_failures'?)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.yaml);
    const auto e = error_of_text(c.yaml);
    CHECK(e.line() == c.line);
    CHECK(e.column() == c.column);
    CHECK(contains(e.message(), c.message));
  }
}

TEST_CASE("loader: an empty file is an error at 1:1") {
  for (const std::string text : {"", "\n", "# only a comment\n", "~\n"}) {
    CAPTURE(text);
    const auto e = error_of_text(text, "empty.yaml");
    CHECK(e.line() == 1);
    CHECK(e.column() == 1);
    CHECK(contains(e.message(), "empty scenario"));
    CHECK(std::string(e.what()).rfind("empty.yaml:1:1: ", 0) == 0);
  }
}

TEST_CASE("loader: the name defaults to the file stem") {
  CHECK(sc::load_text("hostname: mx.example.com\n", "some/dir/greylist.yaml")->name == "greylist");
  CHECK(sc::load_text("name: other\n", "some/dir/greylist.yaml")->name == "other");
}

TEST_CASE("loader: keys a file leaves out keep the personality defaults") {
  const auto p = sc::load_text("name: minimal\n", "minimal.yaml");
  const smtp::personality defaults;
  CHECK(p->hostname == defaults.hostname);
  CHECK(p->banner == defaults.banner);
  CHECK(p->ehlo_greeting == defaults.ehlo_greeting);
  CHECK(p->extensions.empty());
  CHECK(p->replies.empty());
  CHECK(p->auth.accept_any == defaults.auth.accept_any);
  CHECK(p->limits.max_recipients == defaults.limits.max_recipients);
  CHECK(p->limits.idle_timeout == defaults.limits.idle_timeout);
  CHECK(p->limits.max_errors == defaults.limits.max_errors);
  CHECK(p->quirks.pipelining == defaults.quirks.pipelining);
  CHECK(p->limits.max_auth_failures == defaults.limits.max_auth_failures);
  CHECK(p->tls.required == defaults.tls.required);
  CHECK(p->tls.certificate == defaults.tls.certificate);
  CHECK(p->tls.handshake_fails == defaults.tls.handshake_fails);
  CHECK_FALSE(p->seed.has_value());
}

TEST_CASE("loader: every key is read into the personality") {
  const std::string yaml = R"(# every key, none at its default
name: everything
description: every key set
hostname: mx.example.net
banner: "{hostname} ready"
ehlo:
  greeting: "{hostname} hi {client_ip}"
  extensions: [SIZE 1000, AUTH LOGIN, ENHANCEDSTATUSCODES]
replies:
  helo: "250 hello {helo}"
  mail: "250 2.1.0 sender <{sender}> ok"
  rcpt: "251 2.1.5 forwarded"
  data: "354 go ahead"
  message: "250 2.0.0 queued as {queue_id}"
  quit: "221 2.0.0 bye"
  rset: "250 2.0.0 reset"
  noop: "250"
  vrfy: "252 2.5.0 cannot verify"
  help: "214 2.0.0 see RFC 5321"
  auth: "235 2.7.0 welcome {user}"
auth:
  users:
    - {user: alice, password: secret}
    - user: bob
      password: 12345
  accept_any: false
  required: true
  require_tls: true
tls: {required: true, certificate: wrong_host, handshake: fail}
limits: {max_recipients: 5, idle_timeout: 1m30s, max_errors: 3, max_message_size: 2048,
         max_auth_failures: 7}
quirks:
  pipelining: hold_until_data
  early_talker: reject
  bare_lf: accept
  starttls_inject: "250 injected"
seed: 18446744073709551615
)";
  const auto p = sc::load_text(yaml, "everything.yaml");
  CHECK(p->name == "everything");
  CHECK(p->description == "every key set");
  CHECK(p->hostname == "mx.example.net");
  CHECK(p->banner == "{hostname} ready");
  CHECK(p->ehlo_greeting == "{hostname} hi {client_ip}");
  CHECK(p->extensions ==
        std::vector<std::string>{"SIZE 1000", "AUTH LOGIN", "ENHANCEDSTATUSCODES"});
  CHECK(p->replies.size() == 11);
  CHECK(p->replies.at("rcpt") == "251 2.1.5 forwarded");
  CHECK(p->replies.at("noop") == "250");
  CHECK(p->replies.at("auth") == "235 2.7.0 welcome {user}");
  REQUIRE(p->auth.users.size() == 2);
  CHECK(p->auth.users[0].user == "alice");
  CHECK(p->auth.users[0].password == "secret");
  CHECK(p->auth.users[1].user == "bob");
  CHECK(p->auth.users[1].password == "12345");
  CHECK_FALSE(p->auth.accept_any);
  CHECK(p->auth.required);
  CHECK(p->auth.require_tls);
  CHECK(p->check_credentials("bob", "12345"));
  CHECK_FALSE(p->check_credentials("bob", "secret"));
  CHECK(p->limits.max_recipients == 5);
  CHECK(p->limits.idle_timeout == 90s);
  CHECK(p->limits.max_errors == 3);
  CHECK(p->limits.max_message_size == 2048);
  CHECK(p->message_size_limit() == 2048);
  CHECK(p->limits.max_auth_failures == 7);
  CHECK(p->tls.required);
  CHECK(p->tls.certificate == smtp::personality::tls_settings::certificate_mode::wrong_host);
  CHECK(p->tls.handshake_fails);
  CHECK(p->quirks.pipelining == smtp::pipelining_mode::hold_until_data);
  CHECK(p->quirks.early_talker == smtp::early_talker_mode::reject);
  CHECK(p->quirks.bare_lf == smtp::bare_lf_mode::accept);
  CHECK(p->quirks.starttls_inject == std::optional<std::string>("250 injected"));
  CHECK(p->seed == std::optional<unsigned long long>(18446744073709551615ULL));
}

TEST_CASE("loader: starttls_inject accepts null, written or empty") {
  CHECK_FALSE(
      sc::load_text("quirks:\n  starttls_inject: null\n", "a.yaml")->quirks.starttls_inject);
  CHECK_FALSE(sc::load_text("quirks:\n  starttls_inject:\n", "a.yaml")->quirks.starttls_inject);
  CHECK_FALSE(sc::load_text("quirks:\n  starttls_inject: ~\n", "a.yaml")->quirks.starttls_inject);
}

TEST_CASE("loader: tls settings and max_auth_failures, one key at a time") {
  using mode = smtp::personality::tls_settings::certificate_mode;
  CHECK(sc::load_text("tls: {certificate: expired}\n", "a.yaml")->tls.certificate == mode::expired);
  CHECK(sc::load_text("tls: {certificate: normal}\n", "a.yaml")->tls.certificate == mode::normal);
  CHECK_FALSE(sc::load_text("tls: {handshake: ok}\n", "a.yaml")->tls.handshake_fails);
  CHECK(sc::load_text("tls: {handshake: fail}\n", "a.yaml")->tls.handshake_fails);
  CHECK_FALSE(sc::load_text("tls: {required: false}\n", "a.yaml")->tls.required);
  CHECK(sc::load_text("tls: {}\n", "a.yaml")->tls.certificate == mode::normal);
  CHECK(sc::load_text("limits: {max_auth_failures: 0}\n", "a.yaml")->limits.max_auth_failures == 0);
}

TEST_CASE("loader: tls-required.yaml and starttls-injection.yaml advertise STARTTLS") {
  const auto required = sc::load_file(source_scenarios / "tls-required.yaml");
  CHECK(required->advertises("STARTTLS"));
  CHECK(required->tls.required);
  CHECK(required->auth_mechanisms() == std::vector<std::string>{"PLAIN", "LOGIN"});
  CHECK(required->auth.accept_any);
  const auto injection = sc::load_file(source_scenarios / "starttls-injection.yaml");
  CHECK(injection->advertises("STARTTLS"));
  REQUIRE(injection->quirks.starttls_inject.has_value());
  CHECK(injection->quirks.starttls_inject->rfind("250 ", 0) == 0);
}

TEST_CASE("loader: a missing file is an error without a position") {
  const auto e = error_of_file(broken / "does-not-exist.yaml");
  CHECK(e.line() == 0);
  CHECK(contains(e.message(), "cannot open"));
  CHECK(std::string(e.what()) == (broken / "does-not-exist.yaml").string() + ": " + e.message());
}

TEST_CASE("parse_duration: numbers with units, alone or combined") {
  CHECK(sc::parse_duration("300s") == std::chrono::milliseconds(300000));
  CHECK(sc::parse_duration("500ms") == std::chrono::milliseconds(500));
  CHECK(sc::parse_duration("2m") == std::chrono::milliseconds(120000));
  CHECK(sc::parse_duration("1h") == std::chrono::milliseconds(3600000));
  CHECK(sc::parse_duration("1m30s") == std::chrono::milliseconds(90000));
  CHECK(sc::parse_duration("0s") == std::chrono::milliseconds(0));
  for (const char* bad : {"", "300", "s", "ms", "-1s", "+1s", "1.5s", "1 s", " 1s", "10x", "1sec",
                          "1S", "99999999999999999999s", "9223372036854775807h"}) {
    CAPTURE(bad);
    CHECK_FALSE(sc::parse_duration(bad).has_value());
  }
}

TEST_CASE("did_you_mean: suggests only near candidates") {
  const std::vector<std::string> keys = {"name", "hostname", "banner", "seed", "rules"};
  CHECK(sc::did_you_mean("hostnmae", keys) == std::optional<std::string>("hostname"));
  CHECK(sc::did_you_mean("banenr", keys) == std::optional<std::string>("banner"));
  CHECK(sc::did_you_mean("rule", keys) == std::optional<std::string>("rules"));
  CHECK_FALSE(sc::did_you_mean("greylist", keys).has_value());
  CHECK_FALSE(sc::did_you_mean("x", keys).has_value());
}

TEST_CASE("resolve: a bundled name, an existing path, and a helpful error otherwise") {
  const std::vector<fs::path> dirs = {source_scenarios};
  CHECK(sc::resolve("yahoo", dirs) == source_scenarios / "yahoo.yaml");
  CHECK(sc::resolve("default", dirs) == source_scenarios / "default.yaml");
  const auto fixture = broken / "bad_enum.yaml";
  CHECK(sc::resolve(fixture.string(), dirs) == fixture);

  SUBCASE("an unknown name lists the bundled scenarios and suggests the nearest") {
    try {
      sc::resolve("yahooo", dirs);
      FAIL("resolved an unknown name");
    } catch (const sc::load_error& e) {
      CHECK(e.line() == 0);
      CHECK(e.file() == "yahooo");
      CHECK(contains(e.message(), "no scenario named 'yahooo' (did you mean 'yahoo'?)"));
      CHECK(contains(e.message(), "; bundled: aol, "));
      for (const char* name : {"aol", "default", "powermta", "yahoo"})
        CHECK(contains(e.message(), name));
      CHECK(std::string(e.what()).rfind("yahooo: no scenario named", 0) == 0);
    }
  }
  SUBCASE("a path that does not exist is not looked up by name") {
    try {
      sc::resolve("nowhere/yahoo.yaml", dirs);
      FAIL("resolved a missing path");
    } catch (const sc::load_error& e) {
      CHECK(contains(e.message(), "no such scenario file"));
    }
  }
  SUBCASE("with no directories the error says where it looked") {
    try {
      sc::resolve("yahoo", {broken / "missing-dir"});
      FAIL("resolved without directories");
    } catch (const sc::load_error& e) {
      CHECK(contains(e.message(), "no bundled scenarios found in"));
      CHECK(contains(e.message(), "missing-dir"));
    }
  }
}

TEST_CASE("resolve: the default search directories find the source tree's scenarios") {
  const auto dirs = sc::search_dirs();
  REQUIRE_FALSE(dirs.empty());
  CHECK(dirs.back() == source_scenarios);
  const auto yahoo = sc::resolve("yahoo");
  CHECK(yahoo.filename() == "yahoo.yaml");
  CHECK(sc::load_file(yahoo)->name == "yahoo");
}

TEST_CASE("search_dirs: SMTPMOCK_SCENARIO_DIR comes first, then the install prefix") {
  const char* saved = std::getenv("SMTPMOCK_SCENARIO_DIR");
  const std::string previous = saved != nullptr ? saved : "";
  ::setenv("SMTPMOCK_SCENARIO_DIR", "/opt/one:/opt/two", 1);
  const auto dirs = sc::search_dirs();
  if (saved != nullptr) {
    ::setenv("SMTPMOCK_SCENARIO_DIR", previous.c_str(), 1);
  } else {
    ::unsetenv("SMTPMOCK_SCENARIO_DIR");
  }
  REQUIRE(dirs.size() >= 4);
  CHECK(dirs[0] == "/opt/one");
  CHECK(dirs[1] == "/opt/two");
  CHECK(dirs[2].filename() == "scenarios");
  CHECK(dirs[2].parent_path().filename() == "smtpmock");
  CHECK(dirs.back() == source_scenarios);
}

TEST_CASE("list: the bundled scenarios with their descriptions") {
  const auto entries = sc::list({source_scenarios});
  const auto find = [&](const std::string& name) {
    return std::find_if(entries.begin(), entries.end(),
                        [&](const sc::entry& e) { return e.name == name; });
  };
  REQUIRE(entries.size() >= 4);
  CHECK(std::is_sorted(entries.begin(), entries.end(),
                       [](const auto& a, const auto& b) { return a.name < b.name; }));
  for (const char* name : {"aol", "default", "powermta", "yahoo"}) {
    CAPTURE(name);
    const auto it = find(name);
    REQUIRE(it != entries.end());
    CHECK(it->file == source_scenarios / (std::string(name) + ".yaml"));
  }
  CHECK(find("powermta")->description == "PowerMTA 4.0 as seen at mail.port25.com");
  CHECK(contains(find("yahoo")->description, "Yahoo"));
  CHECK(contains(find("aol")->description, "DSN"));
  CHECK(contains(find("default")->description, "modern ESMTP server"));
  for (const auto& e : entries) {
    CAPTURE(e.name);
    CHECK(e.description.rfind("(invalid", 0) == std::string::npos);
  }
}

TEST_CASE("list: the first directory wins per name, and broken files are shown as invalid") {
  const smtpmock::testing::temp_dir first;
  const smtpmock::testing::temp_dir second;
  first.write("yahoo.yaml", "description: my own yahoo\n");
  first.write("zeta.yaml", "description: [not, a, string]\n");
  first.write("notes.txt", "not a scenario\n");
  second.write("yahoo.yaml", "description: the other yahoo\n");
  second.write("alpha.yaml", "description: first in order\n");
  const auto entries = sc::list({first.path(), second.path(), first.path() / "missing"});
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "alpha");
  CHECK(entries[0].description == "first in order");
  CHECK(entries[1].name == "yahoo");
  CHECK(entries[1].description == "my own yahoo");
  CHECK(entries[1].file == first.path() / "yahoo.yaml");
  CHECK(entries[2].name == "zeta");
  CHECK(contains(entries[2].description, "(invalid: "));
  CHECK(contains(entries[2].description, "zeta.yaml:1:14: expected a string for 'description'"));
  CHECK(sc::resolve("yahoo", {first.path(), second.path()}) == first.path() / "yahoo.yaml");
  CHECK(sc::resolve("alpha", {first.path(), second.path()}) == second.path() / "alpha.yaml");
}
