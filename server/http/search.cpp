// The search query parser and matcher; see search.hpp. Tokens are split on white space
// outside double quotes; `prefix:value` names a field only for the prefixes below, so a
// free-text term may itself contain a colon ("re:", "10:30").
#include "http/search.hpp"

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
    {"from", field::from},       {"to", field::to},           {"cc", field::cc},
    {"bcc", field::bcc},         {"subject", field::subject}, {"message-id", field::message_id},
    {"session", field::session},
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

}  // namespace

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
      for (const auto& p : prefixes) {
        if (key == p.name) {
          t.on = p.on;
          t.value = value;
          known = true;
        }
      }
      if (key == "is") {
        known = true;
        if (value == "read") {
          t.on = field::is_read;
        } else if (value == "unread") {
          t.on = field::is_unread;
        } else {
          throw std::invalid_argument("unsupported search term is:" + value +
                                      " (smtpmock knows is:read and is:unread)");
        }
      } else if (key == "has") {
        known = true;
        if (value == "attachment" || value == "attachments") {
          t.on = field::has_attachment;
        } else {
          throw std::invalid_argument("unsupported search term has:" + value +
                                      " (smtpmock knows has:attachment)");
        }
      }
      if (known && t.value.empty() && t.on != field::is_read && t.on != field::is_unread &&
          t.on != field::has_attachment) {
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
      case field::has_attachment:
        hit = m.attachments > 0;
        break;
    }
    if (hit == t.negated) return false;
  }
  return true;
}

}  // namespace smtpmock::http
