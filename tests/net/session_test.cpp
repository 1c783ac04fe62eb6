// A server session driven over tests/net/memory_stream.hpp, without sockets: the loop, the
// effects a rule performs, TLS restart after STARTTLS, shutdown and timeouts. The session
// code is the production code (net::run_session over basic_session_stream); only the
// transport differs.
#include "net/session.hpp"

#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "memory_stream.hpp"
#include "scenario/loader.hpp"

using namespace smtpmock;
using namespace std::chrono_literals;
using test::memory_stream;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::string_view base_yaml =
    "name: t\nehlo:\n  extensions: [PIPELINING, ENHANCEDSTATUSCODES, STARTTLS]\n";

/// One session over a memory stream, and the client end the test talks through.
struct rig {
  /// `yaml`: scenario keys after a small personality with enhanced status codes.
  explicit rig(std::string_view yaml = "", bool with_tls = false) {
    spdlog::set_level(spdlog::level::warn);  // the session's info lines are not the test's
    auto ends = memory_stream::pair(io.get_executor());
    client.emplace(std::move(ends.second));
    control = std::make_shared<net::session_control>(io.get_executor());
    net::session_params p;
    p.engine = std::make_shared<scenario::engine>(
        scenario::load_definition_text(std::string(base_yaml) + std::string(yaml), "test.yaml"), 1);
    p.store = store;
    p.control = control;
    p.listener = "memory";
    if (with_tls) p.tls = std::make_shared<net::tls_contexts>(net::tls_settings{});
    auto stream = std::make_unique<net::basic_session_stream<memory_stream>>(std::move(ends.first));
    asio::co_spawn(io, net::run_session(std::move(stream), std::move(p)),
                   [this](std::exception_ptr) { done = true; });
  }
  ~rig() {
    // Every test ends its session; one that did not is stopped here, bounded.
    if (!done) {
      control->request_stop();
      run_until([&] { return done; }, 2s);
    }
  }

  /// Runs the io_context until `ready()` or `limit` passes; returns ready().
  template <class F>
  bool run_until(F ready, std::chrono::milliseconds limit = 5s) {
    const auto end = steady::now() + limit;
    while (!ready() && steady::now() < end)
      io.run_one_for(10ms);
    return ready();
  }

  /// Moves what the server wrote into `received`; notes the end of the stream.
  void drain() {
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      asio::error_code ec;
      const std::size_t n = client->read_some(asio::buffer(buf), ec);
      received.append(buf, n);
      if (ec == asio::error::eof || ec == asio::error::connection_reset) ended = ec;
      if (n == 0) break;
    }
  }

  /// What arrived up to and including `until` (removed from `received`); "" when it did not
  /// arrive within `limit`.
  std::string read_until(std::string_view until, std::chrono::milliseconds limit = 5s) {
    run_until(
        [&] {
          drain();
          return received.find(until) != std::string::npos || ended;
        },
        limit);
    const auto at = received.find(until);
    if (at == std::string::npos) return {};
    std::string out = received.substr(0, at + until.size());
    received.erase(0, at + until.size());
    return out;
  }

  /// The reply to `line` (a CRLF is added): everything up to the last line of a reply.
  std::string say(std::string_view line) {
    send(std::string(line) + "\r\n");
    return read_reply();
  }
  void send(std::string_view bytes) {
    asio::error_code ec;
    client->write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    REQUIRE_FALSE(ec);
  }
  /// Reads one whole reply (through its "NNN " line).
  std::string read_reply(std::chrono::milliseconds limit = 5s) {
    std::string out;
    for (int lines = 0; lines < 64; ++lines) {
      std::string line = read_until("\r\n", limit);
      if (line.empty()) return out;
      out += line;
      if (line.size() >= 4 && line[3] == ' ') return out;
    }
    return out;
  }
  /// Waits for the session to end and the stream to close.
  bool closes(std::chrono::milliseconds limit = 5s) {
    return run_until(
        [&] {
          drain();
          return done && ended;
        },
        limit);
  }

  const store::session_record& record() {
    sessions = store->sessions();
    REQUIRE(sessions.size() == 1);
    return sessions.front();
  }
  bool transcript_has(std::string_view text) {
    for (const auto& line : record().lines)
      if (line.text.find(text) != std::string::npos) return true;
    return false;
  }

  asio::io_context io;
  std::shared_ptr<store::message_store> store = std::make_shared<store::message_store>();
  std::shared_ptr<net::session_control> control;
  std::optional<memory_stream> client;
  std::string received;
  std::optional<asio::error_code> ended;
  std::vector<store::session_record> sessions;
  bool done = false;
};

