// The HTTP API's view of the message store: lazily parsed MIME (parsed on the first API read
// of a message, then cached, so SMTP capture never waits for a parser) and Mailpit's Read
// flag. Thread-safe; the cache is bounded by the store (entries of messages the store has
// dropped are swept out) and never holds a lock while parsing.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/mime.hpp"
#include "http/search.hpp"
#include "store/message_store.hpp"

namespace smtpmock::http {

using message_ptr = std::shared_ptr<const store::stored_message>;

class mailbox {
 public:
  explicit mailbox(std::shared_ptr<store::message_store> store);

  store::message_store& store() const { return *store_; }
  /// Messages, newest first.
  std::vector<message_ptr> all() const { return store_->messages(); }
  /// A message by id, or the newest for "latest"; null when there is none.
  message_ptr find(const std::string& id) const;

  /// The message's MIME summary, parsed now if it was not yet.
  std::shared_ptr<const parsed_message> parsed(const message_ptr& m);
  bool is_read(const std::string& id) const;
  /// Sets the Read flag; when it changes, calls the on_read_changed function (outside the lock).
  void set_read(const std::string& id, bool read);
  /// Set once, before requests are served (the live events' "update").
  void on_read_changed(std::function<void(const std::string& id, bool read)> f) {
    read_changed_ = std::move(f);
  }
  /// The fields a search query looks at.
  search_fields fields(const message_ptr& m);
  /// The messages of `among` (newest first) that `query` matches, at most `max` of them.
  std::vector<message_ptr> matching(const search_query& query,
                                    const std::vector<message_ptr>& among,
                                    std::size_t max = static_cast<std::size_t>(-1));
  /// The message's tags, sorted: Mailpit's first tags (its X-Tags header and the +tag of
  /// plus-addresses in From, To, Cc and Bcc) until the API sets them.
  std::vector<std::string> tags(const message_ptr& m);
  /// Replaces the message's tags with `tags`, cleaned as Mailpit cleans them (clean_tag),
  /// case-insensitive duplicates and invalid names dropped.
  void set_tags(const message_ptr& m, const std::vector<std::string>& tags);
  /// Every tag on a stored message with how many messages have it, sorted by name.
  std::vector<std::pair<std::string, std::size_t>> tag_counts();
  enum class tag_change { done, not_found, invalid, exists };
  /// Renames tag `from` (as spelled) to `to` on every message.
  tag_change rename_tag(const std::string& from, const std::string& to);
  /// Removes tag `name` (as spelled) from every message; false when no message has it.
  bool delete_tag(const std::string& name);
  /// Unread messages among `messages`.
  std::size_t unread(const std::vector<message_ptr>& messages) const;
  /// Deletes all (ids empty) or the given messages; returns how many went.
  std::size_t remove(const std::vector<std::string>& ids);
  /// Messages deleted through the API since start (Mailpit's RuntimeStats.MessagesDeleted).
  std::size_t deleted() const;

 private:
  struct entry {
    std::weak_ptr<const store::stored_message> message;
    std::shared_ptr<const parsed_message> parsed;
    bool read = false;
    std::optional<std::vector<std::string>> tags;  ///< nullopt: not yet read from the message
  };
  entry& entry_locked(const message_ptr& m);
  void sweep_locked();

  std::shared_ptr<store::message_store> store_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
  std::size_t deleted_ = 0;
  std::function<void(const std::string&, bool)> read_changed_;
};

/// A tag name as Mailpit cleans it: characters other than letters, digits, '-', '_', '.',
/// '@' and space become spaces, runs of spaces one, trimmed, at most 100 octets; nullopt
/// when nothing is left.
std::optional<std::string> clean_tag(std::string_view name);

/// The envelope recipients that no To, Cc or Bcc header names (Mailpit shows them as Bcc).
std::vector<std::string> hidden_recipients(const smtp::envelope& env, const parsed_message& p);

}  // namespace smtpmock::http
