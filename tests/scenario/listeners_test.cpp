// Tests of listener specs (issue 15): the --listen syntax, SMTPMOCK_LISTEN lists, the conflict
// check of a whole set, and the `listeners:` list of the config file with exact positions.
#include "scenario/listeners.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "scenario/config_file.hpp"
#include "scenario/listen_address.hpp"
#include "scenario/loader.hpp"
#include "support.hpp"
#include "temp_dir.hpp"

namespace sc = smtpmock::scenario;
using smtpmock::testing::contains;

namespace {

/// The message parse_listen_spec (or `f`) throws, or "" when it does not.
template <class F>
std::string problem_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

std::string spec_problem(const std::string& text) {
  return problem_of([&] { sc::parse_listen_spec(text); });
}

sc::listener_spec spec(std::string address, std::string name = "", std::string origin = "") {
  sc::listener_spec s;
  s.address = std::move(address);
  s.name = std::move(name);
  s.origin = origin.empty() ? "--listen " + s.address : std::move(origin);
  return s;
}

std::string set_problem(const std::vector<sc::listener_spec>& all) {
  return problem_of([&] { sc::check_listeners(all); });
}

const std::vector<std::string> allowed = {"smtp-listen", "smtps-listen", "scenario", "seed"};

sc::load_error config_error(const std::string& text) {
  const smtpmock::testing::temp_dir dir;
  const auto file = dir.write("smtpmock.yaml", text);
  return smtpmock::testing::error_of(file.string(), [&] { sc::load_config(file, allowed); });
}

}  // namespace

TEST_CASE("listeners: a --listen value of every shape") {
  auto s = sc::parse_listen_spec("0.0.0.0:1026=yahoo");
  CHECK(s.address == "0.0.0.0:1026");
  CHECK(s.scenario == "yahoo");
  CHECK(s.tls == sc::listener_tls::starttls);
  CHECK(s.name.empty());
  CHECK(s.tls_cert.empty());
  CHECK(s.tls_key.empty());
  CHECK(s.origin == "--listen 0.0.0.0:1026=yahoo");

  s = sc::parse_listen_spec("127.0.0.1:0");
  CHECK(s.address == "127.0.0.1:0");
  CHECK(s.scenario.empty());

  s = sc::parse_listen_spec("[::1]:1465=tls-required,tls=implicit");
  CHECK(s.address == "[::1]:1465");
  CHECK(s.scenario == "tls-required");
  CHECK(s.tls == sc::listener_tls::implicit);

  s = sc::parse_listen_spec("localhost:1587=scenarios/auth.yaml,tls=starttls,name=submission");
  CHECK(s.address == "localhost:1587");
  CHECK(s.scenario == "scenarios/auth.yaml");
  CHECK(s.tls == sc::listener_tls::starttls);
  CHECK(s.name == "submission");

  s = sc::parse_listen_spec("*:2525,tls=none,name=no-tls_2.a");
  CHECK(s.address == "*:2525");
  CHECK(s.tls == sc::listener_tls::none);
  CHECK(s.name == "no-tls_2.a");

  s = sc::parse_listen_spec(
      "0.0.0.0:465=default, tls=implicit, tls-cert=/etc/cert.pem, tls-key=/etc/key.pem");
  CHECK(s.scenario == "default");
  CHECK(s.tls_cert == "/etc/cert.pem");
  CHECK(s.tls_key == "/etc/key.pem");
}

