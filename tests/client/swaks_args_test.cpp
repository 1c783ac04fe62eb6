// normalise_swaks_args: swaks' spellings of send's options become smtpmock's `--` names.
#include "client/swaks_args.hpp"

#include "client/swaks.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using smtpmock::client::normalise_swaks_args;
using words = std::vector<std::string>;

namespace {
words normalised(const words& in) {
  auto r = normalise_swaks_args(in);
  REQUIRE_MESSAGE(r.refused.empty(), r.refused);
  return r.args;
}
}  // namespace

TEST_CASE("one-dash long names get two dashes; two-dash names stay") {
  CHECK(normalised({"-tls"}) == words{"--tls"});
  CHECK(normalised({"-from", "a@x", "-ehlo", "me", "-quit-after", "RCPT"}) ==
        words{"--from", "a@x", "--ehlo", "me", "--quit-after", "RCPT"});
  CHECK(normalised({"--to", "b@x", "--tls-verify", "--pipeline"}) ==
        words{"--to", "b@x", "--tls-verify", "--pipeline"});
  CHECK(normalised({"-json", "-count", "5"}) == words{"--json", "--count", "5"});
  CHECK(normalised({"-api", "http://h:8025", "-no-api"}) ==
        words{"--api", "http://h:8025", "--no-api"});
  CHECK(normalised({"--api=none"}) == words{"--api=none"});
}

TEST_CASE("swaks' short forms map to smtpmock's options") {
  CHECK(normalised({"-t", "a@x", "-t", "b@x", "-f", "c@x", "-s", "h:25", "-p", "26"}) ==
        words{"--to", "a@x", "--to", "b@x", "--from", "c@x", "--server", "h:25", "--port", "26"});
  CHECK(normalised({"-t", "a@x,b@x"}) == words{"--to", "a@x,b@x"});
  CHECK(normalised({"-h", "myhelo"}) == words{"--ehlo", "myhelo"});
  CHECK(normalised({"--helo", "x", "--h", "y"}) == words{"--ehlo", "x", "--ehlo", "y"});
  CHECK(normalised({"-au", "u", "-ap", "p"}) == words{"--auth-user", "u", "--auth-password", "p"});
  CHECK(normalised({"-tlsc"}) == words{"--tls-on-connect"});
  CHECK(normalised({"-q", "MAIL", "-quit", "RCPT"}) ==
        words{"--quit-after", "MAIL", "--quit-after", "RCPT"});
  CHECK(normalised({"-ah", "X-A: 1", "--add-header", "X-B: 2"}) ==
        words{"--add-header", "X-A: 1", "--add-header", "X-B: 2"});
  CHECK(normalised({"-ha"}) == words{"--hide-all"});
  CHECK(normalised({"-n", "-stl", "-ahp", "-hr", "-hs", "-hi", "-nth", "-nsh", "-nrh", "-nih"}) ==
        words{"--suppress-data", "--show-time-lapse", "--auth-hide-password", "--hide-receive",
              "--hide-send", "--hide-informational", "--no-hints", "--no-send-hints",
              "--no-receive-hints", "--no-info-hints"});
  CHECK(normalised({"-stl", "i", "-ahp", "XX", "--output", "f", "--output-file-stderr",
                    "&STDOUT"}) == words{"--show-time-lapse", "i", "--auth-hide-password", "XX",
                                         "--output-file", "f", "--output-file-stderr", "&STDOUT"});
  CHECK(normalised({"--help"}) == words{"--help"});
  CHECK(normalised({"-help"}) == words{"--help"});
}

TEST_CASE("-S takes swaks' optional level: only 1, 2 or 3 is one") {
  CHECK(normalised({"-S"}) == words{"--silent"});
  CHECK(normalised({"-S", "2", "-tls"}) == words{"--silent=2", "--tls"});
  CHECK(normalised({"-S", "-tls"}) == words{"--silent", "--tls"});
  CHECK(normalised({"--silent=3"}) == words{"--silent=3"});
}

TEST_CASE("-a takes an optional mechanism") {
  CHECK(normalised({"-a", "-tls"}) == words{"--auth", "--tls"});
  CHECK(normalised({"-a", "LOGIN", "-tls"}) == words{"--auth", "LOGIN", "--tls"});
  CHECK(normalised({"-a"}) == words{"--auth"});
}

TEST_CASE("--h-NAME and --header-NAME become --header \"NAME: VALUE\"") {
  CHECK(normalised({"--h-Subject", "hi"}) == words{"--header", "Subject: hi"});
  CHECK(normalised({"-h-Subject", "hi there"}) == words{"--header", "Subject: hi there"});
  CHECK(normalised({"--header-X-Test:", "v"}) == words{"--header", "X-Test: v"});
  CHECK(normalised({"--h-Subject=hi"}) == words{"--header", "Subject: hi"});
}

TEST_CASE("--attach and its companions keep their order; --attach-name may have no value") {
  CHECK(normalised({"--attach-type", "text/html", "--attach", "@f", "-attach-name", "n", "--attach",
                    "-", "--attach-body", "b"}) == words{"--attach-type", "text/html", "--attach",
                                                         "@f", "--attach-name", "n", "--attach",
                                                         "-", "--attach-body", "b"});
  CHECK(normalised({"--attach-name", "--attach", "x"}) ==
        words{"--attach-no-name", "--attach", "x"});
  CHECK(normalised({"--attach-name"}) == words{"--attach-no-name"});
  CHECK(normalised({"-ndf", "--no-data-fixup"}) == words{"--no-data-fixup", "--no-data-fixup"});
}

