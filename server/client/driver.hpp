// The asio driver of smtp::client_connection: resolve, connect, implicit TLS or STARTTLS, then
// write what the core wrote and read until it finishes, every wait bounded by a timeout.
// This header includes no asio and no OpenSSL (only driver.cpp does), so send, load, check and
// record compile quickly; one io_context runs one session (run_one) or many (run_many).
// Invariant: the driver never interprets SMTP; every protocol decision is the core's.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/client_connection.hpp"

namespace smtpmock::client {

/// The TLS versions a handshake may use (swaks' --tls-protocol); by default TLS 1.2 and 1.3.
struct tls_versions {
  bool sslv2 = false;
  bool sslv3 = false;
  bool tlsv1 = false;
  bool tlsv1_1 = false;
  bool tlsv1_2 = true;
  bool tlsv1_3 = true;
};

/// The address family to connect with (swaks' -4, -6).
enum class ip_family { any, v4, v6 };

/// Where to connect and how.
struct connection_settings {
  std::string host = "127.0.0.1";  ///< name or address; the TLS server name when a name
  std::uint16_t port = 25;
  /// Connect to this address instead of resolving `host` (a resolved MX); empty: resolve.
  std::string address;
  std::chrono::milliseconds timeout{30000};  ///< each connect, handshake and reply wait
  bool tls_on_connect = false;               ///< implicit TLS (RFC 8314)
  bool tls_verify = false;  ///< verify the certificate chain and the host name (swaks: off)
  std::string tls_sni;      ///< the SNI name to send; empty: `host` when it is a name
  tls_versions versions;
  std::string tls_cert;  ///< a client certificate (PEM), with tls_key
  std::string tls_key;
  std::string tls_ca_path;  ///< CAs for --tls-verify: a PEM file or a hashed directory
  std::string tls_cipher;   ///< OpenSSL's cipher list for TLS 1.2 and older; empty: its default
  ip_family family = ip_family::any;
  std::string local_address;     ///< bind to this address before connecting; empty: any
  std::uint16_t local_port = 0;  ///< bind to this port; 0: any
};

/// Why the TLS settings cannot be used (an unreadable certificate, key or CA path), or nullopt.
std::optional<std::string> check_tls_settings(const connection_settings& where);

/// What a TLS handshake established.
struct tls_info {
  std::string version;  ///< "TLSv1.3"
  std::string cipher;   ///< "TLS_AES_256_GCM_SHA384"
  std::string subject;  ///< the peer certificate's subject, one line ("CN=mx.example")
  std::string issuer;
  std::string not_after;     ///< ISO 8601 UTC ("2026-01-31T12:00:00Z"), empty when unknown
  long days_left = 0;        ///< until not_after; negative when expired
  bool verified = false;     ///< the chain and host name verified against the system's CAs
  std::string verify_error;  ///< why not ("self-signed certificate"), empty when verified
};

/// Why a connection could not be made.
enum class connect_failure { none, resolve, refused, timeout, other };

/// An event of a session with its timing.
struct timed_event {
  const smtp::client_event& event;
  double at_ms;       ///< since the session started (before the connect)
  double latency_ms;  ///< received: since the command was written (banner: since the connect);
                      ///< negative for sent events
};

/// Callbacks of a running session; all run on the thread that runs the io_context.
struct session_observer {
  virtual ~session_observer() = default;
  /// A line of information (swaks' "===" lines).
  virtual void info(std::string_view /*text*/) {}
  /// A command sent or a reply received.
  virtual void event(const timed_event& /*ev*/) {}
};

/// An observer that keeps the first reply of each stage (for check's and record's verdicts).
struct reply_collector : session_observer {
  void event(const timed_event& t) override {
    if (t.event.kind != smtp::client_event_kind::received) return;
    replies.try_emplace(t.event.stage, t.event.parsed);
  }
  std::map<smtp::client_stage, smtp::reply> replies;
};

/// How one session went.
struct session_report {
  bool connected = false;
  connect_failure failure = connect_failure::none;
  std::string connect_error;  ///< text of the connect failure
  double connect_ms = 0;      ///< from start to established TCP (including resolution)
  double total_ms = 0;
  std::string peer_ip;  ///< the address connected to
  std::uint16_t peer_port = 0;
  std::string local_ip;  ///< the connection's local end (IPv4-mapped shown as IPv4)
  std::uint16_t local_port = 0;
  std::optional<tls_info> tls;
  std::string tls_error;  ///< a failed handshake's reason
  smtp::client_result result;
  smtp::reply banner;
  smtp::reply ehlo;
  std::vector<std::string> extensions;
  std::vector<std::string> auth_mechanisms;
  std::string auth_mechanism;
  bool authenticated = false;
  /// swaks' exit code of the session (client/swaks.hpp).
  int exit_code() const;
};

/// Runs one session to its end on a fresh io_context (blocking). An empty `options.ehlo_name`
/// becomes the address literal of the connection's local address once it is connected
/// (RFC 5321 4.1.4: "[127.0.0.1]", "[IPv6:::1]"); run_many does the same for each session.
session_report run_one(const connection_settings& where, smtp::client_options options,
                       session_observer& observer);

/// Runs `sessions` sessions, at most `concurrency` at a time, on one thread. `options_for(i)`
/// makes the options of session i; `done(i, report)` is called as each ends; `tick()` every
/// `tick_every` while sessions run (a progress bar). Blocking.
void run_many(const connection_settings& where, std::size_t sessions, std::size_t concurrency,
              const std::function<smtp::client_options(std::size_t)>& options_for,
              session_observer& observer,
              const std::function<void(std::size_t, session_report&&)>& done,
              const std::function<void()>& tick, std::chrono::milliseconds tick_every);

/// HMAC-MD5 (RFC 2104) of `message` keyed with `key`, lowercase hex (CRAM-MD5's digest).
std::string hmac_md5_hex(std::string_view key, std::string_view message);

/// "host", "host:port", "[v6]:port" or "v6" split into host and port (port 0 when absent);
/// nullopt on a malformed port.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text);

}  // namespace smtpmock::client
