// `smtpmock serve`: loads the scenario, opens the store and runs the network server until
// SIGINT/SIGTERM. Settings arrive already merged (flag > env > config file > default) and
// syntactically valid; this layer reports what only running can find (missing scenario,
// unusable spool, a port in use) and maps it to the exit codes of the contract.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "scenario/listeners.hpp"

namespace smtpmock::app {

/// Every serve setting, with its built-in default.
struct serve_settings {
  std::string smtp_listen = "127.0.0.1:1025";
  std::string smtps_listen;                    ///< empty or "off": no implicit-TLS listener
  std::string http_listen = "127.0.0.1:8025";  ///< empty or "off": no HTTP API
  std::string http_auth;                       ///< "user:password"; empty: no basic auth
  std::string
      http_cors;  ///< Access-Control-Allow-Origin of the API ("*" or an origin); empty: none
  std::string http_base_path;  ///< "/mail": every HTTP route under it; empty: at the root
  std::string tls_cert;        ///< empty (with tls_key): a self-signed certificate is generated
  std::string tls_key;
  std::string scenario = "default";
  std::string spool;  ///< empty: no spool
  std::size_t max_messages = 1000;
  std::size_t max_store_bytes = std::size_t{256} << 20;  ///< the messages' bytes kept in memory
  std::size_t max_connections = 0;  ///< 0: derived from the open-file limit (fd_limit.hpp)
  unsigned threads = 1;             ///< I/O threads (net/server.cpp: an io_context each)
  std::string log_level = "info";
  std::string log_format = "text";
  std::optional<unsigned long long> seed;  ///< absent: random, logged at start-up
  /// --listen flags if any, else SMTPMOCK_LISTEN, else the config file's `listeners:`; checked
  /// (addresses, names, options, conflicts) and each scenario resolvable. Empty: serve
  /// smtp_listen (and smtps_listen) as before; else these, plus a shorthand explicitly set.
  std::vector<scenario::listener_spec> listeners;
  bool smtp_listen_set = false;   ///< --smtp-listen given by flag, environment or config file
  bool smtps_listen_set = false;  ///< --smtps-listen given so (its value may still be "off")
};

/// Exit codes of `smtpmock serve`.
inline constexpr int exit_ok = 0;
inline constexpr int exit_runtime = 1;  ///< a listener could not be bound (or not healthy)
inline constexpr int exit_usage = 2;    ///< bad flags, config file, scenario or certificate

/// Runs the server; returns the process exit code. Logging must already be set up.
int run_serve(const serve_settings& settings);

/// `smtpmock healthcheck`: exit_ok when the server's /readyz at `http_listen` answers 200.
int run_healthcheck(const std::string& http_listen);

}  // namespace smtpmock::app