constexpr std::string_view plain_message = "Subject: t\r\n\r\nhello\r\n.\r\n";

}  // namespace

TEST_CASE("net: a session over a memory stream is served and its message kept before the 250") {
  rig r;
  CHECK(r.read_reply() == "220 localhost ESMTP smtpmock\r\n");
  CHECK(r.say("EHLO c.example") ==
        "250-localhost\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n");
  CHECK(r.say("MAIL FROM:<a@x.example>") == "250 2.1.0 Sender ok\r\n");
  CHECK(r.say("RCPT TO:<b@y.example>") == "250 2.1.5 Recipient ok\r\n");
  CHECK(r.say("DATA").rfind("354 ", 0) == 0);
  r.send(plain_message);
  const std::string ok = r.read_reply();
  CHECK(ok.rfind("250 2.0.0 Ok: queued as ", 0) == 0);
  // The 250 is a promise: the message is in the store by the time the client reads it.
  const auto kept = r.store->messages();
  REQUIRE(kept.size() == 1);
  CHECK(kept.front()->data == "Subject: t\r\n\r\nhello\r\n");
  CHECK(ok.find(kept.front()->id) != std::string::npos);
  CHECK(r.say("QUIT") == "221 2.0.0 Bye\r\n");
  CHECK(r.closes());
  CHECK(*r.ended == asio::error::eof);  // FIN, not RST
  CHECK(r.record().client_address == "127.0.0.1:4000");
  CHECK(r.transcript_has("closed"));
}

TEST_CASE("net: a pipelined group is answered in one write before the next read") {
  rig r;
  r.read_reply();
  r.say("EHLO c");
  r.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n");
  const std::string group =
      "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n250 2.1.5 Recipient ok\r\n"
      "354 End data with <CR><LF>.<CR><LF>\r\n";
  std::string got;
  for (int i = 0; i < 4; ++i)
    got += r.read_reply();
  CHECK(got == group);
  REQUIRE_FALSE(r.client->peer_writes().empty());
  CHECK(r.client->peer_writes().back() == group);  // RFC 2920: one write for the group
  r.send(plain_message);
  CHECK(r.read_reply().rfind("250 ", 0) == 0);
  CHECK(r.client->peer_writes().size() == 4);  // banner, EHLO, the group, the message
}

TEST_CASE("net: hold_until_data: MAIL and RCPT are answered only together with DATA") {
  rig r("quirks: {pipelining: hold_until_data}\n");
  r.read_reply();
  r.say("EHLO c");
  r.send("MAIL FROM:<a@x>\r\n");
  CHECK(r.read_until("\r\n", 300ms).empty());  // held
  r.send("RCPT TO:<b@x>\r\n");
  CHECK(r.read_until("\r\n", 300ms).empty());  // still held
  r.send("DATA\r\n");
  CHECK(r.read_until("354 ") == "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n354 ");
}

TEST_CASE("net: a rule's delay holds its reply, and what came before leaves first") {
  rig r("rules:\n  - {name: slow, on: rcpt, delay: 300ms}\n");
  r.read_reply();
  r.say("EHLO c");
  const auto start = steady::now();
  r.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
  CHECK(r.read_until("\r\n") == "250 2.1.0 Sender ok\r\n");
  const auto mail_at = steady::now();
  CHECK(r.read_until("\r\n") == "250 2.1.5 Recipient ok\r\n");
  const auto rcpt_at = steady::now();
  CHECK(mail_at - start < 250ms);  // the MAIL reply was flushed before the delay
  CHECK(rcpt_at - start >= 300ms);
  CHECK(r.transcript_has("rule slow: delay 300 ms"));
}

TEST_CASE("net: hang: no reply, until shutdown answers 421 4.3.2") {
  rig r("rules:\n  - {name: stuck, on: mail, hang: true}\n");
  r.read_reply();
  r.say("EHLO c");
  r.send("MAIL FROM:<a@x>\r\n");
  CHECK(r.read_until("\r\n", 300ms).empty());
  r.send("NOOP\r\n");  // read and ignored while hanging
  CHECK(r.read_until("\r\n", 200ms).empty());
  r.control->request_stop();
  CHECK(r.read_reply() == "421 4.3.2 Service shutting down\r\n");
  CHECK(r.closes());
}

