// The rule engine: first matching rule wins; counters per scope; seeded, order-free chance.
#include "scenario/engine.hpp"

#include <algorithm>
#include <charconv>
#include <forward_list>

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

bool holds(const std::optional<pattern>& p, std::string_view value) {
  return !p || p->matches(value);
}

constexpr std::size_t max_greylist_entries = 100000;
// RE2 matches in linear time without recursion (scenario/rules.cpp); a body regex still sees
// at most this much of the body, so each message costs every body rule a bounded scan.
constexpr std::size_t max_body_match = 64 * 1024;

}  // namespace

namespace detail {
/// The header section as views into the message; a folded value is unfolded into a string of
/// its own (only those allocate). parse_headers() is this, copied out.
struct header_index {
  struct header {
    std::string_view name, value;
  };
  std::vector<header> headers;
  std::forward_list<std::string> unfolded;  // stable addresses: values of folded headers

  explicit header_index(std::string_view message) {
    std::size_t pos = 0;
    bool last_unfolded = false;  // headers.back().value lives in unfolded.front()
    headers.reserve(16);         // one allocation for a usual message
    while (pos < message.size()) {
      auto end = message.find('\n', pos);
      if (end == std::string_view::npos) end = message.size();
      std::string_view line = message.substr(pos, end - pos);
      pos = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) break;  // the blank line ends the header section (RFC 5322 2.1)
      if ((line[0] == ' ' || line[0] == '\t') && !headers.empty()) {
        // RFC 5322 2.2.3: unfolding joins the lines; a line of only blanks adds only the space.
        if (!last_unfolded) {
          unfolded.emplace_front(headers.back().value);
          last_unfolded = true;
        }
        std::string& value = unfolded.front();
        const auto text = line.find_first_not_of(" \t");
        value += ' ';
        if (text != std::string_view::npos) value += line.substr(text);
        headers.back().value = value;
        continue;
      }
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view value = line.substr(colon + 1);
      const auto text = value.find_first_not_of(" \t");
      value = text == std::string_view::npos ? std::string_view() : value.substr(text);
      headers.push_back({line.substr(0, colon), value});
      last_unfolded = false;
    }
  }
};
}  // namespace detail

std::vector<std::pair<std::string, std::string>> parse_headers(const std::string& message) {
  const detail::header_index index(message);
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(index.headers.size());
  for (const auto& h : index.headers)
    headers.emplace_back(std::string(h.name), std::string(h.value));
  return headers;
}

rule_counter& session_counters::transaction(std::size_t index, std::uint64_t number) {
  if (number > newest_) {
    newest_ = number;
    // Only `number` and `number - 1` can still come (see the header): drop the older ones.
    while (!transaction_.empty() && transaction_.begin()->first.first + 1 < number)
      transaction_.erase(transaction_.begin());
  }
  return transaction_[{number, index}];
}

void session_counters::clear() {
  session_.clear();
  transaction_.clear();
  newest_ = 0;
}

engine::engine(std::shared_ptr<const definition> def, std::uint64_t seed)
    : def_(std::move(def)), seed_(seed) {
  constexpr auto events = static_cast<std::size_t>(event_type::any) + 1;
  by_event_.resize(events);
  for (std::size_t i = 0; i < def_->rules.size(); ++i) {
    const rule& r = def_->rules[i];
    listening_ |= r.on == event_type::any ? ~std::uint64_t{0}
                                          : std::uint64_t{1} << static_cast<unsigned>(r.on);
    for (std::size_t e = 0; e < events; ++e) {
      if (r.on == event_type::any || r.on == static_cast<event_type>(e))
        by_event_[e].push_back(static_cast<std::uint32_t>(i));
    }
    const counters& w = r.when;
    stateful_.push_back(w.nth || w.every || w.after || w.times || w.rate || w.probability ||
                        r.then.greylist.has_value());
  }
}

namespace {

/// Whether a rule's counters live in the session (when the facts bring session_counters).
bool session_scoped(const rule& r) {
  return r.when.per == scope::session || r.when.per == scope::transaction;
}

}  // namespace

