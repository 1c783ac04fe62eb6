// Golden C:/S: transcripts: each tests/transcripts/*.txt is replayed against the scenario it
// names. Consecutive C: lines are sent in one write (so pipelining is written as it happens);
// the S: lines that follow must match the reply lines exactly. "S: *" matches any line and
// "S: * text" a line starting with text; "@stored N" and "@closed" check the session.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../smtp/harness.hpp"
#include "scenario/loader.hpp"

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

void replay(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> script;
  for (std::string line; std::getline(in, line);)
    script.push_back(line);
  std::unique_ptr<harness> h;
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
      const auto p = smtpmock::scenario::load_file(smtpmock::scenario::resolve(line.substr(10)));
      h = std::make_unique<harness>(*p);
      pending_out = split_lines(h->start());
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
      CHECK_MESSAGE(h->stored.size() == std::stoul(line.substr(8)), where);
    } else if (line == "@closed") {
      flush_send();
      CHECK_MESSAGE(h->conn.closing(), where);
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
