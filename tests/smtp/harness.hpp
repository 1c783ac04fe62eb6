// Test harness: a server_connection driven in memory, answering every event with the
// core's own proposal and storing what got a 2xx, exactly as the network driver does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/server_connection.hpp"

namespace smtpmock::test {

struct harness {
  explicit harness(smtp::personality p = smtp::default_personality(), bool tls_available = true)
      : conn(std::make_shared<const smtp::personality>(std::move(p)), options(tls_available)) {}

  smtp::connection_options options(bool tls_available) {
    smtp::connection_options o;
    o.session_id = "S1";
    o.client_address = "127.0.0.1:4000";
    o.client_ip = "127.0.0.1";
    o.tls_available = tls_available;
    o.new_message_id = [this] { return "M" + std::to_string(++ids); };
    // A stand-in for HMAC-MD5: the core only compares digests, the real one lives in net/.
    o.hmac_md5 = [](std::string_view key, std::string_view message) {
      return "hmac(" + std::string(key) + "," + std::string(message) + ")";
    };
    return o;
  }

  /// Runs the session until it needs data or closes; returns the bytes written.
  std::string run() {
    for (int guard = 0; guard < 1000000; ++guard) {
      smtp::event ev = conn.next_event();
      if (ev.kind == smtp::event_kind::need_data) break;
      if (ev.kind == smtp::event_kind::start_tls) break;  // the test runs the handshake
      if (ev.kind == smtp::event_kind::closed) {
        closed = true;
        break;
      }
      events.push_back(ev);
      if (ev.kind == smtp::event_kind::message && ev.proposed.klass() == 2)
        stored.push_back(*ev.message);
      conn.respond(ev.proposed);
    }
    return conn.take_output();
  }
  /// The banner.
  std::string start() { return run(); }
  /// Feeds raw bytes and returns the replies they produced.
  std::string feed(std::string_view bytes) {
    conn.receive_data(bytes);
    return run();
  }
  /// Feeds one command line (CRLF added).
  std::string cmd(std::string_view line) { return feed(std::string(line) + "\r\n"); }
  std::string eof() {
    conn.receive_eof();
    return run();
  }

  int ids = 0;
  smtp::server_connection conn;
  std::vector<smtp::captured_message> stored;
  std::vector<smtp::event> events;
  bool closed = false;
};

/// The reply codes at the start of each reply's last line in `out`, in order.
inline std::vector<int> codes(std::string_view out) {
  std::vector<int> result;
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto end = out.find("\r\n", pos);
    if (end == std::string_view::npos) end = out.size();
    const auto line = out.substr(pos, end - pos);
    if (line.size() >= 4 && line[3] == ' ')
      result.push_back(std::stoi(std::string(line.substr(0, 3))));
    pos = end + 2;
  }
  return result;
}

}  // namespace smtpmock::test