bool engine::conditions_hold(const rule& r, const facts& f, header_cache& headers) const {
  // The event was matched by by_event_.
  const conditions& m = r.match;
  if (!holds(m.argument, f.argument) || !holds(m.sender, f.sender) ||
      !holds(m.recipient, f.recipient) || !holds(m.helo, f.helo) || !holds(m.user, f.user) ||
      !holds(m.client, f.client_ip))
    return false;
  if (m.size_over && !(f.size > *m.size_over)) return false;
  if (!m.headers.empty() || m.body) {
    if (!f.message) return false;
    if (!m.headers.empty()) {
      if (!headers) headers.emplace(*f.message);  // once per event, for every rule
      for (const auto& [name, p] : m.headers) {
        const bool any = std::any_of(
            headers->headers.begin(), headers->headers.end(),
            [&](const auto& h) { return smtp::iequals(h.name, name) && p.matches(h.value); });
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
      return std::string(f.client_ip);
    case scope::session:
      return std::string(f.session_id);
    case scope::transaction:
      return std::string(f.session_id) + "#" + std::to_string(f.transaction);
  }
  return {};
}

double engine::draw(std::size_t index, const rule& r, const facts& f, std::uint64_t n) const {
  // The draw for the n-th match of a rule in a scope depends only on (seed, rule, scope, n),
  // never on how sessions interleave, so a seed replays the same outcome sequence. The scope
  // is hashed as scope_key() spells it ("S1#2"), piece by piece (FNV-1a runs left to right).
  std::uint64_t key = fnv1a({});
  switch (r.when.per) {
    case scope::server:
      break;
    case scope::client:
      key = fnv1a(f.client_ip);
      break;
    case scope::session:
      key = fnv1a(f.session_id);
      break;
    case scope::transaction: {
      char digits[24];
      const auto end = std::to_chars(digits, digits + sizeof digits, f.transaction).ptr;
      key = fnv1a(std::string_view(digits, static_cast<std::size_t>(end - digits)),
                  fnv1a("#", fnv1a(f.session_id)));
      break;
    }
  }
  std::uint64_t x = splitmix64(seed_ ^ splitmix64(index + 1));
  x = splitmix64(x ^ key);
  x = splitmix64(x ^ n);
  return double(x >> 11) * (1.0 / 9007199254740992.0);
}

bool engine::counters_fire(rule_counter& c, std::size_t index, const rule& r,
                           const facts& f) const {
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
  if (w.probability && !(draw(index, r, f, n) < *w.probability)) return false;
  return true;
}

std::optional<action> engine::decide(const facts& f) {
  if (!listens(f.event)) return std::nullopt;
  header_cache headers;
  for (const std::uint32_t i : by_event_[static_cast<std::size_t>(f.event)]) {
    const rule& r = def_->rules[i];
    if (!conditions_hold(r, f, headers)) continue;  // pure: patterns and facts, no lock
    std::optional<std::chrono::milliseconds> retried_after;
    if (stateful_[i] && !state_allows(i, r, f, retried_after)) continue;
    action a{r.name, r.then, retried_after};
    if (a.then.greylist && !a.then.reply)
      a.then.reply = std::vector<std::string>{
          "451 4.7.1 <{recipient}>: Recipient address rejected: Greylisted, try again later"};
    return a;
  }
  return std::nullopt;
}

bool engine::still_greylisted(std::size_t i, const facts& f,
                              std::optional<std::chrono::milliseconds>& retried_after) {
  // RFC 6647 greylisting: a temporary failure until the same (client, sender, recipient)
  // comes back after retry_after; from then on it passes.
  std::string triplet = std::to_string(i);
  for (const std::string_view part : {f.client_ip, f.sender, f.recipient}) {
    triplet += '|';
    triplet += part;
  }
  const auto it = greylist_.find(triplet);
  if (it == greylist_.end()) {
    if (greylist_.size() >= max_greylist_entries) greylist_.clear();
    greylist_.emplace(std::move(triplet), f.now);
    return true;
  }
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(f.now - it->second);
  if (since >= *def_->rules[i].then.greylist) return false;
  retried_after = since;
  return true;
}

bool engine::state_allows(std::size_t i, const rule& r, const facts& f,
                          std::optional<std::chrono::milliseconds>& retried_after) {
  if (f.counters && session_scoped(r)) {
    // The session's own counters: one strand, no lock; only greylisting is shared.
    session_counters& mine = *f.counters;
    if (mine.owner_ != this) {
      mine.clear();
      mine.owner_ = this;
    }
    rule_counter& c =
        r.when.per == scope::session ? mine.session(i) : mine.transaction(i, f.transaction);
    if (!counters_fire(c, i, r, f)) return false;
    if (r.then.greylist) {
      std::lock_guard lock(mutex_);
      if (!still_greylisted(i, f, retried_after)) return false;
    }
    c.fired++;
    return true;
  }
  std::lock_guard lock(mutex_);
  rule_counter& c = counters_[{i, scope_key(r, f)}];  // std::map: the reference stays valid
  if (!counters_fire(c, i, r, f)) return false;
  if (r.then.greylist && !still_greylisted(i, f, retried_after)) return false;
  c.fired++;
  return true;
}

void engine::end_session(const std::string& session_id) {
  std::lock_guard lock(mutex_);
  if (counters_.empty()) return;
  const std::string transactions = session_id + "#";
  for (auto it = counters_.begin(); it != counters_.end();) {
    const auto& key = it->first.second;
    const bool mine = key == session_id || key.rfind(transactions, 0) == 0;
    const auto& r = def_->rules[it->first.first];
    if (mine && session_scoped(r))
      it = counters_.erase(it);
    else
      ++it;
  }
}

}  // namespace smtpmock::scenario
