// Golden C:/S: transcripts: each tests/transcripts/*.txt is replayed against the scenario it
// names. Consecutive C: lines are sent in one write (so pipelining is written as it happens);
// the S: lines that follow must match the reply lines exactly. "S: *" matches any line and
// "S: * text" a line starting with text; "@stored N" and "@closed" check the session.
// "@scenario NAME" is a bundled scenario or a file next to the transcript; its rules' replies
// are sent as the server sends them (other effects, such as delays, are not carried out).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../smtp/harness.hpp"
#include "scenario/engine.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"
#include "scenario/session_facts.hpp"

namespace fs = std::filesystem;
using smtpmock::test::harness;

namespace {

std::vector<std::string> split_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < out.size()) {
    const auto end = out.find("\r\n", pos);
    lines.push_back(out.substr(pos, end - pos));
    pos = end == std::string::npos ? out.size() : end + 2;
  }
  return lines;
}

/// The harness with the scenario's rules: a rule's reply replaces the core's proposal, as
/// net/effects.cpp does.
struct rule_harness {
  explicit rule_harness(std::shared_ptr<const smtpmock::scenario::definition> def)
      : h(*def->personality), rules(def, 1) {}

  std::string run() {
    for (int guard = 0; guard < 1000000; ++guard) {
      smtpmock::smtp::event ev = h.conn.next_event();
      if (ev.kind == smtpmock::smtp::event_kind::need_data ||
          ev.kind == smtpmock::smtp::event_kind::start_tls) {
        break;
      }
      if (ev.kind == smtpmock::smtp::event_kind::closed) {
        h.closed = true;
        break;
      }
      smtpmock::smtp::reply answer = ev.proposed;
      if (const auto type = smtpmock::scenario::rule_event(ev); type && rules.listens(*type)) {
        const auto act = rules.decide(
            smtpmock::scenario::facts_for(ev, *type, h.conn, "S1", "127.0.0.1", &counters,
                                          smtpmock::scenario::steady::time_point{}));
        if (act && act->then.reply) {
          smtpmock::smtp::reply custom = h.conn.render(*act->then.reply);
          if (custom.code != 0) answer = std::move(custom);
        }
      }
      if (ev.kind == smtpmock::smtp::event_kind::message && answer.klass() == 2)
        h.stored.push_back(*ev.message);
      h.conn.respond(answer);
    }
    return h.conn.take_output();
  }
  std::string feed(std::string_view bytes) {
    h.conn.receive_data(bytes);
    return run();
  }

  harness h;
  smtpmock::scenario::engine rules;
  smtpmock::scenario::session_counters counters;
};

void replay(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> script;
  for (std::string line; std::getline(in, line);)
    script.push_back(line);
  std::unique_ptr<rule_harness> h;
  std::vector<std::string> pending_out;
  std::size_t next_out = 0;
  std::string to_send;
  auto flush_send = [&] {
    if (to_send.empty()) return;
    const auto out = h->feed(to_send);
    to_send.clear();
    pending_out = split_lines(out);
    next_out = 0;
  };
  for (std::size_t n = 0; n < script.size(); ++n) {
    const std::string& line = script[n];
    const std::string where = file.filename().string() + ":" + std::to_string(n + 1);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("@scenario ", 0) == 0) {
      const std::string name = line.substr(10);
      const fs::path beside = file.parent_path() / name;
      const auto def = smtpmock::scenario::load_definition_file(
          fs::is_regular_file(beside) ? beside : smtpmock::scenario::resolve(name));
      h = std::make_unique<rule_harness>(def);
      pending_out = split_lines(h->run());
      next_out = 0;
      continue;
    }
    REQUIRE_MESSAGE(h, where << ": @scenario must come first");
    if (line.rfind("C:", 0) == 0) {
      if (next_out != pending_out.size()) {
        FAIL_CHECK(where << ": unexpected reply line: " << pending_out[next_out]);
        next_out = pending_out.size();
      }
      to_send += (line.size() > 3 ? line.substr(3) : std::string()) + "\r\n";
    } else if (line.rfind("S:", 0) == 0) {
      flush_send();
      const std::string want = line.size() > 3 ? line.substr(3) : std::string();
      if (next_out >= pending_out.size()) {
        FAIL_CHECK(where << ": expected '" << want << "' but the server said nothing more");
        continue;
      }
      const std::string& got = pending_out[next_out++];
      if (want == "*") continue;
      if (want.rfind("* ", 0) == 0) {
        CHECK_MESSAGE(got.rfind(want.substr(2), 0) == 0, where << ": got '" << got << "'");
      } else {
        CHECK_MESSAGE(got == want, where << ": got '" << got << "'");
      }
    } else if (line.rfind("@stored ", 0) == 0) {
      flush_send();
      CHECK_MESSAGE(h->h.stored.size() == std::stoul(line.substr(8)), where);
    } else if (line == "@closed") {
      flush_send();
      CHECK_MESSAGE(h->h.conn.closing(), where);
    } else {
      FAIL_CHECK(where << ": cannot read this line");
    }
  }
  flush_send();
  CHECK_MESSAGE(next_out == pending_out.size(), file.filename().string() << ": unread replies");
}

}  // namespace

TEST_CASE("unit: golden transcripts replay exactly") {
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(SMTPMOCK_TESTS_DIR "/transcripts")) {
    if (entry.path().extension() != ".txt") continue;
    SUBCASE(entry.path().filename().string().c_str()) {
      replay(entry.path());
    }
    ++count;
  }
  CHECK(count >= 5);
}

TEST_CASE("unit: the walkthrough message is stored byte for byte") {
  const auto p = smtpmock::scenario::load_file(smtpmock::scenario::resolve("powermta"));
  harness h(*p);
  h.start();
  h.feed(
      "EHLO server.example.com\r\nMAIL FROM: <support@port25.com>\r\n"
      "RCPT TO: <support@port25.com>\r\nDATA\r\n");
  h.feed("Subject: test message sent from manual telnet session\r\n\r\nHello World,\r\n.\r\n");
  REQUIRE(h.stored.size() == 1);
  CHECK(h.stored[0].data ==
        "Subject: test message sent from manual telnet session\r\n\r\nHello World,\r\n");
  CHECK(h.stored[0].env.mail_from == "support@port25.com");
  REQUIRE(h.stored[0].env.recipients.size() == 1);
  CHECK(h.stored[0].env.recipients[0].address == "support@port25.com");
  CHECK(h.stored[0].env.helo == "server.example.com");
}
