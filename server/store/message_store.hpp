// Captured messages and session transcripts: bounded, thread-safe, in memory, optionally
// spooled to disk. A message is added before its 2xx is written, so a client that got 250
// always finds its message here. The oldest entries are dropped first when full.
// Never parses MIME and never blocks on anything but its own mutex (and the spool write).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "smtp/server_connection.hpp"

namespace smtpmock::store {

using clock = std::chrono::system_clock;

/// The SMTP listener a session came in on.
struct listener_ref {
  std::string name;     ///< "submission", or the port ("1025") when it has no name
  std::string address;  ///< as bound: "127.0.0.1:1025", "[::1]:1587"
};

/// A finding of a session (smtp/findings.hpp) as stored: it follows transcript line `line`
/// (1-based, as shown; 0: before any line).
struct finding_record {
  std::string code;
  std::string severity;  ///< "error", "warning" or "info"
  std::string rfc;
  std::string text;
  std::size_t line = 0;
  clock::time_point at;
};

/// A message that received its final 2xx.
struct stored_message {
  std::string id;
  std::string session_id;
  listener_ref listener;  ///< its session's
  std::string scenario;   ///< the name of the scenario its session ran on
  clock::time_point received;
  smtp::envelope env;
  std::string data;  ///< raw RFC 5322 bytes after dot-unstuffing
  /// The session's transcript lines [from, to) of this message's transaction (set by the store:
  /// the lines since the session's previous message), so the spool writes a transcript once.
  std::size_t transcript_from = 0;
  std::size_t transcript_to = 0;
  /// The findings of its transaction (MAIL to the end of data), `line` in its session's
  /// transcript.
  std::vector<finding_record> findings;
};

enum class direction { in, out, info };

/// One transcript entry: a line in (client), a reply out (server), or a note. A multi-line
/// reply is recorded as one entry, its lines joined by CRLF, and shown as one line each (an
/// idle session's EHLO reply is one allocation, not ten); every other entry is one line.
struct transcript_line {
  clock::time_point at;
  direction dir = direction::info;
  std::string text;  ///< without a final CRLF; AUTH secrets already masked
  bool tls = false;
  std::string rule;  ///< the scenario rule that shaped this reply, if any
};

/// One SMTP session and its transcript.
struct session_record {
  std::string id;
  std::string client_address;
  std::string scenario;
  listener_ref listener;
  clock::time_point started;
  std::optional<clock::time_point> ended;
  std::vector<transcript_line> lines;
  std::vector<std::string> message_ids;
  std::vector<finding_record> findings;  ///< what the client did wrong, in order
  bool truncated = false;        ///< lines beyond max_transcript_lines or _bytes were dropped
  std::size_t bytes = 0;         ///< what `lines` cost, as counted against the store's byte bounds
  std::size_t shown = 0;         ///< lines as shown (a multi-line reply counts each line)
  std::size_t message_mark = 0;  ///< `shown` when the last message was stored
  std::vector<std::string> rules;  ///< the rules that shaped a reply, each once, in order
  /// How it ended (set at close): "quit" (221 to QUIT), "server" (the server dropped it: a rule,
  /// a 421, a timeout, shutdown) or "client" (the client left without QUIT); empty while live.
  std::string_view closed;  ///< a literal (closed_by); empty while live
};

/// How the session with these lines ended: see session_record::closed.
std::string_view closed_by(const std::vector<transcript_line>& lines);

/// How many lines `line` is shown as: one, or one per line of a multi-line reply.
std::size_t shown_lines(const transcript_line& line);
/// Calls `each(line, text)` for every line `entry` is shown as, in order.
template <class F>
void for_each_shown(const transcript_line& entry, F&& each) {
  std::string_view rest(entry.text);
  for (;;) {
    const auto end = rest.find("\r\n");
    each(entry, rest.substr(0, end));
    if (end == std::string_view::npos) return;
    rest.remove_prefix(end + 2);
  }
}

/// A session without its transcript, for listings.
struct session_summary {
  std::string id;
  std::string client_address;
  std::string scenario;
  listener_ref listener;
  clock::time_point started;
  std::optional<clock::time_point> ended;
  std::size_t line_count = 0;
  std::vector<std::string> message_ids;
  bool truncated = false;
  std::vector<finding_record> findings;
  std::vector<std::string> rules;  ///< session_record::rules
  std::string_view closed;         ///< session_record::closed
};

/// What changed in the store, as its watchers see it (the web UI's live events): a copy made
/// only while someone watches (message_store::set_watched).
struct store_change {
  enum class kind {
    message_added,     ///< message_id (and session_id)
    messages_deleted,  ///< message_ids; empty with `all`: every message
    session_opened,    ///< session_id
    line_appended,     ///< session_id, index (0-based, of the lines as shown), line
    finding_added,     ///< session_id, finding
    session_closed,    ///< session_id
  };
  kind what = kind::message_added;
  std::string session_id;
  std::string message_id;
  std::vector<std::string> message_ids;
  bool all = false;
  std::size_t index = 0;
  std::optional<transcript_line> line;
  std::optional<finding_record> finding;
};

/// Bounds of the store.
struct store_limits {
  std::size_t max_messages = 1000;
  /// The messages' bytes together: the oldest are dropped first to stay under it (the newest
  /// message is always kept, whatever its size).
  std::size_t max_message_bytes = std::size_t{256} << 20;
  std::size_t max_sessions = 1000;
  std::size_t max_transcript_lines = 10000;    ///< per session; later lines are dropped
  std::size_t max_transcript_bytes = 1 << 20;  ///< per session, as counted by line_cost()
  /// All transcripts together: the oldest ended sessions are dropped first to stay under it.
  std::size_t max_total_transcript_bytes = 64u << 20;
};

/// What one transcript line costs against the byte bounds: its texts plus the fixed part.
std::size_t line_cost(const transcript_line& line);

/// The spool directory cannot be used: not creatable, or locked by another running smtpmock.
class spool_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class message_store {
 public:
  /// With a spool: takes its lock (a second process on the same directory gets spool_error,
  /// never interleaved writes) and loads back the newest max_messages messages and
  /// max_sessions ended sessions already there, as Mailpit's database survives a restart.
  explicit message_store(store_limits limits = {},
                         std::optional<std::filesystem::path> spool_dir = std::nullopt);
  ~message_store();
  message_store(const message_store&) = delete;
  message_store& operator=(const message_store&) = delete;

