// The reply invariants the server core must keep whatever it is fed: each respond() writes
// exactly one reply; every line is "DDD" then SP or '-', ends with CRLF, holds no other CR or
// LF and is at most 512 octets with its CRLF (RFC 5321 4.2, 4.5.3.1.5); the lines of one
// reply share their code and only the last has SP. Traps on the first violation.
#pragma once

#include <string_view>

#include "fuzz_input.hpp"
#include "smtp/limits.hpp"

namespace smtpmock::fuzz {

/// Checks that `out` is exactly one well-formed reply with code `code`.
inline void check_one_reply(std::string_view out, int code) {
  require(code >= 200 && code <= 599, "reply code outside 200..599");
  require(out.size() >= 2 && out.substr(out.size() - 2) == "\r\n", "reply does not end in CRLF");
  while (!out.empty()) {
    const auto end = out.find("\r\n");
    require(end != std::string_view::npos, "reply line without CRLF");
    const std::string_view line = out.substr(0, end);
    out.remove_prefix(end + 2);
    require(line.find_first_of("\r\n") == std::string_view::npos, "bare CR or LF in a reply");
    require(line.size() + 2 <= smtp::limits::reply_line, "reply line over 512 octets");
    require(line.size() >= 4, "reply line shorter than 'DDD '");
    for (int i = 0; i < 3; ++i)
      require(line[i] >= '0' && line[i] <= '9', "reply line without a three-digit code");
    const int line_code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    require(line_code == code, "reply line code differs from the reply's code");
    const bool last = out.empty();
    require(line[3] == (last ? ' ' : '-'), "multi-line reply separators inconsistent");
  }
}

}  // namespace smtpmock::fuzz
