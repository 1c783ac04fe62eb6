// The rule engine: given an event and its facts, decides which rule (if any) shapes the reply.
// It decides and never performs: delays, disconnects and drips are described in the returned
// action and carried out by net/. Time comes in with the facts, randomness from the seed, so
// the same seed and the same traffic give the same decisions. Thread-safe: conditions are
// checked without a lock; only rules with counters or greylisting take the mutex, and only
// once their conditions hold.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scenario/rules.hpp"

namespace smtpmock::scenario {

using steady = std::chrono::steady_clock;

/// Everything a rule may look at for one event.
struct facts {
  event_type event = event_type::any;
  std::string session_id;
  std::string client_ip;
  std::uint64_t transaction = 0;  ///< the session's transaction number (for per: transaction)
  std::string argument, sender, recipient, helo, user;
  const std::string* message = nullptr;  ///< message bytes, for `message`
  std::size_t size = 0;
  steady::time_point now{};
};

/// The decision for one event: the rule that fired and what it does.
struct action {
  std::string rule;
  effects then;
};

class engine {
 public:
  engine(std::shared_ptr<const definition> def, std::uint64_t seed);

  /// The first rule, in file order, whose event, conditions and counters all hold.
  std::optional<action> decide(const facts& f);
  /// Whether any rule reacts to `e` (else decide() is never worth its facts).
  bool listens(event_type e) const { return ((listening_ >> static_cast<unsigned>(e)) & 1u) != 0; }
  /// Forgets a session's per-session counters (called when it ends).
  void end_session(const std::string& session_id);

  const definition& scenario() const { return *def_; }
  std::shared_ptr<const definition> shared() const { return def_; }
  std::uint64_t seed() const { return seed_; }

 private:
  struct counter {
    std::uint64_t matched = 0;
    std::uint64_t fired = 0;
    std::vector<steady::time_point> recent;  // for rate, bounded by the rate's count
  };
  /// The message's headers, parsed by the first rule that looks at them.
  using header_cache = std::optional<std::vector<std::pair<std::string, std::string>>>;
  bool conditions_hold(const rule& r, const facts& f, header_cache& headers) const;
  /// The counters and greylisting of a rule whose conditions hold (under the mutex).
  bool state_allows(std::size_t index, const rule& r, const facts& f);
  bool counters_fire(std::size_t index, const rule& r, const facts& f);
  std::string scope_key(const rule& r, const facts& f) const;
  double draw(std::size_t index, const std::string& key, std::uint64_t n) const;

  std::shared_ptr<const definition> def_;
  std::uint64_t seed_;
  std::mutex mutex_;
  std::uint64_t listening_ = 0;  ///< bit e: some rule's `on` is event e (or any)
  std::map<std::pair<std::size_t, std::string>, counter> counters_;
  std::map<std::string, steady::time_point> greylist_;  // "rule|client|sender|recipient"
};

/// The message headers and body split out for `match: header/body` (exposed for tests).
std::vector<std::pair<std::string, std::string>> parse_headers(const std::string& message);

}  // namespace smtpmock::scenario
