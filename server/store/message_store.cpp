// message_store: one mutex guards every container; spool files are written outside it so a
// slow disk delays only the session that is storing, never the other io threads.
// Spool files appear atomically: each is written to a hidden temp file in the spool directory
// and renamed into place, so a reader never sees a half-written file.
#include "store/message_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>

#include "store/json.hpp"

namespace smtpmock::store {

namespace {

namespace fs = std::filesystem;

session_summary summary_of(const session_record& s) {
  return session_summary{s.id,        s.client_address, s.scenario,     s.listener,
                         s.started,   s.ended,          s.lines.size(), s.message_ids,
                         s.truncated, s.findings,       s.rules,        s.closed};
}

/// A file name derived from an id: ids come from our own generator, but a path separator or a
/// leading dot must never let one escape or hide in the spool directory.
std::string safe_name(std::string_view id) {
  std::string out;
  out.reserve(id.size() + 1);
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '@' || c == '+';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

/// A suffix unique within this process (and, with the thread id, across concurrent writers).
std::string temp_suffix() {
  static std::atomic<unsigned long long> counter{0};
  return std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()) % 1000000) + "-" +
         std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

/// Writes `content` to dir/name through a temp file and a rename; throws std::runtime_error
/// (with the temp file removed) on any failure.
void write_atomic(const fs::path& dir, const std::string& name, std::string_view content) {
  const fs::path target = dir / name;
  const fs::path temp = dir / ("." + name + "." + temp_suffix() + ".tmp");
  auto fail = [&](const std::string& what, std::error_code ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw std::runtime_error("spool: cannot " + what + " " + target.string() + ": " + ec.message());
  };
  {
    errno = 0;
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail("create", std::error_code(errno ? errno : EIO, std::generic_category()));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) fail("write", std::error_code(errno ? errno : EIO, std::generic_category()));
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) fail("rename into", ec);
}

}  // namespace

message_store::message_store(store_limits limits, std::optional<std::filesystem::path> spool_dir)
    : limits_(limits), spool_(std::move(spool_dir)) {
  if (!spool_) return;
  std::error_code ec;
  fs::create_directories(*spool_, ec);
  if (ec || !fs::is_directory(*spool_)) {
    throw spool_error("spool directory " + spool_->string() + " cannot be created: " +
                      (ec ? ec.message() : std::string("not a directory")));
  }
  lock_spool();
  load_spool();
}

message_store::~message_store() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void message_store::lock_spool() {
  const fs::path lock = *spool_ / ".smtpmock.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    throw spool_error("cannot open " + lock.string() + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const auto n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      std::string holder(pid, n > 0 ? static_cast<std::size_t>(n) : 0);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
        holder.pop_back();
      throw spool_error("spool directory " + spool_->string() + " is in use by another smtpmock" +
                        (holder.empty() ? std::string() : " (pid " + holder + ")"));
    }
    throw spool_error("cannot lock " + lock.string() + ": " + std::strerror(err));
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0) {
    [[maybe_unused]] auto written = ::pwrite(lock_fd_, me.data(), me.size(), 0);
  }
}

