// The search query parser and matcher; see search.hpp. Tokens are split on white space
// outside double quotes; `prefix:value` names a field only for the prefixes below, so a
// free-text term may itself contain a colon ("re:", "10:30").
#include "http/search.hpp"

#include <algorithm>

#include <charconv>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace smtpmock::http {
namespace {

using field = search_term::field;

struct prefix {
  std::string_view name;
  field on;
};
constexpr prefix prefixes[] = {
    {"from", field::from},
    {"to", field::to},
    {"cc", field::cc},
    {"bcc", field::bcc},
    {"subject", field::subject},
    {"message-id", field::message_id},
    {"session", field::session},
    {"reply-to", field::reply_to},
    {"addressed", field::addressed},
};

/// Splits on spaces outside quotes; quotes are removed ("a b" is one token).
std::vector<std::string> tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  bool any = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
      continue;
    }
    if (!quoted && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
      if (any) out.push_back(std::move(current));
      current.clear();
      any = false;
      continue;
    }
    current.push_back(c);
    any = true;
  }
  if (any) out.push_back(std::move(current));
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return ascii_lower(haystack).find(needle) != std::string::npos;
}

/// Reads exactly `digits` decimal digits at `s[pos]` into `out`, advancing `pos`.
bool read_digits(std::string_view s, std::size_t& pos, int digits, int& out) {
  if (pos + static_cast<std::size_t>(digits) > s.size()) return false;
  out = 0;
  for (int i = 0; i < digits; ++i) {
    const char c = s[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(digits);
  return true;
}

bool at(std::string_view s, std::size_t pos, char c) {
  return pos < s.size() && s[pos] == c;
}

}  // namespace

std::optional<std::int64_t> parse_search_date(std::string_view s) {
  using namespace std::chrono;
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!read_digits(s, pos, 4, y) || !at(s, pos++, '-') || !read_digits(s, pos, 2, mo) ||
      !at(s, pos++, '-') || !read_digits(s, pos, 2, d)) {
    return std::nullopt;
  }
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)),
                           day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  std::int64_t ms = 0;
  int offset_minutes = 0;
  if (pos < s.size()) {
    if (s[pos] != ' ' && s[pos] != 't' && s[pos] != 'T') return std::nullopt;
    ++pos;
    if (!read_digits(s, pos, 2, h) || !at(s, pos++, ':') || !read_digits(s, pos, 2, mi))
      return std::nullopt;
    if (at(s, pos, ':')) {
      ++pos;
      if (!read_digits(s, pos, 2, sec)) return std::nullopt;
      if (at(s, pos, '.')) {
        ++pos;
        int scale = 100;
        const std::size_t first = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          ms += (s[pos] - '0') * scale;
          scale /= 10;
          ++pos;
        }
        if (pos == first) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
    if (at(s, pos, 'z') || at(s, pos, 'Z')) {
      ++pos;
    } else if (at(s, pos, '+') || at(s, pos, '-')) {
      const int sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int oh = 0, om = 0;
      if (!read_digits(s, pos, 2, oh)) return std::nullopt;
      if (at(s, pos, ':')) ++pos;
      if (!read_digits(s, pos, 2, om) || oh > 23 || om > 59) return std::nullopt;
      offset_minutes = sign * (oh * 60 + om);
    }
    if (pos != s.size()) return std::nullopt;
  }
  const auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec) - minutes(offset_minutes);
  return duration_cast<milliseconds>(t.time_since_epoch()).count() + ms;
}

