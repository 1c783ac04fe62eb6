// Splits buffered input into command lines with a length limit and bare-CR/LF detection.
// It reads a caller-owned byte buffer from an offset it advances; it never holds more
// than one partial line, and a line over the limit is latched and drained to its LF, so
// memory stays bounded whatever the input (RFC 5321 4.5.3.1.4).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace smtpmock::smtp {

/// One complete input line.
struct input_line {
  std::string text;       ///< without the line terminator; truncated when too_long
  bool too_long = false;  ///< the line exceeded the limit (its excess was discarded)
  bool bare_lf = false;   ///< terminated by LF without CR
  bool bare_cr = false;   ///< contained a CR not followed by LF
};

class line_reader {
 public:
  /// Takes the next complete line from `buffer` starting at `pos`, advancing `pos` past it.
  /// `limit` counts octets including CRLF. Returns nullopt when no full line is buffered;
  /// an over-long partial line is then consumed (its head remembered) and drained later.
  std::optional<input_line> next(std::string_view buffer, std::size_t& pos, std::size_t limit);
  /// True while an over-long line is being drained.
  bool draining() const { return draining_; }

 private:
  bool draining_ = false;
  std::string kept_;  ///< the first `limit` octets of a line being drained
};

}  // namespace smtpmock::smtp
