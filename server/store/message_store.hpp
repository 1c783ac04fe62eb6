// Captured messages and session transcripts: bounded, thread-safe, in memory, optionally
// spooled to disk. A message is added before its 2xx is written, so a client that got 250
// always finds its message here. The oldest entries are dropped first when full.
// Never parses MIME and never blocks on anything but its own mutex (and the spool write).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "smtp/server_connection.hpp"

namespace smtpmock::store {

using clock = std::chrono::system_clock;

/// A message that received its final 2xx.
struct stored_message {
  std::string id;
  std::string session_id;
  clock::time_point received;
  smtp::envelope env;
  std::string data;  ///< raw RFC 5322 bytes after dot-unstuffing
};

enum class direction { in, out, info };

/// One transcript line: a line in (client), a reply line out (server), or a note.
struct transcript_line {
  clock::time_point at;
  direction dir = direction::info;
  std::string text;  ///< without CRLF; AUTH secrets already masked
  bool tls = false;
  std::string rule;  ///< the scenario rule that shaped this reply, if any
};

/// One SMTP session and its transcript.
struct session_record {
  std::string id;
  std::string client_address;
  std::string scenario;
  clock::time_point started;
  std::optional<clock::time_point> ended;
  std::vector<transcript_line> lines;
  std::vector<std::string> message_ids;
  bool truncated = false;  ///< lines beyond max_transcript_lines were dropped
};

/// Bounds of the store.
struct store_limits {
  std::size_t max_messages = 1000;
  std::size_t max_sessions = 1000;
  std::size_t max_transcript_lines = 10000;
};

class message_store {
 public:
  explicit message_store(store_limits limits = {},
                         std::optional<std::filesystem::path> spool_dir = std::nullopt);

  /// Stores a message (and spools <id>.eml and <id>.json when a spool is set).
  /// Throws std::runtime_error when the spool write fails, so the caller answers 451.
  void add_message(stored_message m);
  /// Messages, newest first.
  std::vector<std::shared_ptr<const stored_message>> messages() const;
  std::shared_ptr<const stored_message> message(const std::string& id) const;
  std::size_t message_count() const;
  /// Deletes all messages (ids empty) or the given ones; returns how many were removed.
  std::size_t delete_messages(const std::vector<std::string>& ids = {});

  /// Starts a session record.
  void open_session(const std::string& id, const std::string& client_address,
                    const std::string& scenario);
  /// Appends a transcript line (bounded per session).
  void append(const std::string& session_id, transcript_line line);
  /// Marks the session ended and spools its transcript as session-<id>.json when spooling.
  /// Never throws for a spool failure (it runs at teardown); see spool_failures().
  void close_session(const std::string& id);
  std::optional<session_record> session(const std::string& id) const;
  /// Sessions, newest first.
  std::vector<session_record> sessions() const;
  /// Sessions kept (open and ended).
  std::size_t session_count() const;

  /// Registers `on_added`, called after every add_message on the storing thread, outside the
  /// store's lock and before the client's 2xx is written: it must be cheap and must not throw
  /// (the HTTP API uses it to post a wake-up for long-polls to its own executor).
  void add_listener(std::function<void()> on_added);

  const store_limits& limits() const { return limits_; }
  /// Spool writes that failed where no caller could be told (close_session); for metrics.
  std::size_t spool_failures() const;

 private:
  store_limits limits_;
  std::optional<std::filesystem::path> spool_;
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<const stored_message>> messages_;  // oldest first
  std::deque<session_record> sessions_;                         // oldest first
  std::size_t spool_failures_ = 0;
  /// Replaced (never mutated) under mutex_, so add_message copies one pointer, not a vector.
  std::shared_ptr<const std::vector<std::function<void()>>> listeners_;
};

}  // namespace smtpmock::store