TEST_CASE("values are never rewritten, nor anything after --") {
  CHECK(normalised({"--body", "-tls"}) == words{"--body", "-tls"});
  CHECK(normalised({"-d", "-"}) == words{"--data", "-"});
  CHECK(normalised({"-d", "-h"}) == words{"--data", "-h"});
  CHECK(normalised({"--h-Subject", "-tls"}) == words{"--header", "Subject: -tls"});
  CHECK(normalised({"-tls", "--", "-tls"}) == words{"--tls", "--", "-tls"});
  CHECK(normalised({"-from=-x", "-tls=true"}) == words{"--from=-x", "--tls=true"});
}

TEST_CASE("swaks options smtpmock lacks are refused by name") {
  for (const auto& [word, name] :
       std::vector<std::pair<std::string, std::string>>{{"-pp", "protect-prompt"},
                                                        {"-raw", "show-raw-text"},
                                                        {"--pipe", "pipe"},
                                                        {"--socket", "socket"},
                                                        {"-am", "auth-map"},
                                                        {"--dump", "dump"},
                                                        {"--prdr", "prdr"},
                                                        {"--xclient=x", "xclient"},
                                                        {"--no-tls", "no-tls"},
                                                        {"--no-h-Subject", "no-h-Subject"}}) {
    auto r = normalise_swaks_args({"-t", "a@x", word, "x"});
    CHECK(r.refused == word.substr(0, word.find('=')));
    CHECK(r.unsupported == name);
  }
}

TEST_CASE("TLS, protocol and network options map to smtpmock's") {
  CHECK(normalised({"-tlso", "-tlsos", "--tls-sni", "n", "-tlsp", "tlsv1_3", "--tls-cert", "c",
                    "--tls-key", "k", "--tls-ca-path", "p"}) ==
        words{"--tls-optional", "--tls-optional-strict", "--tls-sni", "n", "--tls-protocol",
              "tlsv1_3", "--tls-cert", "c", "--tls-key", "k", "--tls-ca-path", "p"});
  CHECK(normalised({"--protocol", "LMTP", "-4", "--6", "-li", "127.0.0.1:0", "-lp", "2525",
                    "--lport", "1"}) == words{"--protocol", "LMTP", "-4", "-6", "--local-interface",
                                              "127.0.0.1:0", "--local-port", "2525", "--local-port",
                                              "1"});
  CHECK(normalised({"--lhlo", "me"}) == words{"--ehlo", "me"});  // swaks: the HELO string
  CHECK(normalised({"-g", "-nsf", "--dump-mail", "--tls-cipher", "HIGH"}) ==
        words{"--data=-", "--no-strip-from", "--dump-mail", "--tls-cipher", "HIGH"});
  CHECK(normalised({"-ao", "-aos", "LOGIN", "-t", "x"}) ==
        words{"--auth-optional", "--auth-optional-strict", "LOGIN", "--to", "x"});
}

TEST_CASE("an unknown word in option position is refused, never guessed at") {
  for (const std::string word : {"-bogus", "--bogus", "-tb@x", "-tl"}) {
    auto r = normalise_swaks_args({"-t", "a@x", word});
    CHECK(r.refused == word);
    CHECK(r.unsupported.empty());
  }
  auto names = smtpmock::client::swaks_option_names();
  CHECK(std::find(names.begin(), names.end(), "tls") != names.end());
  CHECK(std::find(names.begin(), names.end(), "tls-optional") != names.end());
  CHECK(std::find(names.begin(), names.end(), "protect-prompt") == names.end());
}

TEST_CASE("unit: swaks: --protocol, --tls-protocol, stop points and exit codes") {
  using namespace smtpmock;
  auto lmtp = client::swaks::parse_protocol("lmtpsa");
  REQUIRE(lmtp);
  CHECK(lmtp->hello == smtp::hello_verb::lhlo);
  CHECK(lmtp->auth);
  CHECK(lmtp->tls);
  CHECK(lmtp->port == 24);
  auto smtps = client::swaks::parse_protocol("SMTPS");
  REQUIRE(smtps);
  CHECK(smtps->hello == smtp::hello_verb::helo);
  CHECK(smtps->tls_on_connect);
  CHECK(smtps->port == 465);
  CHECK(client::swaks::parse_protocol("ESMTP")->hello == smtp::hello_verb::ehlo);
  CHECK_FALSE(client::swaks::parse_protocol("HTTP"));

  std::string error;
  auto only = client::swaks::parse_tls_protocol("tlsv1_2", error);
  REQUIRE(only);
  CHECK(only->tlsv1_2);
  CHECK_FALSE(only->tlsv1_3);
  auto but = client::swaks::parse_tls_protocol("no_tlsv1_2,NO_SSLV3", error);
  REQUIRE(but);
  CHECK(but->tlsv1_3);
  CHECK(but->tlsv1);
  CHECK_FALSE(but->tlsv1_2);
  CHECK_FALSE(but->sslv3);
  CHECK_FALSE(client::swaks::parse_tls_protocol("tlsv1_2,no_tlsv1_3", error));
  CHECK_FALSE(client::swaks::parse_tls_protocol("tls9", error));
  CHECK(error.find("tls9") != std::string::npos);

  CHECK(client::swaks::parse_stop_point("from", false)->after == smtp::milestone::mail);
  CHECK(client::swaks::parse_stop_point("STARTTLS", true)->drop);
  CHECK(client::swaks::parse_stop_point("dot", true)->after == smtp::milestone::dot);
  CHECK_FALSE(client::swaks::parse_stop_point("DATA", false));
  CHECK_FALSE(client::swaks::parse_stop_point("XCLIENT", true));
  CHECK(client::swaks::exit_code_for(smtp::client_stage::banner) == 21);
  CHECK(client::swaks::exit_code_for(smtp::client_stage::starttls) == 29);
  smtp::client_result ok;
  ok.dropped = true;
  CHECK(client::swaks::exit_code(ok) == 0);
}
