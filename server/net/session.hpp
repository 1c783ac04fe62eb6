// One SMTP session: the coroutine that drives smtp::server_connection over a TCP socket.
// Internal to net/ (it includes asio): only server.cpp and session.cpp include it.
// The coroutine owns its socket by value and runs on the socket's strand; everything it
// touches besides the store (own mutex) and its session_control is local to the session.
// Invariant: replies are flushed before every blocking read (RFC 2920 pipelining).
// The socket is read and written through a TLS stream once TLS is up (STARTTLS or implicit);
// a session never runs plaintext and TLS bytes through the same read.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "net/tls_context.hpp"
#include "scenario/engine.hpp"
#include "store/message_store.hpp"
#include "store/metrics.hpp"

namespace smtpmock::net {

/// The handle the server keeps to stop a live session. Touched only on the session's strand.
struct session_control {
  explicit session_control(const asio::any_io_executor& strand) : wake(strand) {}

  /// Raced against every read: its expiry is the idle timeout, request_stop() makes it fire.
  asio::steady_timer wake;
  /// Set by request_stop(); the session answers 421 4.3.2 at its next read.
  bool stop_requested = false;

  /// Asks the session to end with "421 4.3.2 Service shutting down" (run on the strand).
  void request_stop() {
    stop_requested = true;
    wake.expires_at(asio::steady_timer::time_point::min());  // also fires a wait not yet begun
  }
};

/// What a session gets from the server when it is accepted.
struct session_params {
  /// The scenario this session runs on to its end, even if the server's is replaced.
  std::shared_ptr<scenario::engine> engine;
  std::shared_ptr<store::message_store> store;
  /// Counters for GET /metrics; null: none are kept.
  std::shared_ptr<store::metrics> metrics;
  std::shared_ptr<session_control> control;
  std::string listener;     ///< the bound address, for logs
  bool over_limit = false;  ///< the connection limit was exceeded: answer 421 at the banner
  /// The server's TLS contexts; null: STARTTLS is answered 454 and no implicit TLS.
  std::shared_ptr<tls_contexts> tls;
  /// Implicit TLS (port 465 style, RFC 8314 3.3): the handshake comes before the banner.
  bool implicit_tls = false;
  /// Live sessions of the server and its connection limit: near the limit (80 %) every
  /// timeout is cut to the scenario's stress_timeout. Null: never under stress.
  const std::atomic<std::size_t>* live_connections = nullptr;
  std::size_t max_connections = 0;
};

/// Runs one session to its end. Never throws: failures are logged and end only this session.
asio::awaitable<void> run_session(asio::ip::tcp::socket socket, session_params params);

}  // namespace smtpmock::net
