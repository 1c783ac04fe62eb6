// The rule engine: first matching rule wins; counters per scope; seeded, order-free chance.
#include "scenario/engine.hpp"

#include <algorithm>

#include "smtp/command.hpp"

namespace smtpmock::scenario {
namespace {

// FNV-1a: a stable hash, so a seed means the same thing on every build.
std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool holds(const std::optional<pattern>& p, const std::string& value) {
  return !p || p->matches(value);
}

constexpr std::size_t max_greylist_entries = 100000;
// RE2 matches in linear time without recursion (scenario/rules.cpp); a body regex still sees
// at most this much of the body, so each message costs every body rule a bounded scan.
constexpr std::size_t max_body_match = 64 * 1024;

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_headers(const std::string& message) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t pos = 0;
  while (pos < message.size()) {
    auto end = message.find('\n', pos);
    if (end == std::string::npos) end = message.size();
    std::string line = message.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // the blank line ends the header section (RFC 5322 2.1)
    if ((line[0] == ' ' || line[0] == '\t') && !headers.empty()) {
      headers.back().second += " " + line.substr(line.find_first_not_of(" \t"));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    const auto start = value.find_first_not_of(" \t");
    value = start == std::string::npos ? std::string() : value.substr(start);
    headers.emplace_back(line.substr(0, colon), std::move(value));
  }
  return headers;
}

engine::engine(std::shared_ptr<const definition> def, std::uint64_t seed)
    : def_(std::move(def)), seed_(seed) {
  for (const rule& r : def_->rules) {
    listening_ |= r.on == event_type::any ? ~std::uint64_t{0}
                                          : std::uint64_t{1} << static_cast<unsigned>(r.on);
  }
}

namespace {

/// Whether deciding on `r` reads or writes state shared across sessions.
bool stateful(const rule& r) {
  const counters& w = r.when;
  return w.nth || w.every || w.after || w.times || w.rate || w.probability ||
         r.then.greylist.has_value();
}

}  // namespace

bool engine::conditions_hold(const rule& r, const facts& f, header_cache& headers) const {
  if (r.on != event_type::any && r.on != f.event) return false;
  const conditions& m = r.match;
  if (!holds(m.argument, f.argument) || !holds(m.sender, f.sender) ||
      !holds(m.recipient, f.recipient) || !holds(m.helo, f.helo) || !holds(m.user, f.user) ||
      !holds(m.client, f.client_ip))
    return false;
  if (m.size_over && !(f.size > *m.size_over)) return false;
  if (!m.headers.empty() || m.body) {
    if (!f.message) return false;
    if (!m.headers.empty()) {
      if (!headers) headers = parse_headers(*f.message);  // once per event, for every rule
      for (const auto& [name, p] : m.headers) {
        const bool any = std::any_of(headers->begin(), headers->end(), [&](const auto& h) {
          return smtp::iequals(h.first, name) && p.matches(h.second);
        });
        if (!any) return false;
      }
    }
    if (m.body) {
      auto start = f.message->find("\r\n\r\n");
      start = start == std::string::npos ? f.message->size() : start + 4;
      if (!m.body->matches(std::string_view(*f.message).substr(start, max_body_match)))
        return false;
    }
  }
  return true;
}

std::string engine::scope_key(const rule& r, const facts& f) const {
  switch (r.when.per) {
    case scope::server:
      return {};
    case scope::client:
      return f.client_ip;
    case scope::session:
      return f.session_id;
    case scope::transaction:
      return f.session_id + "#" + std::to_string(f.transaction);
  }
  return {};
}

double engine::draw(std::size_t index, const std::string& key, std::uint64_t n) const {
  // The draw for the n-th match of a rule in a scope depends only on (seed, rule, scope, n),
  // never on how sessions interleave, so a seed replays the same outcome sequence.
  std::uint64_t x = splitmix64(seed_ ^ splitmix64(index + 1));
  x = splitmix64(x ^ fnv1a(key));
  x = splitmix64(x ^ n);
  return double(x >> 11) * (1.0 / 9007199254740992.0);
}

bool engine::counters_fire(std::size_t index, const rule& r, const facts& f) {
  const std::string key = scope_key(r, f);
  counter& c = counters_[{index, key}];
  const std::uint64_t n = ++c.matched;
  const counters& w = r.when;
  if (w.nth && n != *w.nth) return false;
  if (w.every && n % *w.every != 0) return false;
  if (w.after && n <= *w.after) return false;
  if (w.times && c.fired >= *w.times) return false;
  if (w.rate) {
    auto& recent = c.recent;
    recent.push_back(f.now);
    const auto horizon = f.now - w.rate->window;
    recent.erase(recent.begin(),
                 std::find_if(recent.begin(), recent.end(), [&](auto t) { return t > horizon; }));
    if (recent.size() > w.rate->count + 1) recent.erase(recent.begin());
    if (recent.size() <= w.rate->count) return false;
  }
  if (w.probability && !(draw(index, key, n) < *w.probability)) return false;
  return true;
}

std::optional<action> engine::decide(const facts& f) {
  if (!listens(f.event)) return std::nullopt;
  header_cache headers;
  for (std::size_t i = 0; i < def_->rules.size(); ++i) {
    const rule& r = def_->rules[i];
    if (!conditions_hold(r, f, headers)) continue;  // pure: patterns and facts, no lock
    if (stateful(r) && !state_allows(i, r, f)) continue;
    action a{r.name, r.then};
    if (a.then.greylist && !a.then.reply)
      a.then.reply = std::vector<std::string>{
          "451 4.7.1 <{recipient}>: Recipient address rejected: Greylisted, try again later"};
    return a;
  }
  return std::nullopt;
}

bool engine::state_allows(std::size_t i, const rule& r, const facts& f) {
  std::lock_guard lock(mutex_);
  if (!counters_fire(i, r, f)) return false;
  if (r.then.greylist) {
    // RFC 6647 greylisting: a temporary failure until the same (client, sender, recipient)
    // comes back after retry_after; from then on it passes.
    const std::string triplet =
        std::to_string(i) + "|" + f.client_ip + "|" + f.sender + "|" + f.recipient;
    const auto it = greylist_.find(triplet);
    if (it == greylist_.end()) {
      if (greylist_.size() >= max_greylist_entries) greylist_.clear();
      greylist_.emplace(triplet, f.now);
    } else if (f.now - it->second >= *r.then.greylist) {
      return false;
    }
  }
  counters_[{i, scope_key(r, f)}].fired++;
  return true;
}

void engine::end_session(const std::string& session_id) {
  std::lock_guard lock(mutex_);
  for (auto it = counters_.begin(); it != counters_.end();) {
    const auto& key = it->first.second;
    const bool mine = key == session_id || key.rfind(session_id + "#", 0) == 0;
    const auto& r = def_->rules[it->first.first];
    if (mine && (r.when.per == scope::session || r.when.per == scope::transaction))
      it = counters_.erase(it);
    else
      ++it;
  }
}

}  // namespace smtpmock::scenario
