// A rule's effects, performed: the engine describes them (scenario::effects), these carry them
// out on a session — delay, hang, reset, disconnect before or after the reply, drip, split,
// and abort_after_bytes. They decide nothing about the protocol: the reply is still sent
// through the core (respond), which keeps every state change.
// Internal to net/ (includes asio): session.cpp and tests/net/ include it.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "scenario/rules.hpp"
#include "smtp/reply.hpp"
#include "smtp/server_connection.hpp"

namespace smtpmock::net {

/// How a read that ignores its input ended (for `hang`).
enum class read_end {
  data,       ///< bytes arrived (and were ignored)
  closed,     ///< the client closed or reset the connection
  timed_out,  ///< the idle or command deadline passed
  session,    ///< the session's total deadline passed
  stopped,    ///< the server is shutting down
};

/// `abort_after_bytes`: the connection drops once that many octets of message data arrived.
class data_budget {
 public:
  /// A rule set the budget for the coming transfer.
  void arm(std::size_t octets) {
    limit_ = octets;
    seen_ = 0;
  }
  /// The transfer ended (the message event): no budget until a rule sets one again.
  void clear() { limit_.reset(); }
  /// Counts `n` octets of message data; true when the budget is spent (drop the connection).
  bool spent_by(std::size_t n) {
    if (!limit_) return false;
    seen_ += n;
    return seen_ >= *limit_;
  }
  /// Octets counted so far.
  std::size_t seen() const { return seen_; }

 private:
  std::optional<std::size_t> limit_;
  std::size_t seen_ = 0;
};

/// What a session lends the effects it performs.
class effect_host {
 public:
  virtual smtp::server_connection& core() = 0;
  /// An info line in the session's transcript.
  virtual void note(std::string text) = 0;
  /// A log line `event=rule rule=... effect=...` at info level.
  virtual void log_effect(const std::string& rule, const char* effect) = 0;
  /// Moves the core's replies into the write buffer (and the transcript, marked with `rule`).
  virtual void take_output(const std::string& rule) = 0;
  /// Writes every pending reply.
  virtual asio::awaitable<void> flush() = 0;
  /// Writes `bytes` as they are (one piece of a shaped reply); false once writing failed.
  virtual asio::awaitable<bool> write_piece(std::string bytes) = 0;
  /// The replies waiting to be written, moved out.
  virtual std::string take_pending() = 0;
  /// Waits `d`, cut short by shutdown.
  virtual asio::awaitable<void> pause(std::chrono::milliseconds d) = 0;
  /// One read under the session's deadlines whose bytes are dropped.
  virtual asio::awaitable<read_end> read_ignoring() = 0;
  /// The connection ends with RST instead of FIN.
  virtual void reset_on_close() = 0;
  /// The session's abort_after_bytes budget, checked on every read of message data.
  virtual data_budget& budget() = 0;
};

/// The pause between the two writes of a `split: true` reply, so they leave as two segments.
inline constexpr std::chrono::milliseconds split_pause{50};

/// The effects that come before the reply (delay; hang; reset or disconnect before it; a
/// custom reply text, rendered into `reply`). Returns false when the event gets no reply.
asio::awaitable<bool> perform_before_reply(effect_host& host, const std::string& rule,
                                           const scenario::effects& fx, smtp::reply& reply);

/// Whether the reply leaves apart from the ones before it (drip or split): the caller flushes
/// those first and calls perform_after_reply once the reply is in the write buffer.
bool shapes_reply(const scenario::effects& fx);

/// The effects after the reply was given to the core: a dripped or split write of it, and a
/// disconnect after it.
asio::awaitable<void> perform_after_reply(effect_host& host, const std::string& rule,
                                          const scenario::effects& fx);

}  // namespace smtpmock::net