TEST_CASE("listeners: a bad --listen value says what is wrong") {
  CHECK(contains(spec_problem(""), "empty listener ''"));
  CHECK(contains(spec_problem(",tls=implicit"), "empty listener"));
  CHECK(spec_problem("127.0.0.1:x=yahoo") ==
        "invalid listen address '127.0.0.1:x': expected ADDR:PORT with an IP address "
        "(127.0.0.1:1025, [::1]:1025) and a port 0-65535");
  CHECK(contains(spec_problem("::1:25"), "invalid listen address '::1:25'"));
  CHECK(contains(spec_problem("127.0.0.1:70000"), "invalid listen address"));
  CHECK(contains(spec_problem("example.com:25"), "invalid listen address"));
  CHECK(spec_problem("127.0.0.1:25=") ==
        "no scenario after '=' in '127.0.0.1:25=' (leave out '=' for the serve --scenario)");
  CHECK(spec_problem("127.0.0.1:25,tls=implict") ==
        "unknown tls mode 'implict' (expected starttls, implicit or none; did you mean "
        "'implicit'?)");
  CHECK(spec_problem("127.0.0.1:25,tls=ssl") ==
        "unknown tls mode 'ssl' (expected starttls, implicit or none)");
  CHECK(spec_problem("127.0.0.1:25,nmae=x") ==
        "unknown listener option 'nmae' (expected tls, name, tls-cert or tls-key; did you mean "
        "'name'?)");
  CHECK(spec_problem("127.0.0.1:25,scenario=yahoo") ==
        "unknown listener option 'scenario' (the scenario follows the address: "
        "ADDR:PORT=SCENARIO)");
  CHECK(spec_problem("127.0.0.1:25,tls") == "listener option 'tls' needs a value (tls=...)");
  CHECK(spec_problem("127.0.0.1:25,name=") == "listener option 'name' needs a value (name=...)");
  CHECK(spec_problem("127.0.0.1:25,tls=none,tls=implicit") == "listener option 'tls' given twice");
  CHECK(spec_problem("127.0.0.1:25,,tls=none") ==
        "empty option in '127.0.0.1:25,,tls=none' (two commas in a row?)");
  CHECK(spec_problem("127.0.0.1:25,name=a b") ==
        "invalid listener name 'a b': expected 1-64 letters, digits, '-', '_' or '.'");
  CHECK(
      contains(spec_problem("127.0.0.1:25,name=" + std::string(65, 'a')), "invalid listener name"));
  CHECK(spec_problem("127.0.0.1:25,name=" + std::string(64, 'a')).empty());
  CHECK(contains(spec_problem("127.0.0.1:25,name=caf\xc3\xa9"), "invalid listener name"));
}

TEST_CASE("listeners: SMTPMOCK_LISTEN takes commas and newlines, options join their entry") {
  const auto list = sc::parse_listen_list(
      "0.0.0.0:1025=default,0.0.0.0:1026=yahoo\n"
      "  0.0.0.0:1465=tls-required,tls=implicit,name=smtps\n"
      "\n"
      "[::1]:1587,tls=none,tls-cert=c.pem,tls-key=k.pem,\n");
  REQUIRE(list.size() == 4);
  CHECK(list[0].address == "0.0.0.0:1025");
  CHECK(list[0].scenario == "default");
  CHECK(list[0].origin == "SMTPMOCK_LISTEN 0.0.0.0:1025=default");
  CHECK(list[1].scenario == "yahoo");
  CHECK(list[1].tls == sc::listener_tls::starttls);
  CHECK(list[2].address == "0.0.0.0:1465");
  CHECK(list[2].tls == sc::listener_tls::implicit);
  CHECK(list[2].name == "smtps");
  CHECK(list[2].origin == "SMTPMOCK_LISTEN 0.0.0.0:1465=tls-required,tls=implicit,name=smtps");
  CHECK(list[3].address == "[::1]:1587");
  CHECK(list[3].tls == sc::listener_tls::none);
  CHECK(list[3].tls_cert == "c.pem");
  CHECK(list[3].tls_key == "k.pem");

  CHECK(sc::parse_listen_list("").empty());
  CHECK(sc::parse_listen_list(" \n , \n").empty());
  CHECK(problem_of([] { sc::parse_listen_list("tls=implicit,127.0.0.1:25"); }) ==
        "listener option 'tls=implicit' comes before any ADDR:PORT");
  CHECK(problem_of([] { sc::parse_listen_list("127.0.0.1:25,127.0.0.1:x"); }) ==
        "'127.0.0.1:x': invalid listen address '127.0.0.1:x': expected ADDR:PORT with an IP "
        "address (127.0.0.1:1025, [::1]:1025) and a port 0-65535");
  CHECK(problem_of([] { sc::parse_listen_list("127.0.0.1:25,tls=bad"); }) ==
        "'127.0.0.1:25,tls=bad': unknown tls mode 'bad' (expected starttls, implicit or none)");
}

