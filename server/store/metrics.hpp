// Counters of the SMTP side for GET /metrics: sessions, commands by verb and reply code, rule
// hits, messages, bytes and a session-duration histogram. net/ updates them, http/ exports
// them (the only place that includes prometheus-cpp). Plain atomics with relaxed ordering:
// the SMTP hot path never takes a lock (a rule hit takes a shared lock, an unseen rule name
// once an exclusive one). Every counter only grows, except the live-session gauge.
// One object per SMTP listener (net::listener_options::metrics): GET /metrics labels each with
// its listener's name, and merge() sums them for totals (/api/v1/info).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.hpp"
#include "smtp/findings.hpp"

namespace smtpmock::store {

/// What a reply answered: an SMTP verb (same values and order as smtp::verb, checked in
/// metrics.cpp), or one of the moments that are not commands.
enum class reply_to : std::uint8_t {
  helo,
  ehlo,
  mail,
  rcpt,
  data,
  bdat,
  rset,
  noop,
  vrfy,
  expn,
  help,
  quit,
  auth,
  starttls,
  unknown,
  connect,        ///< the banner
  auth_response,  ///< a SASL continuation line
  message,        ///< the end of data
  interrupted,    ///< idle timeout or shutdown
};
/// How many reply_to values there are.
inline constexpr std::size_t reply_to_count = 19;

/// The reply_to of a command verb.
reply_to reply_to_verb(smtp::verb v);
/// The label of `r` in /metrics: the scenario event names ("mail", "connect", "message").
std::string_view reply_to_name(reply_to r);

class metrics {
 public:
  /// Upper bounds (seconds) of the session-duration histogram buckets (+Inf is implicit).
  static constexpr std::array<double, 10> duration_buckets{0.01, 0.05, 0.1, 0.25, 0.5,
                                                           1,    2.5,  5,   10,   60};

  /// A session was accepted.
  void session_opened();
  /// A session ended after `duration`.
  void session_closed(std::chrono::steady_clock::duration duration);
  /// A reply with `code` (100..599; others are ignored) answered `what`.
  void reply(reply_to what, int code);
  /// A scenario rule shaped a reply (or an effect).
  void rule_hit(std::string_view rule);
  /// The core noted a finding of this kind about a client.
  void client_finding(const smtp::finding_kind& kind);
  /// A message was stored (it got its 2xx).
  void message_stored(std::size_t bytes);
  /// Octets read from / written to SMTP clients (after TLS decryption, before encryption).
  void bytes_received(std::size_t n) { bytes_in_.fetch_add(n, std::memory_order_relaxed); }
  void bytes_sent(std::size_t n) { bytes_out_.fetch_add(n, std::memory_order_relaxed); }

  /// A consistent-enough copy of every counter, for an exporter.
  struct snapshot {
    std::uint64_t sessions_total = 0;
    std::int64_t sessions_active = 0;
    std::uint64_t messages_total = 0;
    std::uint64_t message_bytes_total = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    struct reply_count {
      std::string_view verb;
      int code = 0;
      std::uint64_t count = 0;
    };
    std::vector<reply_count> replies;  ///< only the non-zero ones
    std::map<std::string, std::uint64_t> rule_hits;
    struct finding_count {
      std::string_view code;
      std::string_view severity;
      std::uint64_t count = 0;
    };
    std::vector<finding_count> findings;  ///< only the non-zero ones
    std::array<std::uint64_t, duration_buckets.size() + 1> duration_counts{};  ///< per bucket
    double duration_sum = 0;                                                   ///< seconds
    std::uint64_t duration_count = 0;
  };
  snapshot snap() const;

 private:
  static constexpr int min_code = 100;
  static constexpr int max_code = 599;
  using code_row = std::array<std::atomic<std::uint64_t>, max_code - min_code + 1>;

  std::atomic<std::uint64_t> sessions_total_{0};
  std::atomic<std::int64_t> sessions_active_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> message_bytes_{0};
  std::atomic<std::uint64_t> bytes_in_{0};
  std::atomic<std::uint64_t> bytes_out_{0};
  std::array<code_row, reply_to_count> replies_{};
  std::array<std::atomic<std::uint64_t>, duration_buckets.size() + 1> duration_counts_{};
  std::atomic<std::uint64_t> duration_micros_{0};
  std::atomic<std::uint64_t> duration_count_{0};
  mutable std::shared_mutex rules_mutex_;
  std::map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>, std::less<>> rules_;
  /// Per finding kind, in smtp::finding_kinds() order.
  std::array<std::atomic<std::uint64_t>, 64> findings_{};
};

/// Adds every counter of `from` to `into` (replies, rule hits and findings matched by their
/// labels), e.g. the listeners' snapshots into one total.
void merge(metrics::snapshot& into, const metrics::snapshot& from);

}  // namespace smtpmock::store
