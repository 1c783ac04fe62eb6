// libFuzzer target: the message-data round trips, for any message bytes in any chunking.
// - DATA: smtp::encode_message_data (the client's CRLF normalisation and dot-stuffing) then
//   smtp::data_decoder (the server's unstuffing) gives back the message with its line ends
//   normalised (a lone CR or LF made CRLF, a final CRLF added), ends exactly at the end of the
//   encoding, sees no bare line end, and flags a long line exactly when a wire line (with its
//   CRLF) is over 1000 octets (RFC 5321 4.5.3.1.6).
// - The same bytes through a server_connection session: DATA, then BDAT chunks of the raw
//   message (RFC 3030: binary, unstuffed) cut by the input's chunk table, each capture equal to
//   what was sent.
// A violation traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "smtp/client_connection.hpp"
#include "smtp/data_decoder.hpp"
#include "smtp/limits.hpp"
#include "smtp/server_connection.hpp"

using namespace smtpmock;

namespace {

constexpr std::size_t size_limit = 1 << 20;
/// Reads (DATA) and chunks (BDAT) cut by the chunk table; the rest of the message is one more.
constexpr std::size_t max_pieces = 64;

/// What the encoder promises to deliver, written independently of it: CRLF line ends only.
std::string normalise(std::string_view m) {
  std::string out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r' || m[i] == '\n') {
      if (m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n') ++i;
      out += "\r\n";
    } else {
      out += m[i];
    }
  }
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  return out;
}

/// Whether a line of `wire` (before the end-of-data line) is longer than the text-line limit.
bool has_long_line(std::string_view wire) {
  std::size_t start = 0;
  while (start < wire.size()) {
    auto lf = wire.find('\n', start);
    if (lf == std::string_view::npos) lf = wire.size() - 1;
    if (lf - start + 1 > smtp::limits::text_line) return true;
    start = lf + 1;
  }
  return false;
}

void check_decoder(fuzz::fuzz_input& in, std::string_view message) {
  const std::string expected = normalise(message);
  const std::string wire = smtp::encode_message_data(message);
  fuzz::require(wire.size() >= 3 && wire.substr(wire.size() - 3) == ".\r\n",
                "encoding does not end with the end-of-data line");
  smtp::data_decoder decoder(size_limit, smtp::bare_lf_mode::reject);
  std::size_t fed = 0;
  bool ended = false;
  std::string buffer;
  std::size_t pos = 0;
  while (!ended && fed < wire.size()) {
    // Like server_connection: unconsumed input stays, new bytes are appended.
    buffer.erase(0, pos);
    pos = 0;
    const std::size_t n = std::min(in.next_size(), wire.size() - fed);
    buffer.append(wire, fed, n);
    fed += n;
    ended = decoder.feed(buffer, pos);
  }
  fuzz::require(ended, "decoder did not see the end of data");
  fuzz::require(fed == wire.size() && pos == buffer.size(), "decoder ended before the end");
  fuzz::require(decoder.message() == expected, "DATA round trip changed the message");
  fuzz::require(decoder.size() == expected.size(), "decoder size differs from the message");
  fuzz::require(!decoder.bare_line_end(), "decoder saw a bare line end the encoder made");
  fuzz::require(!decoder.too_big(), "decoder over a limit it cannot reach");
  fuzz::require(decoder.line_too_long() == has_long_line(wire.substr(0, wire.size() - 3)),
                "decoder's long-line flag disagrees with the wire");
}

/// Runs the session until it needs data; returns the codes of the replies sent and records the
/// last captured message.
struct session {
  std::shared_ptr<const smtp::personality> p;
  smtp::server_connection conn;
  std::string captured;
  bool got_message = false;

