// store::metrics; see metrics.hpp. Relaxed atomics everywhere: the counters are statistics,
// and a scrape that sees one counter a moment ahead of another is harmless.
#include "store/metrics.hpp"

#include <algorithm>
#include <mutex>

namespace smtpmock::store {

// The verb members of reply_to carry smtp::verb's values, so a verb converts by a cast.
constexpr bool same_value(reply_to r, smtp::verb v) {
  return static_cast<int>(r) == static_cast<int>(v);
}
static_assert(
    same_value(reply_to::helo, smtp::verb::helo) && same_value(reply_to::ehlo, smtp::verb::ehlo) &&
    same_value(reply_to::mail, smtp::verb::mail) && same_value(reply_to::rcpt, smtp::verb::rcpt) &&
    same_value(reply_to::data, smtp::verb::data) && same_value(reply_to::bdat, smtp::verb::bdat) &&
    same_value(reply_to::rset, smtp::verb::rset) && same_value(reply_to::noop, smtp::verb::noop) &&
    same_value(reply_to::vrfy, smtp::verb::vrfy) && same_value(reply_to::expn, smtp::verb::expn) &&
    same_value(reply_to::help, smtp::verb::help) && same_value(reply_to::quit, smtp::verb::quit) &&
    same_value(reply_to::auth, smtp::verb::auth) &&
    same_value(reply_to::starttls, smtp::verb::starttls) &&
    same_value(reply_to::unknown, smtp::verb::unknown));

reply_to reply_to_verb(smtp::verb v) {
  return static_cast<reply_to>(v);
}

std::string_view reply_to_name(reply_to r) {
  if (r <= reply_to::unknown) return smtp::verb_name(static_cast<smtp::verb>(r));
  static constexpr std::array<std::string_view, 4> moments{"connect", "auth_response", "message",
                                                           "interrupted"};
  return moments.at(static_cast<std::size_t>(r) - static_cast<std::size_t>(reply_to::connect));
}

void metrics::session_opened() {
  sessions_total_.fetch_add(1, std::memory_order_relaxed);
  sessions_active_.fetch_add(1, std::memory_order_relaxed);
}

void metrics::session_closed(std::chrono::steady_clock::duration duration) {
  sessions_active_.fetch_sub(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(duration).count();
  std::size_t bucket = 0;
  while (bucket < duration_buckets.size() && seconds > duration_buckets[bucket])
    ++bucket;
  duration_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  duration_micros_.fetch_add(static_cast<std::uint64_t>(micros < 0 ? 0 : micros),
                             std::memory_order_relaxed);
  duration_count_.fetch_add(1, std::memory_order_relaxed);
}

void metrics::reply(reply_to what, int code) {
  if (code < min_code || code > max_code) return;
  replies_[static_cast<std::size_t>(what)][static_cast<std::size_t>(code - min_code)].fetch_add(
      1, std::memory_order_relaxed);
}

void metrics::client_finding(const smtp::finding_kind& kind) {
  const auto kinds = smtp::finding_kinds();
  const auto index = static_cast<std::size_t>(&kind - kinds.data());
  if (index < kinds.size() && index < findings_.size())
    findings_[index].fetch_add(1, std::memory_order_relaxed);
}

void metrics::rule_hit(std::string_view rule) {
  {
    std::shared_lock lock(rules_mutex_);
    auto it = rules_.find(rule);
    if (it != rules_.end()) {
      it->second->fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  std::unique_lock lock(rules_mutex_);
  auto it = rules_.find(rule);
  if (it == rules_.end()) {
    it = rules_.emplace(std::string(rule), std::make_unique<std::atomic<std::uint64_t>>(0)).first;
  }
  it->second->fetch_add(1, std::memory_order_relaxed);
}

void metrics::message_stored(std::size_t bytes) {
  messages_.fetch_add(1, std::memory_order_relaxed);
  message_bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

metrics::snapshot metrics::snap() const {
  snapshot s;
  s.sessions_total = sessions_total_.load(std::memory_order_relaxed);
  s.sessions_active = sessions_active_.load(std::memory_order_relaxed);
  s.messages_total = messages_.load(std::memory_order_relaxed);
  s.message_bytes_total = message_bytes_.load(std::memory_order_relaxed);
  s.bytes_received = bytes_in_.load(std::memory_order_relaxed);
  s.bytes_sent = bytes_out_.load(std::memory_order_relaxed);
  for (std::size_t v = 0; v < reply_to_count; ++v) {
    for (std::size_t c = 0; c < replies_[v].size(); ++c) {
      const auto n = replies_[v][c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      s.replies.push_back(
          {reply_to_name(static_cast<reply_to>(v)), static_cast<int>(c) + min_code, n});
    }
  }
  {
    std::shared_lock lock(rules_mutex_);
    for (const auto& [name, count] : rules_)
      s.rule_hits.emplace(name, count->load(std::memory_order_relaxed));
  }
  const auto kinds = smtp::finding_kinds();
  for (std::size_t i = 0; i < kinds.size() && i < findings_.size(); ++i) {
    const auto n = findings_[i].load(std::memory_order_relaxed);
    if (n != 0) s.findings.push_back({kinds[i].code, smtp::severity_name(kinds[i].severity), n});
  }
  for (std::size_t i = 0; i < duration_counts_.size(); ++i)
    s.duration_counts[i] = duration_counts_[i].load(std::memory_order_relaxed);
  s.duration_sum =
      static_cast<double>(duration_micros_.load(std::memory_order_relaxed)) / 1'000'000.0;
  s.duration_count = duration_count_.load(std::memory_order_relaxed);
  return s;
}

void merge(metrics::snapshot& into, const metrics::snapshot& from) {
  into.sessions_total += from.sessions_total;
  into.sessions_active += from.sessions_active;
  into.messages_total += from.messages_total;
  into.message_bytes_total += from.message_bytes_total;
  into.bytes_received += from.bytes_received;
  into.bytes_sent += from.bytes_sent;
  for (const auto& r : from.replies) {
    auto it = std::find_if(into.replies.begin(), into.replies.end(), [&](const auto& mine) {
      return mine.verb == r.verb && mine.code == r.code;
    });
    if (it != into.replies.end())
      it->count += r.count;
    else
      into.replies.push_back(r);
  }
  for (const auto& [name, count] : from.rule_hits)
    into.rule_hits[name] += count;
  for (const auto& f : from.findings) {
    auto it = std::find_if(into.findings.begin(), into.findings.end(), [&](const auto& mine) {
      return mine.code == f.code && mine.severity == f.severity;
    });
    if (it != into.findings.end())
      it->count += f.count;
    else
      into.findings.push_back(f);
  }
  for (std::size_t i = 0; i < into.duration_counts.size(); ++i)
    into.duration_counts[i] += from.duration_counts[i];
  into.duration_sum += from.duration_sum;
  into.duration_count += from.duration_count;
}

}  // namespace smtpmock::store
