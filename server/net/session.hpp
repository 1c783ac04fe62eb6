// One SMTP session: the coroutine that drives smtp::server_connection over a session_stream
// (a TCP socket, or tests/net's in-memory stream). Internal to net/ (it includes asio):
// server.cpp, session.cpp and tests/net/ include it.
// The coroutine owns its stream and runs on the stream's strand; everything it touches besides
// the store (own mutex), the engine's shared counters and its session_control is its own.
// Invariant: replies are flushed before every blocking read (RFC 2920 pipelining).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "net/reconnects.hpp"
#include "net/session_stream.hpp"
#include "net/tls_context.hpp"
#include "scenario/engine.hpp"
#include "store/message_store.hpp"
#include "store/metrics.hpp"

namespace smtpmock::net {

/// What a session gets from the server when it is accepted.
struct session_params {
  /// The scenario this session runs on to its end, even if the server's is replaced.
  std::shared_ptr<scenario::engine> engine;
  std::shared_ptr<store::message_store> store;
  /// Counters for GET /metrics; null: none are kept.
  std::shared_ptr<store::metrics> metrics;
  std::shared_ptr<session_control> control;
  std::string listener;       ///< the bound address, for logs
  std::string listener_name;  ///< its name (the API's Listener.Name)
  bool over_limit = false;    ///< the connection limit was exceeded: answer 421 at the banner
  /// The server's TLS contexts; null: STARTTLS is answered 454 and no implicit TLS.
  std::shared_ptr<tls_contexts> tls;
  /// STARTTLS is on offer (with `tls`); false: answered 454 even when advertised.
  bool starttls = true;
  /// Implicit TLS (port 465 style, RFC 8314 3.3): the handshake comes before the banner.
  bool implicit_tls = false;
  /// Live sessions of the server and its connection limit: near the limit (80 %) every
  /// timeout is cut to the scenario's stress_timeout. Null: never under stress.
  const std::atomic<std::size_t>* live_connections = nullptr;
  std::size_t max_connections = 0;
  /// The server's watch over clients that reconnect at once after a 421; null: none.
  reconnect_watch* reconnects = nullptr;
};

/// Runs one session to its end. Never throws: failures are logged and end only this session.
asio::awaitable<void> run_session(std::unique_ptr<session_stream> stream, session_params params);
/// The stream of a session over an accepted TCP socket.
std::unique_ptr<session_stream> tcp_session_stream(asio::ip::tcp::socket socket);

}  // namespace smtpmock::net