std::optional<std::uint64_t> parse_search_size(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
    ++pos;
  if (pos == 0) return std::nullopt;
  if (at(s, pos, '.')) {
    const std::size_t dot = pos++;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
      ++pos;
    if (pos == dot + 1) return std::nullopt;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + pos, value);
  if (ec != std::errc() || ptr != s.data() + pos || !std::isfinite(value)) return std::nullopt;
  std::string_view unit = s.substr(pos);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  const std::string u = ascii_lower(unit);
  double factor = 0;
  if (u.empty()) {
    factor = 1;
  } else if (u == "k" || u == "kb") {
    factor = 1024;
  } else if (u == "m" || u == "mb") {
    factor = 1024.0 * 1024.0;
  } else {
    return std::nullopt;
  }
  const double bytes = std::floor(value * factor);
  if (bytes >= 9.0e18) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

search_query search_query::parse(std::string_view text) {
  search_query q;
  for (std::string token : tokens(text)) {
    search_term t;
    if (token.size() > 1 && (token.front() == '-' || token.front() == '!')) {
      t.negated = true;
      token.erase(0, 1);
    }
    const std::string lowered = ascii_lower(token);
    t.value = lowered;
    const auto colon = lowered.find(':');
    if (colon != std::string::npos) {
      const std::string_view key = std::string_view(lowered).substr(0, colon);
      const std::string value = lowered.substr(colon + 1);
      bool known = false;
      bool needs_value = true;
      for (const auto& p : prefixes) {
        if (key == p.name) {
          t.on = p.on;
          t.value = value;
          known = true;
        }
      }
      if (key == "is") {
        known = true;
        needs_value = false;
        if (value == "read") {
          t.on = field::is_read;
        } else if (value == "unread") {
          t.on = field::is_unread;
        } else if (value == "tagged") {
          t.on = field::is_tagged;
        } else {
          throw std::invalid_argument("unsupported search term is:" + value +
                                      " (smtpmock knows is:read, is:unread and is:tagged)");
        }
      } else if (key == "has") {
        known = true;
        needs_value = false;
        if (value == "attachment" || value == "attachments") {
          t.on = field::has_attachment;
        } else if (value == "inline" || value == "inlines") {
          t.on = field::has_inline;
        } else {
          throw std::invalid_argument("unsupported search term has:" + value +
                                      " (smtpmock knows has:attachment and has:inline)");
        }
      } else if (key == "tag" || key == "listener") {
        known = true;
        t.on = key == "tag" ? field::tag : field::listener;
        t.value = value;
      } else if (key == "after" || key == "before") {
        known = true;
        t.on = key == "after" ? field::after : field::before;
        t.value = value;
        if (!value.empty()) {
          const auto ms = parse_search_date(value);
          if (!ms) {
            throw std::invalid_argument(
                "bad date in search term " + token +
                ": expected YYYY-MM-DD, \"YYYY-MM-DD HH:MM[:SS]\" or RFC 3339 "
                "(2024-01-02T15:04:05Z); times without a zone are UTC");
          }
          t.number = *ms;
        }
      } else if (key == "larger" || key == "smaller") {
        known = true;
        t.on = key == "larger" ? field::larger : field::smaller;
        t.value = value;
        if (!value.empty()) {
          const auto bytes = parse_search_size(value);
          if (!bytes) {
            throw std::invalid_argument("bad size in search term " + token +
                                        ": expected octets (100) or a size such as 2kb, 4MB "
                                        "or 1.5m (k = 1024)");
          }
          t.number = static_cast<std::int64_t>(*bytes);
        }
      }
      if (known && needs_value && t.value.empty()) {
        throw std::invalid_argument("search term " + std::string(key) + ": needs a value");
      }
    }
    q.terms_.push_back(std::move(t));
  }
  return q;
}

bool search_query::matches(const search_fields& m) const {
  for (const auto& t : terms_) {
    bool hit = false;
    switch (t.on) {
      case field::any:
        hit = contains(m.subject, t.value) || contains(m.from, t.value) ||
              contains(m.to, t.value) || contains(m.cc, t.value) || contains(m.bcc, t.value) ||
              contains(m.text, t.value);
        break;
      case field::from:
        hit = contains(m.from, t.value);
        break;
      case field::to:
        hit = contains(m.to, t.value);
        break;
      case field::cc:
        hit = contains(m.cc, t.value);
        break;
      case field::bcc:
        hit = contains(m.bcc, t.value);
        break;
      case field::reply_to:
        hit = contains(m.reply_to, t.value);
        break;
      case field::addressed:
        hit = contains(m.from, t.value) || contains(m.to, t.value) || contains(m.cc, t.value) ||
              contains(m.bcc, t.value) || contains(m.reply_to, t.value);
        break;
      case field::subject:
        hit = contains(m.subject, t.value);
        break;
      case field::message_id:
        hit = contains(m.message_id, t.value);
        break;
      case field::session:
        hit = ascii_lower(m.session_id) == t.value;
        break;
      case field::is_read:
        hit = m.read;
        break;
      case field::is_unread:
        hit = !m.read;
        break;
      case field::is_tagged:
        hit = !m.tags.empty();
        break;
      case field::tag:
        hit = std::find(m.tags.begin(), m.tags.end(), t.value) != m.tags.end();
        break;
      case field::listener:
        hit = m.listener == t.value;
        break;
      case field::has_attachment:
        hit = m.attachments > 0;
        break;
      case field::has_inline:
        hit = m.inlines > 0;
        break;
      // Mailpit negates the comparisons by flipping them, bounds included: -after:T is
      // "received at or before T", -larger:N is "smaller than N" (N itself matches neither).
      case field::after:
        if (t.negated ? m.received_ms > t.number : m.received_ms < t.number) return false;
        continue;
      case field::before:
        if (t.negated ? m.received_ms < t.number : m.received_ms > t.number) return false;
        continue;
      case field::larger: {
        const auto size = static_cast<std::int64_t>(m.size);
        if (t.negated ? size >= t.number : size <= t.number) return false;
        continue;
      }
      case field::smaller: {
        const auto size = static_cast<std::int64_t>(m.size);
        if (t.negated ? size <= t.number : size >= t.number) return false;
        continue;
      }
    }
    if (hit == t.negated) return false;
  }
  return true;
}

}  // namespace smtpmock::http