TEST_CASE("net: hang ends at the idle timeout with 421 4.4.2") {
  rig r("limits: {idle_timeout: 200ms}\nrules:\n  - {name: stuck, on: mail, hang: true}\n");
  r.read_reply();
  r.say("EHLO c");
  r.send("MAIL FROM:<a@x>\r\n");
  CHECK(r.read_reply().rfind("421 4.4.2 ", 0) == 0);
  CHECK(r.closes());
  CHECK(r.transcript_has("timeout while hanging"));
}

TEST_CASE("net: drip writes a reply a few bytes at a time, split in two writes") {
  SUBCASE("drip") {
    rig r("rules:\n  - {name: drip, on: noop, drip: {bytes: 4, every: 1ms}}\n");
    r.read_reply();
    r.say("EHLO c");
    r.send("NOOP\r\n");
    std::size_t pieces = 0;
    std::string got;
    r.run_until([&] {
      char buf[64];
      asio::error_code ec;
      const std::size_t n = r.client->read_some(asio::buffer(buf), ec);
      if (n > 0) {
        CHECK(n <= 4);  // each read sees one 4-byte write at most
        ++pieces;
        got.append(buf, n);
      }
      return got.find("\r\n") != std::string::npos;
    });
    CHECK(got == "250 2.0.0 Ok\r\n");
    CHECK(pieces == 4);  // 14 octets in writes of 4
  }
  SUBCASE("split") {
    rig r("rules:\n  - {name: split, on: noop, split: true}\n");
    r.read_reply();
    r.say("EHLO c");
    r.send("NOOP\r\n");
    // The first half arrives alone; the second follows after the split pause.
    CHECK(r.read_until("250 2.0", 2s) == "250 2.0");
    r.drain();
    CHECK(r.received.empty());
    CHECK(r.read_until("\r\n") == ".0 Ok\r\n");
  }
}

TEST_CASE("net: reset closes with RST; disconnect closes before or after the reply") {
  SUBCASE("reset") {
    rig r("rules:\n  - {name: rst, on: mail, reset: true}\n");
    r.read_reply();
    r.say("EHLO c");
    r.send("MAIL FROM:<a@x>\r\n");
    CHECK(r.closes());
    CHECK(*r.ended == asio::error::connection_reset);
    CHECK(r.received.empty());
    CHECK(r.client->was_reset());
  }
  SUBCASE("before the reply") {
    rig r("rules:\n  - {name: drop, on: mail, disconnect: before_reply}\n");
    r.read_reply();
    r.say("EHLO c");
    r.send("MAIL FROM:<a@x>\r\n");
    CHECK(r.closes());
    CHECK(*r.ended == asio::error::eof);
    CHECK(r.received.empty());
  }
  SUBCASE("after the reply") {
    rig r("rules:\n  - {name: drop, on: mail, disconnect: after_reply}\n");
    r.read_reply();
    r.say("EHLO c");
    CHECK(r.say("MAIL FROM:<a@x>") == "250 2.1.0 Sender ok\r\n");
    CHECK(r.closes());
    CHECK(*r.ended == asio::error::eof);
  }
}

TEST_CASE("net: abort_after_bytes drops the connection mid-data and keeps no message") {
  rig r("rules:\n  - {name: cut, on: data, abort_after_bytes: 100}\n");
  r.read_reply();
  r.say("EHLO c");
  r.say("MAIL FROM:<a@x>");
  r.say("RCPT TO:<b@x>");
  CHECK(r.say("DATA").rfind("354 ", 0) == 0);
  r.send(std::string(60, 'a') + "\r\n");
  r.run_until([&] { return false; }, 100ms);
  CHECK_FALSE(r.done);  // 62 octets: under the budget
  r.send(std::string(60, 'b') + "\r\n");
  CHECK(r.closes());
  CHECK(r.received.empty());  // no reply to the cut message
  CHECK(r.store->messages().empty());
  CHECK(r.transcript_has("connection dropped after 124 octets"));
}