void message_store::load_spool() {
  auto read_file = [](const fs::path& p, std::string& out) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
  };
  // With the file's write time: messages of one millisecond (Received's precision) keep their
  // order of arrival.
  std::vector<std::pair<fs::file_time_type, std::shared_ptr<const stored_message>>> found;
  std::vector<session_record> sessions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(*spool_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.' || entry.path().extension() != ".json") continue;
    std::string text;
    if (!read_file(entry.path(), text)) {
      spool_warnings_.push_back("cannot read " + entry.path().string());
      continue;
    }
    if (name.rfind("session-", 0) == 0) {
      if (auto s = parse_session_json(text)) {
        sessions.push_back(std::move(*s));
      } else {
        spool_warnings_.push_back("skipped " + entry.path().string() +
                                  ": not a complete session file");
      }
      continue;
    }
    std::string data;
    const fs::path eml = entry.path().parent_path() / (entry.path().stem().string() + ".eml");
    if (!read_file(eml, data)) {
      spool_warnings_.push_back("skipped " + entry.path().string() + ": no " +
                                eml.filename().string());
      continue;
    }
    if (auto m = parse_message_json(text, std::move(data))) {
      std::error_code time_ec;
      const auto written = fs::last_write_time(entry.path(), time_ec);
      found.emplace_back(written, std::make_shared<const stored_message>(std::move(*m)));
    } else {
      spool_warnings_.push_back("skipped " + entry.path().string() +
                                ": not a complete message file (or its .eml has another size)");
    }
  }
  if (ec) spool_warnings_.push_back("cannot list " + spool_->string() + ": " + ec.message());
  // Oldest first, as the containers keep them; only the newest fit the bounds.
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.second->received != b.second->received) return a.second->received < b.second->received;
    return a.first != b.first ? a.first < b.first : a.second->id < b.second->id;
  });
  std::sort(sessions.begin(), sessions.end(), [](const auto& a, const auto& b) {
    return a.started != b.started ? a.started < b.started : a.id < b.id;
  });
  for (auto& entry : found)
    push_message_locked(std::move(entry.second));
  const std::size_t skip_sessions =
      sessions.size() > limits_.max_sessions ? sessions.size() - limits_.max_sessions : 0;
  for (std::size_t i = skip_sessions; i < sessions.size(); ++i) {
    session_record& loaded = sessions[i];
    // What the spool does not keep is read off the transcript again.
    for (const auto& line : loaded.lines) {
      if (!line.rule.empty() &&
          std::find(loaded.rules.begin(), loaded.rules.end(), line.rule) == loaded.rules.end())
        loaded.rules.push_back(line.rule);
    }
    if (loaded.ended) loaded.closed = closed_by(loaded.lines);
    push_session_locked(std::move(loaded));
  }
  if (transcript_bytes_ > limits_.max_total_transcript_bytes) evict_transcripts_locked();
}

std::vector<std::string> message_store::spool_warnings() const {
  std::lock_guard lock(mutex_);
  return spool_warnings_;
}

std::size_t shown_lines(const transcript_line& line) {
  std::size_t n = 1;
  for (std::size_t at = line.text.find("\r\n"); at != std::string::npos;
       at = line.text.find("\r\n", at + 2))
    ++n;
  return n;
}

std::size_t line_cost(const transcript_line& line) {
  return sizeof(transcript_line) + line.text.size() + line.rule.size();
}

void message_store::add_message(stored_message m) {
  {
    // The message's part of its session's transcript: the lines since the previous message.
    // The spool refers to it by range; session-<id>.json holds the lines once, at close.
    std::lock_guard lock(mutex_);
    if (const session_record* it = find_session_locked(m.session_id)) {
      m.transcript_from = it->message_mark;
      m.transcript_to = it->shown;
    }
  }
  auto msg = std::make_shared<const stored_message>(std::move(m));
  if (spool_) {
    const std::string base = safe_name(msg->id);
    const fs::path eml = *spool_ / (base + ".eml");
    write_atomic(*spool_, base + ".eml", msg->data);
    try {
      write_atomic(*spool_, base + ".json", message_json(*msg));
    } catch (...) {
      // All or nothing: the client is told 451, so no trace of the message may remain.
      std::error_code ignored;
      fs::remove(eml, ignored);
      throw;
    }
  }
  listener_list listeners;
  watcher_list watchers;
  store_change added{store_change::kind::message_added, msg->session_id, msg->id};
  store_change evicted{store_change::kind::messages_deleted};
  {
    std::lock_guard lock(mutex_);
    if (session_record* it = find_session_locked(msg->session_id)) {
      it->message_ids.push_back(msg->id);
      it->message_mark = msg->transcript_to;
    }
    push_message_locked(std::move(msg));
    listeners = listeners_;
    watchers = watchers_locked();
    evicted.message_ids.swap(evicted_);
  }
  if (watchers) {
    if (!evicted.message_ids.empty()) tell(watchers, evicted);
    tell(watchers, added);
  }
  notify(listeners);
}

void message_store::tell(const watcher_list& watchers, const store_change& change) noexcept {
  for (const auto& on_change : *watchers) {
    try {
      on_change(change);
    } catch (...) {
      // A watcher's failure must not fail the change it was told of.
    }
  }
}

void message_store::add_watcher(std::function<void(const store_change&)> on_change) {
  std::lock_guard lock(mutex_);
  using list = std::vector<std::function<void(const store_change&)>>;
  auto next = watchers_ ? std::make_shared<list>(*watchers_) : std::make_shared<list>();
  next->push_back(std::move(on_change));
  watchers_ = std::move(next);
}

void message_store::notify(const listener_list& listeners) noexcept {
  if (!listeners) return;
  for (const auto& on_added : *listeners) {
    try {
      on_added();
    } catch (...) {
      // A listener's failure must not turn a stored message into a 451.
    }
  }
}

