// Command-line splitting and MAIL/RCPT path parsing (RFC 5321 4.1.1, 4.1.2).
#include "smtp/command.hpp"

#include <algorithm>

#include "smtp/limits.hpp"

namespace smtpmock::smtp {
namespace {

char to_upper(char c) {
  return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c;
}
// RFC 5321 4.1.1: "SP" separates a verb from its argument and parameters from each other; a
// TAB is not a separator (and is refused with every other control character, see
// has_control_character).
bool is_space(char c) {
  return c == ' ';
}
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

// RFC 5321 4.1.2 Domain / address-literal, leniently: LDH labels, or [literal].
bool valid_domain(std::string_view d) {
  if (d.empty()) return false;
  if (d.front() == '[') return d.size() > 2 && d.back() == ']';
  for (char c : d) {
    const auto u = static_cast<unsigned char>(c);
    if (!(is_alnum(c) || c == '-' || c == '.' || c == '_' || u >= 0x80)) return false;
  }
  return d.front() != '.' && d.back() != '.';
}

// RFC 5321 4.1.2 Local-part: dot-string or quoted-string (non-ASCII allowed for SMTPUTF8).
bool valid_local_part(std::string_view l) {
  if (l.empty()) return false;
  if (l.front() == '"') return l.size() >= 2 && l.back() == '"';
  for (char c : l) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == ':' || c == '\\' || c == '[' || c == ']' || c == '"' || c == '@')
      return false;
  }
  return true;
}

// The '@' that separates local part and domain: the last one outside quotes, or npos.
std::size_t mailbox_at(std::string_view m) {
  std::size_t at = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '"' && (i == 0 || m[i - 1] != '\\')) quoted = !quoted;
    if (m[i] == '@' && !quoted) at = i;
  }
  return at;
}

bool valid_mailbox(std::string_view m) {
  const std::size_t at = mailbox_at(m);
  if (at == std::string_view::npos) return false;
  return valid_local_part(m.substr(0, at)) && valid_domain(m.substr(at + 1));
}

// RFC 5321 4.5.3.1.1 / 4.5.3.1.2: local part at most 64 octets, domain at most 255.
bool mailbox_within_limits(std::string_view m) {
  const std::size_t at = mailbox_at(m);
  if (at == std::string_view::npos) return true;  // "postmaster"
  return at <= limits::local_part && m.size() - at - 1 <= limits::domain;
}

bool is_hex_upper(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// RFC 6533 3 utf-8-addr-xtext: QCHAR (a CHAR from "!" to "~" other than "+", "=" and the
// backslash, or a UTF-8 octet) or an EmbeddedUnicodeChar \x{HEXPOINT}. The UTF-8 sequences
// themselves are not validated here.
bool valid_utf8_addr_xtext(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (s[i] == '\\') {
      if (s.substr(i, 3) != "\\x{") return false;
      const auto close = s.find('}', i + 3);
      if (close == std::string_view::npos || close == i + 3 || close - i - 3 > 6) return false;
      for (std::size_t j = i + 3; j < close; ++j)
        if (!is_hex_upper(s[j])) return false;
      i = close;
    } else if (u < 0x80 && (u < '!' || u > '~' || s[i] == '+' || s[i] == '=')) {
      return false;
    }
  }
  return true;
}

// RFC 5322 3.2.3 atext, the characters of an RFC 3461 4.2 addr-type (an atom).
bool is_atext(char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool valid_keyword(std::string_view k) {
  if (k.empty() || !is_alnum(k.front())) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool valid_value(std::string_view v) {
  // RFC 5321 4.1.2 esmtp-value: any CHAR except "=", SP and control characters.
  return std::all_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && c != '=';
  });
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  }
  return true;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = to_upper(c);
  return out;
}

std::string_view verb_name(verb v) {
  switch (v) {
    case verb::helo:
      return "helo";
    case verb::ehlo:
      return "ehlo";
    case verb::mail:
      return "mail";
    case verb::rcpt:
      return "rcpt";
    case verb::data:
      return "data";
    case verb::bdat:
      return "bdat";
    case verb::rset:
      return "rset";
    case verb::noop:
      return "noop";
    case verb::vrfy:
      return "vrfy";
    case verb::expn:
      return "expn";
    case verb::help:
      return "help";
    case verb::quit:
      return "quit";
    case verb::auth:
      return "auth";
    case verb::starttls:
      return "starttls";
    case verb::unknown:
      break;
  }
  return "unknown";
}