TEST_CASE("listeners: a set without conflicts passes; port 0 may repeat") {
  CHECK(set_problem({}).empty());
  CHECK(set_problem({spec("0.0.0.0:1025"), spec("0.0.0.0:1026"), spec("127.0.0.1:0"),
                     spec("127.0.0.1:0"), spec("[::1]:1027", "v6")})
            .empty());
  // One port on two families is two sockets (a wildcard takes its own family only).
  CHECK(set_problem({spec("0.0.0.0:1025"), spec("[::1]:1025", "v6")}).empty());
  CHECK(sc::effective_name(spec("0.0.0.0:1025")) == "1025");
  CHECK(sc::effective_name(spec("0.0.0.0:1025", "mx")) == "mx");
  CHECK(sc::effective_name(spec("127.0.0.1:0")).empty());
}

TEST_CASE("listeners: conflicts name both origins") {
  CHECK(set_problem({spec("0.0.0.0:1025"), spec("0.0.0.0:1026"), spec("0.0.0.0:1025", "b")}) ==
        "two listeners on 0.0.0.0:1025: --listen 0.0.0.0:1025 and --listen 0.0.0.0:1025");
  // Spellings of one address are one address.
  CHECK(set_problem({spec("localhost:25", "a"), spec("127.0.0.1:25", "b")}) ==
        "two listeners on 127.0.0.1:25: --listen localhost:25 and --listen 127.0.0.1:25");
  CHECK(set_problem({spec("*:25", "a", "smtp.yaml:3:5"), spec(":25", "b", "smtp.yaml:4:5")}) ==
        "two listeners on 0.0.0.0:25: smtp.yaml:3:5 and smtp.yaml:4:5");
  CHECK(set_problem({spec("[::1]:25", "a"), spec("[0:0:0:0:0:0:0:1]:25", "b")}) ==
        "two listeners on [::1]:25: --listen [::1]:25 and --listen [0:0:0:0:0:0:0:1]:25");
  CHECK(set_problem({spec("0.0.0.0:1025", "a"), spec("127.0.0.1:1025", "b")}) ==
        "0.0.0.0:1025 and 127.0.0.1:1025 overlap: 0.0.0.0:1025 takes port 1025 on every IPv4 "
        "address: --listen 0.0.0.0:1025 and --listen 127.0.0.1:1025");
  CHECK(contains(set_problem({spec("[::1]:25", "a"), spec("[::]:25", "b")}),
                 "[::]:25 takes port 25 on every IPv6 address"));
  CHECK(set_problem({spec("0.0.0.0:1025", "mx"), spec("0.0.0.0:1026", "mx")}) ==
        "two listeners named 'mx': --listen 0.0.0.0:1025 and --listen 0.0.0.0:1026");
  CHECK(set_problem({spec("127.0.0.1:1025"), spec("[::1]:1025")}) ==
        "two listeners named '1025': --listen 127.0.0.1:1025 and --listen [::1]:1025 (a listener "
        "without a name is named after its port; give one a name)");
  CHECK(contains(set_problem({spec("0.0.0.0:25"), spec("0.0.0.0:26", "25")}),
                 "two listeners named '25'"));

  auto cert_only = spec("0.0.0.0:465");
  cert_only.tls_cert = "c.pem";
  CHECK(set_problem({cert_only}) ==
        "--listen 0.0.0.0:465: tls-cert needs tls-key (or neither, for the server's "
        "certificate)");
  auto key_only = spec("0.0.0.0:465");
  key_only.tls_key = "k.pem";
  CHECK(contains(set_problem({key_only}), "tls-key needs tls-cert"));
  CHECK(set_problem({spec("nowhere", "x", "--smtp-listen nowhere")}) ==
        "--smtp-listen nowhere: invalid listen address 'nowhere': expected ADDR:PORT with an IP "
        "address (127.0.0.1:1025, [::1]:1025) and a port 0-65535");

  const auto conflict = sc::find_listener_conflict(
      {spec("0.0.0.0:1", "a"), spec("0.0.0.0:2", "b"), spec("0.0.0.0:1", "c")});
  REQUIRE(conflict);
  CHECK(conflict->first == 0);
  CHECK(conflict->second == 2);
  CHECK(conflict->what == sc::listener_conflict::kind::address);
}

