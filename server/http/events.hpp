// Live events: what changes in the store (messages, sessions, transcript lines, findings), the
// Read flags and the scenarios, as JSON frames {"Type": T, "Data": D} for the subscribers of
// GET /api/events (a WebSocket; http_server.cpp holds the sockets, this knows no socket).
// Mailpit's types, in its shapes, so its tools can listen too: "new" (a message summary),
// "stats" ({Total, Unread, Version}), "update" ({ID, Read}), "delete" ({ID}), "truncate"
// (null). smtpmock's: "session" (a session summary, when a session opens, gets a finding and
// ends), "transcript" ({Session, Index, Line}: one line as the session's Transcript shows it,
// Index its 0-based place there), "finding" ({Session, Finding}), "scenario" ({Listeners}).
// Nothing is built while nobody listens: the store copies changes only when watched.
// Events are built on the executor (http_server's strand), never on an SMTP thread, and each
// subscriber gets them in the order they happened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/message_store.hpp"

namespace smtpmock::http {

class mailbox;

class event_hub : public std::enable_shared_from_this<event_hub> {
 public:
  /// Where one subscriber's frames go: each a JSON text, in order, on the executor.
  using sink = std::function<void(const std::shared_ptr<const std::string>& frame)>;
  using executor = std::function<void(std::function<void()>)>;
  static constexpr std::size_t max_subscribers = 64;

  event_hub(mailbox& box, std::string version);
  /// Watches the store and the Read flags (once, when owned by a shared_ptr).
  void attach();
  /// Where events are built and sent (a strand); unset: on the calling thread.
  void set_executor(executor post);
  /// Lets go of the executor (before its io_context goes) and builds no event from now on.
  void stop();

  /// A new subscriber, told the mailbox's "stats" first; 0 when max_subscribers listen.
  std::uint64_t subscribe(sink s);
  void unsubscribe(std::uint64_t id);
  /// Drops every subscriber (at shutdown).
  void unsubscribe_all();
  std::size_t subscribers() const;

  /// A scenario was replaced, or its chaos triggers set: {"Listeners": [names]}.
  void scenario_changed(const std::vector<std::string>& listeners);

 private:
  void on_change(const store::store_change& change);
  void build(const store::store_change& change);
  /// Sends {"Type": type, "Data": data} (data: JSON text) to every subscriber.
  void publish(std::string_view type, const std::string& data);
  /// A "stats" after the changes already queued (several changes: one stats).
  void stats_soon();
  std::string stats_json() const;
  void run(std::function<void()> work);

  mailbox& box_;
  std::string version_;
  mutable std::mutex mutex_;
  executor post_;         // under mutex_
  bool stopped_ = false;  // under mutex_
  std::map<std::uint64_t, sink> sinks_;
  std::uint64_t next_id_ = 1;
  bool stats_due_ = false;  // executor only
};

}  // namespace smtpmock::http