void message_store::add_listener(std::function<void()> on_added) {
  std::lock_guard lock(mutex_);
  auto next = listeners_ ? std::make_shared<std::vector<std::function<void()>>>(*listeners_)
                         : std::make_shared<std::vector<std::function<void()>>>();
  next->push_back(std::move(on_added));
  listeners_ = std::move(next);
}

std::vector<std::shared_ptr<const stored_message>> message_store::messages() const {
  std::lock_guard lock(mutex_);
  return {messages_.rbegin(), messages_.rend()};
}

std::shared_ptr<const stored_message> message_store::message(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(messages_.rbegin(), messages_.rend(),
                         [&](const auto& m) { return m->id == id; });
  return it == messages_.rend() ? nullptr : *it;
}

std::size_t message_store::message_count() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

std::size_t message_store::delete_messages(const std::vector<std::string>& ids) {
  store_change deleted{store_change::kind::messages_deleted};
  watcher_list watchers;
  std::size_t removed = 0;
  {
    std::lock_guard lock(mutex_);
    watchers = watchers_locked();
    const std::size_t before = messages_.size();
    if (ids.empty()) {
      messages_.clear();
      message_bytes_ = 0;
      deleted.all = true;
    } else {
      const std::unordered_set<std::string> doomed(ids.begin(), ids.end());
      std::erase_if(messages_, [&](const auto& m) {
        if (!doomed.contains(m->id)) return false;
        message_bytes_ -= m->data.size();
        if (watchers) deleted.message_ids.push_back(m->id);
        return true;
      });
    }
    removed = before - messages_.size();
  }
  if (watchers && (deleted.all || !deleted.message_ids.empty())) tell(watchers, deleted);
  return removed;
}

void message_store::push_message_locked(std::shared_ptr<const stored_message> m) {
  message_bytes_ += m->data.size();
  messages_.push_back(std::move(m));
  while (messages_.size() > limits_.max_messages ||
         (message_bytes_ > limits_.max_message_bytes && messages_.size() > 1)) {
    message_bytes_ -= messages_.front()->data.size();
    if (watched()) evicted_.push_back(messages_.front()->id);
    messages_.pop_front();
  }
}

std::size_t message_store::message_bytes() const {
  std::lock_guard lock(mutex_);
  return message_bytes_;
}

void message_store::open_session(const std::string& id, const std::string& client_address,
                                 const std::string& scenario, listener_ref listener) {
  session_record s;
  s.id = id;
  s.client_address = client_address;
  s.scenario = scenario;
  s.listener = std::move(listener);
  s.started = clock::now();
  watcher_list watchers;
  {
    std::lock_guard lock(mutex_);
    if (find_session_locked(id) != nullptr) return;  // ids are unique; keep the first
    push_session_locked(std::move(s));
    watchers = watchers_locked();
  }
  if (watchers) tell(watchers, store_change{store_change::kind::session_opened, id});
}

void message_store::push_session_locked(session_record s) {
  transcript_bytes_ += s.bytes;
  sessions_.push_back(std::move(s));
  // push_back and pop_front keep the other elements where they are, so the index stays valid.
  session_index_[sessions_.back().id] = &sessions_.back();
  while (sessions_.size() > limits_.max_sessions) {
    transcript_bytes_ -= sessions_.front().bytes;
    session_index_.erase(sessions_.front().id);
    sessions_.pop_front();
  }
}

session_record* message_store::find_session_locked(const std::string& id) {
  const auto it = session_index_.find(id);
  return it == session_index_.end() ? nullptr : it->second;
}

const session_record* message_store::find_session_locked(const std::string& id) const {
  const auto it = session_index_.find(id);
  return it == session_index_.end() ? nullptr : it->second;
}

void message_store::append(const std::string& session_id, transcript_line line) {
  watcher_list watchers;
  store_change appended{store_change::kind::line_appended, session_id};
  {
    std::lock_guard lock(mutex_);
    session_record* it = find_session_locked(session_id);
    if (it == nullptr) return;  // unknown or already evicted
    // A session may send millions of commands: keep the first lines, say that some were lost.
    const std::size_t cost = line_cost(line);
    const std::size_t shown = shown_lines(line);
    if (it->shown + shown > limits_.max_transcript_lines ||
        it->bytes + cost > limits_.max_transcript_bytes) {
      it->truncated = true;
      return;
    }
    if (!line.rule.empty() &&
        std::find(it->rules.begin(), it->rules.end(), line.rule) == it->rules.end()) {
      it->rules.push_back(line.rule);
    }
    watchers = watchers_locked();
    if (watchers) {
      appended.index = it->shown;
      appended.line = line;
    }
    it->lines.push_back(std::move(line));
    it->shown += shown;
    it->bytes += cost;
    transcript_bytes_ += cost;
    if (transcript_bytes_ > limits_.max_total_transcript_bytes) evict_transcripts_locked();
  }
  if (watchers) tell(watchers, appended);
}