TEST_CASE("listeners: tls modes read and write as their keywords") {
  for (const auto mode :
       {sc::listener_tls::starttls, sc::listener_tls::implicit, sc::listener_tls::none})
    CHECK(sc::parse_listener_tls(sc::to_string(mode)) == mode);
  CHECK_THROWS_AS(sc::parse_listener_tls("STARTTLS"), std::invalid_argument);
}

TEST_CASE("listeners: the address check matches the flags' (parse_listen_address)") {
  const auto a = sc::parse_listen_address("[::1]:1025");
  REQUIRE(a);
  CHECK(a->host == "::1");
  CHECK(a->port == 1025);
  CHECK(a->v6);
  CHECK(sc::parse_listen_address("localhost:25")->host == "127.0.0.1");
  CHECK(sc::parse_listen_address(":25")->host == "0.0.0.0");
  CHECK_FALSE(sc::parse_listen_address("[::1]"));
  CHECK_FALSE(sc::parse_listen_address("1.2.3.4"));
  CHECK(sc::format_address("::1", 25) == "[::1]:25");
  CHECK(sc::listen_address_problem("127.0.0.1:25").empty());
}

TEST_CASE("listeners: the config file's listeners, flow and block style") {
  const smtpmock::testing::temp_dir dir;
  const auto file = dir.write("smtpmock.yaml", R"(# five personalities
scenario: default
listeners:
  - {listen: 0.0.0.0:1025, scenario: default}
  - {listen: 0.0.0.0:1026, scenario: yahoo}
  - {listen: 0.0.0.0:1027, scenario: aol}
  - {listen: 0.0.0.0:1465, scenario: tls-required, tls: implicit}
  - {listen: 0.0.0.0:1587, scenario: auth-required, tls: starttls, name: submission}
  - listen: "[::1]:2525"
    tls: none
    name: v6
    scenario:
    tls-cert: cert.pem
    tls-key: key.pem
smtp-listen: 127.0.0.1:0
)");
  const auto config = sc::load_config(file, allowed);
  CHECK(config.settings.size() == 2);
  CHECK(config.settings.at("smtp-listen").value == "127.0.0.1:0");
  REQUIRE(config.listeners.size() == 6);
  const auto& l = config.listeners;
  CHECK(l[0].address == "0.0.0.0:1025");
  CHECK(l[0].scenario == "default");
  CHECK(l[0].tls == sc::listener_tls::starttls);
  CHECK(l[0].origin == file.string() + ":4:5");
  CHECK(l[1].scenario == "yahoo");
  CHECK(l[2].scenario == "aol");
  CHECK(l[3].address == "0.0.0.0:1465");
  CHECK(l[3].tls == sc::listener_tls::implicit);
  CHECK(l[3].name.empty());
  CHECK(l[4].tls == sc::listener_tls::starttls);
  CHECK(l[4].name == "submission");
  CHECK(l[4].origin == file.string() + ":8:5");
  CHECK(l[5].address == "[::1]:2525");
  CHECK(l[5].tls == sc::listener_tls::none);
  CHECK(l[5].name == "v6");
  CHECK(l[5].scenario.empty());
  CHECK(l[5].tls_cert == "cert.pem");
  CHECK(l[5].tls_key == "key.pem");
  CHECK(l[5].origin == file.string() + ":9:5");
  // The flat reader reads the same file and leaves the listeners out.
  CHECK(sc::load_config_file(file, allowed).size() == 2);
  // `listeners:` with no value, or an empty list, declares none.
  CHECK(sc::load_config(dir.write("a.yaml", "listeners:\n"), allowed).listeners.empty());
  CHECK(sc::load_config(dir.write("b.yaml", "listeners: []\n"), allowed).listeners.empty());
}

