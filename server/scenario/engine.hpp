// The rule engine: given an event and its facts, decides which rule (if any) shapes the reply.
// It decides and never performs: delays, disconnects and drips are described in the returned
// action and carried out by net/. Time comes in with the facts, randomness from the seed, so
// the same seed and the same traffic give the same decisions. Thread-safe: conditions are
// checked without a lock; per-session and per-transaction counters live in the session's
// session_counters (one strand, no lock); only server/client-scope counters and greylisting
// are shared, under the mutex, and only once a stateful rule's conditions hold.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scenario/rules.hpp"

namespace smtpmock::scenario {

using steady = std::chrono::steady_clock;

class engine;
namespace detail {
struct header_index;  // engine.cpp: a message's header section as views
}

/// The counters of one rule in one scope.
struct rule_counter {
  std::uint64_t matched = 0;
  std::uint64_t fired = 0;
  std::vector<steady::time_point> recent;  ///< for rate, bounded by the rate's count
};

/// The counters of rules with `per: session` or `per: transaction`, owned by one SMTP session
/// and used from its strand only (no lock). Belongs to one engine at a time: used with another
/// (a scenario switched), it starts over, since rule indices then name other rules.
class session_counters {
 public:
  /// The session-scope counter of rule `index`.
  rule_counter& session(std::size_t index) { return session_[index]; }
  /// The counter of rule `index` in transaction `number`. A number higher than any before
  /// drops the transactions older than the one before it: a session's transaction numbers
  /// only grow, and its events name the current one or (a MAIL) the next.
  rule_counter& transaction(std::size_t index, std::uint64_t number);
  /// Forgets every counter.
  void clear();
  /// How many counters are held (for tests).
  std::size_t size() const { return session_.size() + transaction_.size(); }

 private:
  friend class engine;
  const engine* owner_ = nullptr;
  std::map<std::size_t, rule_counter> session_;
  std::map<std::pair<std::uint64_t, std::size_t>, rule_counter> transaction_;
  std::uint64_t newest_ = 0;  ///< the highest transaction number seen
};

/// Everything a rule may look at for one event. The strings are views into the event and the
/// session that the facts describe: facts are built for one decide() and never outlive them.
struct facts {
  event_type event = event_type::any;
  std::string_view session_id;
  std::string_view client_ip;
  std::uint64_t transaction = 0;  ///< the session's transaction number (for per: transaction)
  std::string_view argument, sender, recipient, helo, user;
  const std::string* message = nullptr;  ///< message bytes, for `message`
  std::size_t size = 0;
  steady::time_point now{};
  /// The session's own counters for per: session/transaction rules; null (callers without a
  /// session) keeps them in the engine's shared map, keyed by session_id.
  session_counters* counters = nullptr;
};

/// The decision for one event: the rule that fired and what it does.
struct action {
  std::string rule;
  effects then;
  /// A greylisting rule fired for a triplet seen before, within its retry_after: how long
  /// after the first sighting it came back (the client retried too early).
  std::optional<std::chrono::milliseconds> retried_after;
};

class engine {
 public:
  engine(std::shared_ptr<const definition> def, std::uint64_t seed);

  /// The first rule, in file order, whose event, conditions and counters all hold.
  std::optional<action> decide(const facts& f);
  /// Whether any rule reacts to `e` (else decide() is never worth its facts).
  bool listens(event_type e) const { return ((listening_ >> static_cast<unsigned>(e)) & 1u) != 0; }
  /// Forgets a session's per-session counters kept in the shared map (those of facts without
  /// `counters`; called when a session ends).
  void end_session(const std::string& session_id);

  const definition& scenario() const { return *def_; }
  std::shared_ptr<const definition> shared() const { return def_; }
  std::uint64_t seed() const { return seed_; }

 private:
  /// The message's headers, parsed by the first rule that looks at them.
  using header_cache = std::optional<detail::header_index>;
  bool conditions_hold(const rule& r, const facts& f, header_cache& headers) const;
  /// The counters and greylisting of a rule whose conditions hold.
  bool state_allows(std::size_t index, const rule& r, const facts& f,
                    std::optional<std::chrono::milliseconds>& retried_after);
  /// Counts a match in `c` and says whether the counters let the rule fire.
  bool counters_fire(rule_counter& c, std::size_t index, const rule& r, const facts& f) const;
  /// Whether greylisting still holds the event's triplet back, so the rule fires (under the
  /// mutex); the first sighting starts its window.
  bool still_greylisted(std::size_t index, const facts& f,
                        std::optional<std::chrono::milliseconds>& retried_after);
  std::string scope_key(const rule& r, const facts& f) const;
  double draw(std::size_t index, const rule& r, const facts& f, std::uint64_t n) const;

  std::shared_ptr<const definition> def_;
  std::uint64_t seed_;
  std::mutex mutex_;
  std::uint64_t listening_ = 0;  ///< bit e: some rule's `on` is event e (or any)
  /// Per event: the indices of the rules whose `on` is it (or any), in file order.
  std::vector<std::vector<std::uint32_t>> by_event_;
  std::vector<bool> stateful_;  ///< per rule: counters or greylisting (state_allows needed)
  std::map<std::pair<std::size_t, std::string>, rule_counter> counters_;
  std::map<std::string, steady::time_point> greylist_;  // "rule|client|sender|recipient"
};

/// The message headers and body split out for `match: header/body` (exposed for tests).
std::vector<std::pair<std::string, std::string>> parse_headers(const std::string& message);

}  // namespace smtpmock::scenario
