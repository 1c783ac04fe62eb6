// Reconnect storms: a client that, soon after the server answered 421, opens more than a few
// connections within a second (RFC 5321 4.5.4.1: after a failure a client retries later, not at
// once; a 421 is the server asking for exactly that). Shared by a server's sessions; no I/O,
// time comes in as arguments.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace smtpmock::net {

class reconnect_watch {
 public:
  using clock = std::chrono::steady_clock;
  /// A storm is more than this many connections within `window`...
  static constexpr std::size_t storm_connections = 5;
  static constexpr std::chrono::milliseconds window{1000};
  /// ...from a client the server answered 421 less than this long before.
  static constexpr std::chrono::seconds after_421{60};
  /// Clients remembered at once; beyond, the oldest knowledge is dropped (a flood of addresses
  /// must not grow the map without bound).
  static constexpr std::size_t max_clients = 10000;

  /// The server sent a 421 to a session of `ip`.
  void answered_421(const std::string& ip, clock::time_point now);
  /// A new connection from `ip`: the text of its reconnect-storm finding when it makes one (the
  /// connection that crosses the threshold; the count starts over after it).
  std::optional<std::string> connected(const std::string& ip, clock::time_point now);

 private:
  struct client {
    clock::time_point last_421;
    std::deque<clock::time_point> recent;  ///< connections within `window`, oldest first
  };
  std::mutex mutex_;
  std::unordered_map<std::string, client> clients_;
};

}  // namespace smtpmock::net
