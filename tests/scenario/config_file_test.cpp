// Tests of the config file reader: a flat mapping of known settings, values kept as text with
// their position, and load errors at the exact line:column for anything else.
#include "scenario/config_file.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "scenario/loader.hpp"
#include "support.hpp"
#include "temp_dir.hpp"

namespace sc = smtpmock::scenario;

namespace {

const std::vector<std::string> allowed = {"smtp-listen", "http-listen", "scenario",  "max-messages",
                                          "spool",       "seed",        "log-format"};

sc::load_error error_of(const std::string& text) {
  const smtpmock::testing::temp_dir dir;
  const auto file = dir.write("smtpmock.yaml", text);
  return smtpmock::testing::error_of(file.string(), [&] { sc::load_config_file(file, allowed); });
}

using smtpmock::testing::contains;

}  // namespace

TEST_CASE("config_file: settings are read as text with their positions") {
  const smtpmock::testing::temp_dir dir;
  const auto file = dir.write("smtpmock.yaml", R"(# smtpmock settings
smtp-listen: 127.0.0.1:1025
max-messages: 1000
scenario: "yahoo"
seed: 42
log-format: json   # a comment after a value
spool:             # no value: not set
http-listen: ~
)");
  const auto settings = sc::load_config_file(file, allowed);
  CHECK(settings.size() == 5);
  REQUIRE(settings.count("smtp-listen") == 1);
  CHECK(settings.at("smtp-listen").value == "127.0.0.1:1025");
  CHECK(settings.at("smtp-listen").line == 2);
  CHECK(settings.at("smtp-listen").column == 14);
  CHECK(settings.at("max-messages").value == "1000");
  CHECK(settings.at("scenario").value == "yahoo");
  CHECK(settings.at("scenario").line == 4);
  CHECK(settings.at("scenario").column == 11);
  CHECK(settings.at("seed").value == "42");
  CHECK(settings.at("log-format").value == "json");
  CHECK(settings.count("spool") == 0);
  CHECK(settings.count("http-listen") == 0);
}

TEST_CASE("config_file: an empty file or one with only comments sets nothing") {
  const smtpmock::testing::temp_dir dir;
  CHECK(sc::load_config_file(dir.write("a.yaml", ""), allowed).empty());
  CHECK(sc::load_config_file(dir.write("b.yaml", "# nothing yet\n"), allowed).empty());
}

TEST_CASE("config_file: an unknown key fails at the key, with a suggestion") {
  const auto e = error_of("scenario: default\n  # indented comment\nsmtp_listen: 0.0.0.0:25\n");
  CHECK(e.line() == 3);
  CHECK(e.column() == 1);
  CHECK(e.message() == "unknown key 'smtp_listen' (did you mean 'smtp-listen'?)");
  CHECK(contains(e.what(), "smtpmock.yaml:3:1: unknown key 'smtp_listen'"));
}

TEST_CASE("config_file: malformed files fail at the exact line and column") {
  struct expectation {
    std::string text;
    int line;
    int column;
    std::string message;
  };
  const std::vector<expectation> cases = {
      {"- smtp-listen\n- scenario\n", 1, 1, "a config file must be a mapping of settings"},
      {"just text\n", 1, 1, "a config file must be a mapping of settings"},
      {"scenario: default\nsmtp-listen: [a, b]\n", 2, 14,
       "expected a single value for 'smtp-listen', not a list"},
      {"scenario:\n  name: yahoo\n", 2, 3, "expected a single value for 'scenario', not a mapping"},
      {"seed: 1\nscenario: a\nseed: 2\n", 3, 1, "duplicate key 'seed' (first given on line 1)"},
      {"scenario: [default\nseed: 1\n", 2, 5, "YAML syntax error"},
      {"seed: 1\n---\nseed: 2\n", 3, 1, "only one YAML document per file"},
      {"color: blue\n", 1, 1, "unknown key 'color'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto e = error_of(c.text);
    CHECK(e.line() == c.line);
    CHECK(e.column() == c.column);
    CHECK(contains(e.message(), c.message));
  }
}

TEST_CASE("config_file: a missing file is an error without a position") {
  const smtpmock::testing::temp_dir dir;
  try {
    sc::load_config_file(dir.path() / "absent.yaml", allowed);
    FAIL("loaded a missing file");
  } catch (const sc::load_error& e) {
    CHECK(e.line() == 0);
    CHECK(contains(e.message(), "cannot open"));
  }
}
