// Decodes the DATA phase: dot-unstuffing, end-of-data detection, per-line and size limits.
// End of data is recognised only at CRLF "." CRLF (RFC 5321 4.1.1.4); a leading dot is removed
// only at the start of a line (4.5.2). Bare LF or CR is latched and reported after the end of
// data unless the bare-LF quirk accepts it. Memory is bounded by the size limit: beyond it the
// bytes are counted and discarded, never stored.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "smtp/personality.hpp"

namespace smtpmock::smtp {

class data_decoder {
 public:
  data_decoder(std::size_t size_limit, bare_lf_mode bare_lf);

  /// Consumes bytes of `in` from `pos`, advancing it; returns true once the end-of-data
  /// marker was read (`pos` then points just after it).
  bool feed(std::string_view in, std::size_t& pos);

  const std::string& message() const { return message_; }
  std::string take_message() { return std::move(message_); }
  std::size_t size() const { return size_; }  ///< octets after unstuffing, even if discarded
  bool too_big() const { return size_ > size_limit_; }
  bool line_too_long() const { return line_too_long_; }
  /// A bare LF or CR was read (latched even when the bare-LF quirk accepts LF as a line end).
  bool bare_line_end() const { return saw_bare_lf_ || saw_bare_cr_; }
  bool bare_lf() const { return saw_bare_lf_; }  ///< an LF without CR before it
  bool bare_cr() const { return saw_bare_cr_; }  ///< a CR not followed by LF
  /// The first line (1-based) that began with a single "." followed by text: a line a client
  /// that dot-stuffs never sends (RFC 5321 4.5.2); 0 when none did.
  std::size_t unstuffed_dot_line() const { return unstuffed_dot_line_; }
  std::size_t lines() const { return lines_; }

 private:
  enum class state { line_start, in_line, cr, dot, dot_cr };
  void put(char c);
  void put_run(std::string_view run);  ///< ordinary octets inside a line
  bool step(char c);

  std::size_t size_limit_;
  bare_lf_mode bare_lf_;
  state state_ = state::line_start;
  std::string message_;
  std::size_t size_ = 0;
  std::size_t line_length_ = 0;
  std::size_t lines_ = 0;
  bool line_too_long_ = false;
  bool saw_bare_lf_ = false;
  bool saw_bare_cr_ = false;
  std::size_t unstuffed_dot_line_ = 0;
};

}  // namespace smtpmock::smtp
