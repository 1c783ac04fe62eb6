// Derived facts of a personality, the built-in default, and reply templates.
#include "smtp/personality.hpp"

#include <algorithm>
#include <stdexcept>

#include <charconv>

#include "smtp/command.hpp"
#include "smtp/limits.hpp"

namespace smtpmock::smtp {

std::optional<std::string_view> personality::extension(std::string_view keyword) const {
  for (const auto& ext : extensions) {
    const std::string_view e(ext);
    std::size_t end = 0;
    while (end < e.size() && e[end] != ' ' && e[end] != '=')
      ++end;
    if (iequals(e.substr(0, end), keyword)) return e;
  }
  return std::nullopt;
}

std::size_t personality::message_size_limit() const {
  if (limits.max_message_size > 0) return limits.max_message_size;
  if (auto size = extension("SIZE")) {
    // RFC 1870 4: "SIZE 0" or a bare "SIZE" declares no fixed maximum.
    const auto space = size->find(' ');
    if (space != std::string_view::npos) {
      const auto digits = size->substr(space + 1);
      std::size_t value = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (ec == std::errc{} && value > 0) return value;
    }
  }
  return limits::default_message_size;
}

std::vector<std::string> personality::auth_mechanisms() const {
  std::vector<std::string> out;
  auto ext = extension("AUTH");
  if (!ext) return out;
  std::string_view rest = ext->substr(4);  // after "AUTH"; " PLAIN LOGIN" or "=PLAIN LOGIN"
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '='))
      rest.remove_prefix(1);
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ' ')
      ++end;
    if (end > 0) out.push_back(upper(rest.substr(0, end)));
    rest.remove_prefix(end);
  }
  return out;
}

bool personality::check_credentials(std::string_view user, std::string_view password) const {
  if (auth.accept_any) return true;
  for (const auto& u : auth.users) {
    if (u.user == user && u.password == password) return true;
  }
  return false;
}

personality default_personality() {
  personality p;
  p.name = "default";
  p.description = "A modern ESMTP server that accepts everything";
  p.extensions = {"PIPELINING",
                  "SIZE 52428800",
                  "8BITMIME",
                  "ENHANCEDSTATUSCODES",
                  "AUTH PLAIN LOGIN CRAM-MD5",
                  "STARTTLS",
                  "SMTPUTF8",
                  "DSN",
                  "CHUNKING"};
  p.auth.accept_any = true;
  return p;
}

template_values::template_values(
    std::initializer_list<std::pair<std::string_view, std::string>> init) {
  for (const auto& [name, value] : init)
    (*this)[name] = value;
}

std::size_t template_values::index_of(std::string_view name) {
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

std::string& template_values::operator[](std::string_view name) {
  const std::size_t i = index_of(name);
  if (i == names.size()) throw std::out_of_range("not a template name: " + std::string(name));
  set_ = static_cast<std::uint16_t>(set_ | (1u << i));
  return values_[i];
}

void template_values::erase(std::string_view name) {
  const std::size_t i = index_of(name);
  if (i == names.size()) return;
  values_[i].clear();
  set_ = static_cast<std::uint16_t>(set_ & ~(1u << i));
}

const std::string* template_values::find(std::string_view name) const {
  const std::size_t i = index_of(name);
  return i < names.size() && (set_ & (1u << i)) != 0 ? &values_[i] : nullptr;
}

std::string expand_template(std::string_view text, const template_values& values) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      const auto close = text.find('}', i + 1);
      if (close != std::string_view::npos) {
        if (const std::string* value = values.find(text.substr(i + 1, close - i - 1))) {
          for (char c : *value) {
            const auto u = static_cast<unsigned char>(c);
            if (u >= 0x20 && u != 0x7f) out.push_back(c);  // no CR, LF, ESC or other controls
          }
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

}  // namespace smtpmock::smtp