TEST_CASE("net: shutdown of an idle session answers 421 4.3.2 and closes") {
  rig r;
  r.read_reply();
  r.say("EHLO c");
  r.control->request_stop();
  CHECK(r.read_reply() == "421 4.3.2 Service shutting down\r\n");
  CHECK(r.closes());
}

TEST_CASE("net: the idle timeout answers 421 4.4.2 and closes") {
  rig r("limits: {idle_timeout: 200ms}\n");
  r.read_reply();
  const auto start = steady::now();
  CHECK(r.read_reply().rfind("421 4.4.2 ", 0) == 0);
  CHECK(steady::now() - start >= 150ms);
  CHECK(r.closes());
}

TEST_CASE("net: early_talker reject: a client that speaks first gets 554, one that waits 220") {
  SUBCASE("early") {
    rig r("quirks: {early_talker: reject}\n");
    r.send("EHLO eager\r\n");
    CHECK(r.read_reply().rfind("554 5.5.0 ", 0) == 0);
    CHECK(r.transcript_has("client spoke before the banner"));
  }
  SUBCASE("patient") {
    rig r("quirks: {early_talker: reject}\n");
    CHECK(r.read_reply(3s).rfind("220 ", 0) == 0);
    CHECK(r.say("QUIT").rfind("221 ", 0) == 0);
  }
}

TEST_CASE("net: STARTTLS restarts the session inside TLS over the same stream") {
  rig r("", true);
  r.read_reply();
  CHECK(r.say("EHLO c").find("250 STARTTLS\r\n") != std::string::npos);
  r.send("MAIL FROM:<before@x>\r\n");
  r.read_reply();
  CHECK(r.say("STARTTLS") == "220 2.0.0 Ready to start TLS\r\n");

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<memory_stream&> tls(*r.client, ctx);
  std::optional<asio::error_code> shook;
  tls.async_handshake(asio::ssl::stream_base::client,
                      [&](const asio::error_code& ec) { shook = ec; });
  REQUIRE(r.run_until([&] { return shook.has_value(); }));
  REQUIRE_FALSE(*shook);

  // A line through TLS, and its reply read back through TLS.
  std::string in;
  std::array<char, 4096> buf{};
  bool reading = false;
  std::optional<asio::error_code> read_end;
  auto pump = [&] {
    if (reading || read_end) return;
    reading = true;
    tls.async_read_some(asio::buffer(buf), [&](const asio::error_code& ec, std::size_t n) {
      in.append(buf.data(), n);
      reading = false;
      if (ec) read_end = ec;
    });
  };
  auto whole_reply = [&]() -> std::size_t {  // the length of the first whole reply in `in`
    for (std::size_t at = 0; at < in.size();) {
      const auto end = in.find("\r\n", at);
      if (end == std::string::npos) return 0;
      if (end - at >= 4 && in[at + 3] == ' ') return end + 2;
      at = end + 2;
    }
    return 0;
  };
  auto exchange = [&](std::string line) {
    line += "\r\n";
    std::optional<asio::error_code> wrote;
    asio::async_write(tls, asio::buffer(line),
                      [&](const asio::error_code& ec, std::size_t) { wrote = ec; });
    r.run_until([&] {
      pump();
      return wrote && (whole_reply() > 0 || read_end);
    });
    const std::size_t n = whole_reply();
    std::string reply = in.substr(0, n);
    in.erase(0, n);
    return reply;
  };
  // RFC 3207 4.2: the session starts over; MAIL before EHLO is a bad sequence again.
  CHECK(exchange("MAIL FROM:<a@x>").rfind("503 ", 0) == 0);
  const std::string ehlo = exchange("EHLO c");
  CHECK(ehlo.find("250 ") != std::string::npos);
  CHECK(ehlo.find("STARTTLS") == std::string::npos);  // no longer offered
  CHECK(exchange("NOOP") == "250 2.0.0 Ok\r\n");
  bool marked = false;
  for (const auto& line : r.record().lines)
    if (line.text == "NOOP") marked = line.tls;
  CHECK(marked);
  CHECK(r.transcript_has("TLS established: TLSv1.3"));
  CHECK(exchange("QUIT") == "221 2.0.0 Bye\r\n");
  // The session ends with close_notify; the client's read ends, nothing is left pending.
  CHECK(r.run_until([&] {
    pump();
    return r.done && read_end.has_value();
  }));
}