  /// One line per spool file that could not be loaded back (corrupt, half-written), naming it.
  std::vector<std::string> spool_warnings() const;

  /// Stores a message (and spools <id>.eml and <id>.json when a spool is set).
  /// Throws std::runtime_error when the spool write fails, so the caller answers 451.
  void add_message(stored_message m);
  /// Messages, newest first.
  std::vector<std::shared_ptr<const stored_message>> messages() const;
  std::shared_ptr<const stored_message> message(const std::string& id) const;
  std::size_t message_count() const;
  /// The data bytes of the messages kept (bounded by store_limits::max_message_bytes).
  std::size_t message_bytes() const;
  /// Deletes all messages (ids empty) or the given ones; returns how many were removed.
  std::size_t delete_messages(const std::vector<std::string>& ids = {});

  /// Starts a session record.
  void open_session(const std::string& id, const std::string& client_address,
                    const std::string& scenario, listener_ref listener = {});
  /// Appends a transcript line (bounded per session).
  void append(const std::string& session_id, transcript_line line);
  /// Adds a finding to the session; it follows the session's last transcript line so far.
  /// Returns that line (finding_record::line as stored).
  std::size_t add_finding(const std::string& session_id, finding_record f);
  /// Marks the session ended and spools its transcript as session-<id>.json when spooling;
  /// then calls the listeners (add_listener). Never throws for a spool failure (it runs at
  /// teardown); see spool_failures().
  void close_session(const std::string& id);
  std::optional<session_record> session(const std::string& id) const;
  /// The session without its transcript.
  std::optional<session_summary> summary(const std::string& id) const;
  /// Sessions, newest first, with their transcripts (a copy: prefer session_summaries()).
  std::vector<session_record> sessions() const;
  /// Sessions, newest first, without transcripts.
  std::vector<session_summary> session_summaries() const;
  /// What all kept transcripts cost (≤ max_total_transcript_bytes but for live sessions).
  std::size_t transcript_bytes() const;
  /// Sessions kept (open and ended).
  std::size_t session_count() const;

  /// Registers `on_added`, called after every add_message (and close_session) on the calling
  /// thread, outside the
  /// store's lock and before the client's 2xx is written: it must be cheap and must not throw
  /// (the HTTP API uses it to post a wake-up for long-polls to its own executor).
  void add_listener(std::function<void()> on_added);

  /// Registers `on_change`, called for every change (store_change) while set_watched(true),
  /// on the changing thread, outside the store's lock (before the client's reply is written):
  /// it must be cheap and must not throw. Unwatched, a change costs one atomic load.
  void add_watcher(std::function<void(const store_change&)> on_change);
  void set_watched(bool watched) { watched_.store(watched, std::memory_order_relaxed); }
  bool watched() const { return watched_.load(std::memory_order_relaxed); }

  const store_limits& limits() const { return limits_; }
  /// Spool writes that failed where no caller could be told (close_session); for metrics.
  std::size_t spool_failures() const;

 private:
  store_limits limits_;
  std::optional<std::filesystem::path> spool_;
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<const stored_message>> messages_;  // oldest first
  std::size_t message_bytes_ = 0;                               ///< the data bytes of messages_
  std::deque<session_record> sessions_;                         // oldest first
  /// Each session in sessions_ by id (a transcript line is appended per command: no scan).
  std::unordered_map<std::string, session_record*> session_index_;
  std::size_t spool_failures_ = 0;
  std::size_t transcript_bytes_ = 0;  ///< sum of the sessions' `bytes`
  int lock_fd_ = -1;                  ///< the spool's lock file, held while the store lives
  std::vector<std::string> spool_warnings_;
  void lock_spool();
  void load_spool();
  void evict_transcripts_locked();
  /// Keeps `s` as the newest session (indexed) and drops the oldest past max_sessions.
  void push_session_locked(session_record s);
  session_record* find_session_locked(const std::string& id);
  const session_record* find_session_locked(const std::string& id) const;
  /// Keeps `m` as the newest message and drops the oldest past the count and byte bounds.
  void push_message_locked(std::shared_ptr<const stored_message> m);
  using listener_list = std::shared_ptr<const std::vector<std::function<void()>>>;
  /// Replaced (never mutated) under mutex_, so add_message copies one pointer, not a vector.
  listener_list listeners_;
  /// Calls each of `listeners` (outside the lock), ignoring their failures.
  static void notify(const listener_list& listeners) noexcept;
  using watcher_list = std::shared_ptr<const std::vector<std::function<void(const store_change&)>>>;
  watcher_list watchers_;  ///< as listeners_
  std::atomic<bool> watched_{false};
  /// The watchers, when watched (under mutex_), else null.
  watcher_list watchers_locked() const { return watched() ? watchers_ : nullptr; }
  static void tell(const watcher_list& watchers, const store_change& change) noexcept;
  /// Ids push_message_locked dropped for the bounds, while watched (under mutex_).
  std::vector<std::string> evicted_;
};

}  // namespace smtpmock::store