  static std::shared_ptr<const smtp::personality> make() {
    smtp::personality p = smtp::default_personality();
    p.extensions = {"PIPELINING", "SIZE " + std::to_string(size_limit), "8BITMIME", "CHUNKING",
                    "ENHANCEDSTATUSCODES"};
    return std::make_shared<const smtp::personality>(std::move(p));
  }
  static smtp::connection_options options() {
    smtp::connection_options o;
    o.session_id = "F1";
    o.client_address = "127.0.0.1:4000";
    o.client_ip = "127.0.0.1";
    o.new_message_id = [] { return std::string("M1"); };
    return o;
  }
  session() : p(make()), conn(p, options()) {}

  /// Feeds `bytes` and answers every event with its proposal; returns the last reply code.
  int feed(std::string_view bytes) {
    conn.receive_data(bytes);
    int last = 0;
    for (int guard = 0; guard < 100000; ++guard) {
      smtp::event ev = conn.next_event();
      if (ev.kind == smtp::event_kind::need_data || ev.kind == smtp::event_kind::closed)
        return last;
      fuzz::require(ev.kind != smtp::event_kind::start_tls, "unexpected STARTTLS");
      if (ev.kind == smtp::event_kind::message) {
        captured = ev.message->data;
        got_message = true;
      }
      last = ev.proposed.code;
      conn.respond(ev.proposed);
      conn.take_output();
    }
    fuzz::fail("session makes no progress");
  }
};

void check_session(fuzz::fuzz_input& in, std::string_view message) {
  session s;
  s.feed("");
  fuzz::require(s.feed("EHLO fuzz.example\r\n") == 250, "EHLO refused");
  fuzz::require(s.feed("MAIL FROM:<a@fuzz.example>\r\n") == 250, "MAIL refused");
  fuzz::require(s.feed("RCPT TO:<b@fuzz.example>\r\n") == 250, "RCPT refused");
  fuzz::require(s.feed("DATA\r\n") == 354, "DATA refused");
  const std::string wire = smtp::encode_message_data(message);
  int code = 0;
  std::size_t reads = 0;
  for (std::size_t at = 0; at < wire.size(); ++reads) {
    // Past max_pieces reads the rest goes in one, which bounds the time an input takes.
    const std::size_t piece = reads < max_pieces ? in.next_size() : wire.size();
    const std::size_t n = std::min(piece, wire.size() - at);
    code = s.feed(std::string_view(wire).substr(at, n));
    at += n;
  }
  fuzz::require(s.got_message, "DATA: no message after the end of data");
  const bool long_line = has_long_line(wire.substr(0, wire.size() - 3));
  fuzz::require(code == (long_line ? 500 : 250), "DATA: unexpected end-of-data reply");
  fuzz::require(s.captured == normalise(message), "DATA: the captured message differs");

  // BDAT: the raw bytes, no normalisation, in chunks of the table's sizes (the last one LAST).
  s.got_message = false;
  fuzz::require(s.feed("MAIL FROM:<a@fuzz.example>\r\n") == 250, "MAIL refused after DATA");
  fuzz::require(s.feed("RCPT TO:<b@fuzz.example>\r\n") == 250, "RCPT refused after DATA");
  std::size_t at = 0;
  std::size_t chunks = 0;
  do {
    const std::size_t piece = ++chunks < max_pieces ? in.next_size() : message.size();
    const std::size_t n = std::min(piece, message.size() - at);
    const bool last = at + n == message.size();
    std::string chunk = "BDAT " + std::to_string(n) + (last ? " LAST" : "") + "\r\n";
    chunk.append(message.substr(at, n));
    code = s.feed(chunk);
    at += n;
    fuzz::require(code == 250, "BDAT: a chunk was refused");
  } while (at < message.size());
  fuzz::require(s.got_message, "BDAT: no message after BDAT LAST");
  fuzz::require(s.captured == message, "BDAT: the captured message differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::fuzz_input in(data, size, 0);
  const std::string_view message = in.payload();
  check_decoder(in, message);
  check_session(in, message);
  return 0;
}
