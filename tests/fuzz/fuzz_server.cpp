// libFuzzer target: smtp::server_connection fed arbitrary bytes in arbitrary chunkings, driven
// as net/session.cpp drives it (next_event -> respond(proposed) -> take_output; start_tls ->
// tls_started or abandon; need_data -> the next chunk, then eof or an interrupt), with a
// personality that advertises every extension. Invariants (a violation traps):
// - every respond() writes exactly one well-formed reply with the code sent (reply_check.hpp),
//   and nothing is written outside respond();
// - the input buffered when the core asks for more is bounded (limits::auth_line);
// - a captured message is no larger than the size limit, and a message event comes only after
//   an end of data was fed (CRLF "." CRLF after a 354, or a BDAT ... LAST);
// - the loop makes progress: events are bounded by the input's size, and eof closes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "reply_check.hpp"
#include "smtp/limits.hpp"
#include "smtp/server_connection.hpp"

using namespace smtpmock;

namespace {

// Option bits of flag byte 0.
constexpr std::uint8_t tls_available = 1 << 0;
constexpr std::uint8_t handshake_ok = 1 << 1;
constexpr std::uint8_t tls_required = 1 << 2;
constexpr std::uint8_t auth_required = 1 << 3;
constexpr std::uint8_t bare_lf_accept = 1 << 4;
constexpr std::uint8_t pipelining_bits = 3 << 5;
constexpr std::uint8_t implicit_tls = 1 << 7;

constexpr std::size_t message_limit = 64 * 1024;

std::shared_ptr<const smtp::personality> make_personality(std::uint8_t flags) {
  smtp::personality p = smtp::default_personality();
  p.extensions = {"PIPELINING",
                  "SIZE " + std::to_string(message_limit),
                  "8BITMIME",
                  "ENHANCEDSTATUSCODES",
                  "AUTH PLAIN LOGIN CRAM-MD5",
                  "STARTTLS",
                  "SMTPUTF8",
                  "DSN",
                  "CHUNKING"};
  p.auth.accept_any = true;
  p.auth.required = (flags & auth_required) != 0;
  p.tls.required = (flags & tls_required) != 0;
  p.quirks.bare_lf =
      (flags & bare_lf_accept) ? smtp::bare_lf_mode::accept : smtp::bare_lf_mode::reject;
  switch ((flags & pipelining_bits) >> 5) {
    case 1:
      p.quirks.pipelining = smtp::pipelining_mode::hold_until_data;
      break;
    case 2:
      p.quirks.pipelining = smtp::pipelining_mode::reject;
      break;
    default:
      p.quirks.pipelining = smtp::pipelining_mode::normal;
  }
  return std::make_shared<const smtp::personality>(std::move(p));
}

/// Occurrences of `needle` in `hay` (case-insensitive for letters when `fold`).
std::size_t count(std::string_view hay, std::string_view needle, bool fold = false) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
  std::size_t n = 0;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    bool same = true;
    for (std::size_t j = 0; j < needle.size() && same; ++j)
      same = fold ? lower(hay[i + j]) == lower(needle[j]) : hay[i + j] == needle[j];
    n += same;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::fuzz_input in(data, size, 2);
  const std::uint8_t flags = in.flag(0);
  // Flag byte 1: 0 ends the input with eof; n > 0 interrupts (idle timeout) after chunk n.
  const std::size_t interrupt_after = in.flag(1) % 32;

  int ids = 0;
  smtp::connection_options o;
  o.session_id = "F1";
  o.client_address = "127.0.0.1:4000";
  o.client_ip = "127.0.0.1";
  o.tls_available = (flags & tls_available) != 0;
  o.tls = (flags & implicit_tls) != 0;
  if (o.tls) {
    o.tls_version = "TLSv1.3";
    o.tls_cipher = "TLS_AES_256_GCM_SHA384";
  }
  o.new_message_id = [&ids] { return "M" + std::to_string(++ids); };
  o.hmac_md5 = [](std::string_view key, std::string_view message) {
    return "hmac(" + std::string(key) + "," + std::string(message) + ")";
  };
  smtp::server_connection conn(make_personality(flags), std::move(o));
  const bool bare_lf_ends = (flags & bare_lf_accept) != 0;

  std::string fed;  // everything handed to the core so far
  std::size_t chunks = 0;
  bool eof = false;
  bool interrupted = false;
  bool data_open = false;  // a 354 was sent and its message not yet ended
  std::size_t data_messages = 0, bdat_messages = 0;

  const std::size_t budget = 4 * in.payload().size() + 64;
  for (std::size_t step = 0;; ++step) {
    fuzz::require(step <= budget, "event loop makes no progress");
    smtp::event ev = conn.next_event();
    switch (ev.kind) {
      case smtp::event_kind::connect:
      case smtp::event_kind::command:
      case smtp::event_kind::auth_response:
      case smtp::event_kind::interrupted:
      case smtp::event_kind::message: {
        if (ev.kind == smtp::event_kind::message) {
          fuzz::require(ev.message != nullptr, "message event without a message");
          fuzz::require(ev.message->data.size() <= message_limit,
                        "captured message over the size limit");
          if (data_open) {
            ++data_messages;
            std::size_t ends = count(fed, "\n.\r\n");
            if (bare_lf_ends) ends += count(fed, "\n.\n");
            fuzz::require(data_messages <= ends, "message accepted before end of data");
          } else {
            ++bdat_messages;
            fuzz::require(bdat_messages <= count(fed, " last", true),
                          "BDAT message accepted without BDAT LAST");
          }
          data_open = false;
        }
        const int code = ev.proposed.code;
        conn.respond(ev.proposed);
        fuzz::check_one_reply(conn.take_output(), code);
        if (ev.kind == smtp::event_kind::command && ev.command == smtp::verb::data && code == 354)
          data_open = true;
        if (code == 221 || code == 421)
          fuzz::require(conn.closing(), "a 221 or 421 did not close the session");
        break;
      }
      case smtp::event_kind::start_tls:
        fuzz::require(!conn.has_output(), "output written outside respond()");
        if (flags & handshake_ok)
          conn.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384");
        else
          conn.abandon();
        break;
      case smtp::event_kind::need_data:
        fuzz::require(!conn.has_output(), "output written outside respond()");
        fuzz::require(conn.buffered() <= smtp::limits::auth_line,
                      "buffered input over the longest line");
        fuzz::require(!eof && !interrupted, "need_data after eof or interrupt");
        if (in.more() && !(interrupt_after != 0 && chunks == interrupt_after)) {
          const std::string_view chunk = in.next_chunk();
          fed.append(chunk);
          conn.receive_data(chunk);
          ++chunks;
        } else if (interrupt_after != 0) {
          interrupted = true;
          conn.interrupt(smtp::make(smtp::stock::idle_timeout));
        } else {
          eof = true;
          conn.receive_eof();
        }
        break;
      case smtp::event_kind::closed:
        fuzz::require(!conn.has_output(), "output written outside respond()");
        fuzz::require(conn.closing(), "closed event while not closing");
        return 0;
    }
  }
}