command parse_command(std::string_view line) {
  command c;
  std::string_view rest = line;
  while (!rest.empty() && is_space(rest.front()))
    rest.remove_prefix(1);
  std::size_t end = 0;
  while (end < rest.size() && !is_space(rest[end]))
    ++end;
  c.word = std::string(rest.substr(0, end));
  c.argument = std::string(trim(rest.substr(end)));
  for (const auto& row : command_table) {
    if (iequals(row.name, c.word)) {
      c.id = row.id;
      break;
    }
  }
  return c;
}

path_error parse_path(std::string_view argument, std::string_view prefix, path_argument& out) {
  out = {};
  std::string_view s = trim(argument);
  if (s.size() < prefix.size() + 1 || !iequals(s.substr(0, prefix.size()), prefix) ||
      s[prefix.size()] != ':')
    return path_error::missing_prefix;
  s.remove_prefix(prefix.size() + 1);
  // NOTE(compat): RFC 5321 has no space after the colon, but "MAIL FROM: <a@b>" is how
  // people type it in telnet and how real servers accept it.
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  if (s.empty() || s.front() != '<') return path_error::bad_path;
  // Find the closing '>' outside a quoted local part.
  std::size_t close = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '"' && s[i - 1] != '\\') quoted = !quoted;
    if (s[i] == '>' && !quoted) {
      close = i;
      break;
    }
  }
  if (close == std::string_view::npos) return path_error::bad_path;
  // RFC 5321 4.5.3.1.3: the whole path, angle brackets and any source route included.
  if (close + 1 > limits::path) return path_error::too_long;
  std::string_view path = s.substr(1, close - 1);
  // RFC 5321 4.1.2 / C: an obsolete source route "@a,@b:" is accepted and ignored.
  if (!path.empty() && path.front() == '@') {
    const auto colon = path.find(':');
    if (colon == std::string_view::npos) return path_error::bad_path;
    path.remove_prefix(colon + 1);
  }
  if (!path.empty() && !valid_mailbox(path) && !iequals(path, "postmaster"))
    return path_error::bad_path;
  if (!mailbox_within_limits(path)) return path_error::too_long;
  out.address = std::string(path);

  std::string_view params = s.substr(close + 1);
  if (!params.empty() && !is_space(params.front())) return path_error::bad_parameter;
  while (true) {
    while (!params.empty() && is_space(params.front()))
      params.remove_prefix(1);
    if (params.empty()) break;
    std::size_t end = 0;
    while (end < params.size() && !is_space(params[end]))
      ++end;
    const std::string_view token = params.substr(0, end);
    params.remove_prefix(end);
    parameter p;
    const auto eq = token.find('=');
    const std::string_view key = token.substr(0, eq);
    if (!valid_keyword(key)) return path_error::bad_parameter;
    p.keyword = upper(key);
    if (eq != std::string_view::npos) {
      p.has_value = true;
      p.value = std::string(token.substr(eq + 1));
      if (p.value.empty() || !valid_value(p.value)) return path_error::bad_parameter;
    }
    out.params.push_back(std::move(p));
  }
  return path_error::none;
}

bool has_control_character(std::string_view line) {
  return std::any_of(line.begin(), line.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool is_domain_name(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  std::size_t labels = 0;
  while (true) {
    const auto dot = s.find('.');
    const std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return labels >= 2;
}

bool is_domain_or_address_literal(std::string_view s) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') return true;
  return is_domain_name(s);
}

bool valid_xtext(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (s[i] == '+') {
      // hexchar = "+" 2(%x30-39 / %x41-46): upper-case hex only.
      if (i + 2 >= s.size()) return false;
      if (!is_hex_upper(s[i + 1]) || !is_hex_upper(s[i + 2])) return false;
      i += 2;
    } else if (u < '!' || u > '~' || s[i] == '=') {
      return false;
    }
  }
  return true;
}

bool valid_notify(std::string_view value) {
  if (iequals(value, "NEVER")) return true;
  // Every element one of SUCCESS, FAILURE, DELAY; no empty element (so NEVER cannot be listed).
  while (true) {
    const auto comma = value.find(',');
    const std::string_view element = value.substr(0, comma);
    if (!iequals(element, "SUCCESS") && !iequals(element, "FAILURE") && !iequals(element, "DELAY"))
      return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

bool valid_orcpt(std::string_view value) {
  const auto semi = value.find(';');
  if (semi == std::string_view::npos || semi == 0) return false;
  const std::string_view type = value.substr(0, semi);
  const std::string_view address = value.substr(semi + 1);
  if (!std::all_of(type.begin(), type.end(), is_atext) || address.empty()) return false;
  return iequals(type, "utf-8") ? valid_utf8_addr_xtext(address) : valid_xtext(address);
}

}  // namespace smtpmock::smtp
