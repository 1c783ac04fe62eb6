// Log value escaping; see log_text.hpp.
#include "net/log_text.hpp"

namespace smtpmock::net {
namespace {

void append_escaped(std::string& out, char c) {
  static constexpr char hex[] = "0123456789abcdef";
  auto u = static_cast<unsigned char>(c);
  switch (c) {
    case '\r':
      out += "\\r";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  if (u < 0x20 || u == 0x7f) {
    out += "\\x";
    out += hex[u >> 4];
    out += hex[u & 0xf];
  } else {
    out += c;
  }
}

}  // namespace

std::string escape_control(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text)
    append_escaped(out, c);
  return out;
}

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    append_escaped(out, c);
  }
  out += '"';
  return out;
}

}  // namespace smtpmock::net