TEST_CASE("listeners: every bad entry fails at its exact line and column") {
  struct expectation {
    std::string text;
    int line;
    int column;
    std::string message;
  };
  const std::vector<expectation> cases = {
      {"listeners: 0.0.0.0:1025\n", 1, 12,
       "'listeners' must be a list, one mapping per listener, as in '- {listen: 0.0.0.0:1025, "
       "scenario: default}'"},
      {"listeners:\n  listen: 0.0.0.0:1025\n", 2, 3, "'listeners' must be a list"},
      {"listeners:\n  - 0.0.0.0:1025\n", 2, 5,
       "a listener must be a mapping such as {listen: 0.0.0.0:1025, scenario: default}, not a "
       "single value"},
      {"listeners:\n  - [0.0.0.0:1025]\n", 2, 5, "a listener must be a mapping"},
      {"listeners:\n  - {listen: 0.0.0.0:1025, scenaro: yahoo}\n", 2, 28,
       "unknown listener key 'scenaro' (did you mean 'scenario'?); expected listen, scenario, "
       "tls, name, tls-cert, tls-key"},
      {"listeners:\n  - {scenario: yahoo}\n", 2, 5, "a listener needs 'listen: ADDR:PORT'"},
      {"listeners:\n  - scenario: yahoo\n    tls: none\n", 2, 5,
       "a listener needs 'listen: ADDR:PORT'"},
      {"listeners:\n  - {listen: }\n", 2, 6, "'listen' needs an address: listen: ADDR:PORT"},
      {"listeners:\n  - {listen: 0.0.0.0:1465, tls: implict}\n", 2, 33,
       "unknown tls mode 'implict' (expected starttls, implicit or none; did you mean "
       "'implicit'?)"},
      {"listeners:\n  - {listen: 0.0.0.0:x}\n", 2, 14,
       "invalid listen address '0.0.0.0:x': expected ADDR:PORT with an IP address "
       "(127.0.0.1:1025, [::1]:1025) and a port 0-65535"},
      // An unquoted IPv6 address opens a YAML flow list: a syntax error after its "]".
      {"listeners:\n  - listen: [::1]:1025\n", 2, 18, "YAML syntax error"},
      {"listeners:\n  - {listen: [0.0.0.0, 25]}\n", 2, 14,
       "expected a single value for 'listen', not a list (write an IPv6 address in quotes: "
       "listen: \"[::1]:1025\")"},
      {"listeners:\n  - {listen: 0.0.0.0:25, name: a/b}\n", 2, 32,
       "invalid listener name 'a/b': expected 1-64 letters, digits, '-', '_' or '.'"},
      {"listeners:\n  - {listen: 0.0.0.0:25, listen: 0.0.0.0:26}\n", 2, 26,
       "duplicate key 'listen' in this listener (first given on line 2)"},
      {"listeners:\n  - {listen: 0.0.0.0:465, tls-cert: c.pem}\n", 2, 27,
       "'tls-cert' needs 'tls-key' in the same listener (or neither, for the server's "
       "certificate)"},
      {"listeners:\n  - listen: 0.0.0.0:465\n    tls-key: k.pem\n", 3, 5,
       "'tls-key' needs 'tls-cert' in the same listener"},
      {"listeners:\n"
       "  - {listen: 0.0.0.0:1025}\n"
       "  - {listen: 0.0.0.0:1026}\n"
       "  - {listen: '*:1025', scenario: yahoo}\n",
       4, 14, "two listeners on 0.0.0.0:1025: the one on line 2 and this one"},
      {"listeners:\n"
       "  - {listen: 0.0.0.0:1025, name: mx}\n"
       "  - listen: 0.0.0.0:1026\n"
       "    name: mx\n",
       4, 11, "two listeners named 'mx': the one on line 2 and this one"},
      {"listeners:\n"
       "  - {listen: 127.0.0.1:1025}\n"
       "  - {listen: '[::1]:1025'}\n",
       3, 14,
       "two listeners named '1025': the one on line 2 and this one (a listener without a name "
       "is named after its port; give one a name)"},
      {"listeners:\n  - {listen: 0.0.0.0:1025}\nlisteners: []\n", 3, 1,
       "duplicate key 'listeners' (first given on line 1)"},
      {"listener:\n  - {listen: 0.0.0.0:1025}\n", 1, 1,
       "unknown key 'listener' (did you mean 'listeners'?)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto e = config_error(c.text);
    CHECK(e.line() == c.line);
    CHECK(e.column() == c.column);
    CHECK(contains(e.message(), c.message));
    CHECK(contains(e.what(), "smtpmock.yaml:" + std::to_string(c.line) + ":" +
                                 std::to_string(c.column) + ": "));
  }
}
