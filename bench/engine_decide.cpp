// A micro-benchmark of scenario::engine::decide(): ns per call for the events of one message
// (MAIL, RCPT, DATA, message) as smtp-source sends it, against a scenario file (by default
// bench/rules-50.yaml: 50 rules that never match) and against no rules. Wired into nothing:
//   c++ -std=c++20 -O2 -g -I server bench/engine_decide.cpp build-X/server/scenario/*.a \
//       build-X/server/smtp/*.a -lre2 -lyaml-cpp -o /tmp/engine_decide && /tmp/engine_decide
// Facts are built per call from strings that outlive them, as the session does.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "scenario/engine.hpp"
#include "scenario/loader.hpp"

namespace sc = smtpmock::scenario;

namespace {

struct traffic {
  std::string session_id = "S0123456789ab";
  std::string client_ip = "127.0.0.1";
  std::string helo = "client.example.test";
  std::string sender = "bench@example.test";
  std::string recipient = "sink@example.test";
  std::string mail_arg = "FROM:<bench@example.test>";
  std::string rcpt_arg = "TO:<sink@example.test>";
  std::string message;
  traffic() {
    message =
        "From: <bench@example.test>\r\nTo: <sink@example.test>\r\n"
        "Date: Mon, 1 Dec 2026 10:00:00 +0000\r\nMessage-Id: <1.2.3@example.test>\r\n"
        "X-Mailer: smtp-source\r\n\r\n";
    while (message.size() < 1024)
      message += "La de da de da 1.\r\n";
  }
};

sc::facts make(const traffic& t, sc::event_type e, std::uint64_t transaction) {
  sc::facts f;
  f.event = e;
  f.session_id = t.session_id;
  f.client_ip = t.client_ip;
  f.transaction = transaction;
  f.helo = t.helo;
  f.sender = t.sender;
  if (e == sc::event_type::mail) f.argument = t.mail_arg;
  if (e == sc::event_type::rcpt) {
    f.argument = t.rcpt_arg;
    f.recipient = t.recipient;
  }
  if (e == sc::event_type::message) {
    f.message = &t.message;
    f.size = t.message.size();
  }
  f.now = sc::steady::now();
  return f;
}

double run(sc::engine& e, const traffic& t, int messages, int& fired) {
  const sc::event_type events[] = {sc::event_type::mail, sc::event_type::rcpt, sc::event_type::data,
                                   sc::event_type::message};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < messages; ++i) {
    for (auto ev : events) {
      if (!e.listens(ev)) continue;
      if (e.decide(make(t, ev, std::uint64_t(i) + 1))) ++fired;
    }
  }
  const std::chrono::duration<double, std::nano> d = std::chrono::steady_clock::now() - start;
  return d.count() / messages;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string file = argc > 1 ? argv[1] : "bench/rules-50.yaml";
  const int messages = argc > 2 ? std::stoi(argv[2]) : 200000;
  auto rules = sc::load_definition_file(file);
  auto none = std::make_shared<sc::definition>(*rules);
  none->rules.clear();
  sc::engine with(rules, 1);
  sc::engine without(none, 1);
  traffic t;
  int fired = 0;
  run(with, t, messages / 10, fired);  // warm up
  double best_with = 1e18, best_without = 1e18;
  for (int rep = 0; rep < 5; ++rep) {
    best_with = std::min(best_with, run(with, t, messages, fired));
    best_without = std::min(best_without, run(without, t, messages, fired));
  }
  std::printf("%s: %zu rules, %d messages x 4 events, best of 5\n", file.c_str(),
              rules->rules.size(), messages);
  std::printf("  with rules:    %8.1f ns per message (%6.1f ns per decide)\n", best_with,
              best_with / 4);
  std::printf("  without rules: %8.1f ns per message\n", best_without);
  std::printf("  fired: %d (0 expected)\n", fired);
  return fired == 0 ? 0 : 1;
}
