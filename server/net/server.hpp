// The network server: listeners, one coroutine per SMTP session, graceful shutdown.
// This header is free of asio (pimpl) so app/ compiles without it. The server owns one
// io_context per I/O thread and deals sessions to them in turn; a session stays on its
// thread, so sessions never share a lock on the I/O path (the message store's short mutex is
// the only shared one).
// Invariant: after run() returns every session has ended or been force-stopped.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/tls_context.hpp"
#include "scenario/engine.hpp"
#include "store/message_store.hpp"
#include "store/metrics.hpp"

namespace asio {
class io_context;
}

namespace smtpmock::net {

/// One SMTP listener and the scenario its sessions start with.
struct listener_options {
  std::string address = "127.0.0.1:1025";  ///< "ADDR:PORT" or "[IPV6]:PORT"; port 0 = ephemeral
  /// The scenario (personality, rules and their counters) new sessions start with.
  std::shared_ptr<scenario::engine> engine;
  /// Implicit TLS (port 465 style, RFC 8314): every session starts with the TLS handshake.
  bool implicit_tls = false;
  /// Its name in the API, logs and metrics; empty: its bound port ("1025").
  std::string name;
  /// Whether STARTTLS is on offer here; false: answered 454 even when advertised (for clients
  /// that insist on it).
  bool starttls = true;
  /// Its own certificates (a per-listener tls-cert/tls-key); null: the server's.
  std::shared_ptr<tls_contexts> tls;
  /// The counters its sessions update (GET /metrics labels them with its name); null: the
  /// server's.
  std::shared_ptr<store::metrics> metrics;
};

/// Settings of the whole server.
struct server_options {
  std::vector<listener_options> listeners;
  unsigned threads = 0;               ///< 0: std::thread::hardware_concurrency()
  std::size_t max_connections = 100;  ///< live sessions across all listeners; more get 421
  /// How long sessions may linger after a shutdown request before the io_context is stopped.
  std::chrono::milliseconds shutdown_grace{1500};
  /// Called on SIGHUP (on an I/O thread) to reload the scenarios; may call set_scenario().
  std::function<void()> on_reload;
  /// Certificates for STARTTLS and implicit TLS; null: STARTTLS gets 454 and no listener may
  /// use implicit TLS.
  std::shared_ptr<tls_contexts> tls;
  /// Counters the sessions update (GET /metrics); null: none are kept.
  std::shared_ptr<store::metrics> metrics;
  /// Called once on the control strand when shutdown begins (SIGTERM, SIGINT, shutdown()),
  /// e.g. to close the HTTP listener; the io_context is stopped shortly after the SMTP
  /// sessions have ended, so connections other modules keep open cannot hold the exit.
  std::function<void()> on_shutdown;
};

/// A listener could not be opened; what() names the address and the OS error.
class bind_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class server {
 public:
  server(server_options options, std::shared_ptr<store::message_store> store);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds every listener, starts accepting and installs the SIGINT/SIGTERM handler.
  /// Throws bind_error (bad address, address in use, permission denied).
  void start();
  /// The bound address of each listener ("127.0.0.1:40123", "[::1]:1025"), after start().
  std::vector<std::string> bound_addresses() const;
  /// The name of each listener (its options' name, else its bound port), after start().
  std::vector<std::string> listener_names() const;
  /// Runs the io_context on the configured number of threads (the caller's thread is one of
  /// them) until shutdown has completed.
  void run();
  /// Requests a graceful shutdown, as SIGTERM does; safe from any thread.
  void shutdown();
  /// Replaces the scenario new sessions of listener `index` start with; sessions already
  /// open keep the one they started with.
  void set_scenario(std::size_t index, std::shared_ptr<scenario::engine> engine);
  /// The scenario new sessions of listener `index` start with.
  std::shared_ptr<scenario::engine> scenario(std::size_t index) const;
  /// The number of SMTP listeners.
  std::size_t listener_count() const;
  /// Sessions currently connected, across all listeners.
  std::size_t live_sessions() const;
  /// The number of threads run() uses.
  unsigned threads() const;

 private:
  friend asio::io_context& context(server& s);  // net/context.hpp
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace smtpmock::net