std::size_t message_store::add_finding(const std::string& session_id, finding_record f) {
  watcher_list watchers;
  store_change added{store_change::kind::finding_added, session_id};
  std::size_t line = 0;
  {
    std::lock_guard lock(mutex_);
    session_record* it = find_session_locked(session_id);
    if (it == nullptr) return 0;
    f.line = it->shown;
    line = f.line;
    const std::size_t cost = f.code.size() + f.severity.size() + f.rfc.size() + f.text.size() + 64;
    it->bytes += cost;
    transcript_bytes_ += cost;
    watchers = watchers_locked();
    if (watchers) added.finding = f;
    it->findings.push_back(std::move(f));
  }
  if (watchers) tell(watchers, added);
  return line;
}

void message_store::evict_transcripts_locked() {
  // Oldest ended sessions first; live ones are bounded by max_transcript_bytes each.
  bool erased = false;
  for (auto it = sessions_.begin();
       it != sessions_.end() && transcript_bytes_ > limits_.max_total_transcript_bytes;) {
    if (it->ended) {
      transcript_bytes_ -= it->bytes;
      it = sessions_.erase(it);
      erased = true;
    } else {
      ++it;
    }
  }
  if (!erased) return;
  // An erase inside a deque moves its elements: index them again.
  session_index_.clear();
  for (auto& record : sessions_)
    session_index_[record.id] = &record;
}

void message_store::close_session(const std::string& id) {
  std::optional<session_record> snapshot;
  listener_list listeners;
  watcher_list watchers;
  {
    std::lock_guard lock(mutex_);
    session_record* it = find_session_locked(id);
    if (it == nullptr) return;
    if (!it->ended) {
      it->ended = clock::now();
      it->closed = closed_by(it->lines);
    }
    if (spool_) snapshot = *it;
    listeners = listeners_;
    watchers = watchers_locked();
  }
  if (watchers) tell(watchers, store_change{store_change::kind::session_closed, id});
  if (snapshot) {
    try {
      write_atomic(*spool_, "session-" + safe_name(id) + ".json", session_json(*snapshot));
    } catch (const std::exception&) {
      std::lock_guard lock(mutex_);
      ++spool_failures_;
    }
  }
  notify(listeners);  // a long-poll may wait for the session's end
}

std::optional<session_record> message_store::session(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const session_record* it = find_session_locked(id);
  if (it == nullptr) return std::nullopt;
  return *it;
}

std::vector<session_record> message_store::sessions() const {
  std::lock_guard lock(mutex_);
  return {sessions_.rbegin(), sessions_.rend()};
}

std::vector<session_summary> message_store::session_summaries() const {
  std::lock_guard lock(mutex_);
  std::vector<session_summary> out;
  out.reserve(sessions_.size());
  for (auto it = sessions_.rbegin(); it != sessions_.rend(); ++it) {
    out.push_back(summary_of(*it));
  }
  return out;
}

std::optional<session_summary> message_store::summary(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const session_record* it = find_session_locked(id);
  if (it == nullptr) return std::nullopt;
  return summary_of(*it);
}

std::string_view closed_by(const std::vector<transcript_line>& lines) {
  // After the client's last line: the server's last reply, and what it noted.
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->dir == direction::in) break;
    if (it->dir == direction::info && it->text.rfind("rule", 0) == 0) return "server";
    if (it->dir == direction::info && it->text == "server shutting down") return "server";
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->dir != direction::out) continue;
    if (it->text.rfind("221", 0) == 0) return "quit";
    if (it->text.rfind("421", 0) == 0) return "server";
    break;
  }
  return "client";
}

std::size_t message_store::transcript_bytes() const {
  std::lock_guard lock(mutex_);
  return transcript_bytes_;
}

std::size_t message_store::session_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::size_t message_store::spool_failures() const {
  std::lock_guard lock(mutex_);
  return spool_failures_;
}

}  // namespace smtpmock::store
