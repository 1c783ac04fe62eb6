// The DATA phase decoder: dot-unstuffing and end-of-data detection, a byte at a time at line
// ends and a run at a time inside lines.
#include "smtp/data_decoder.hpp"

#include <cstring>

#include <algorithm>

#include "smtp/limits.hpp"

namespace smtpmock::smtp {

data_decoder::data_decoder(std::size_t size_limit, bare_lf_mode bare_lf)
    : size_limit_(size_limit), bare_lf_(bare_lf) {}

void data_decoder::put(char c) {
  ++size_;
  // Beyond the limit the octets are counted (for the 552) but never stored.
  if (size_ <= size_limit_) message_.push_back(c);
}

namespace {

/// The first CR or LF at or after `pos` (in.size() when none): two vectorised scans.
std::size_t line_end(std::string_view in, std::size_t pos) {
  const char* from = in.data() + pos;
  std::size_t n = in.size() - pos;
  if (const void* cr = std::memchr(from, '\r', n)) n = static_cast<const char*>(cr) - from;
  if (const void* lf = std::memchr(from, '\n', n)) n = static_cast<const char*>(lf) - from;
  return pos + n;
}

}  // namespace

void data_decoder::put_run(std::string_view run) {
  line_length_ += run.size();
  if (line_length_ > limits::text_line) line_too_long_ = true;
  const std::size_t room = size_ < size_limit_ ? size_limit_ - size_ : 0;
  message_.append(run.data(), std::min(room, run.size()));
  size_ += run.size();
}

bool data_decoder::feed(std::string_view in, std::size_t& pos) {
  while (pos < in.size()) {
    if (state_ == state::in_line) {
      // Inside a line every octet but CR and LF is copied as it is: a whole run at once,
      // exactly as step() would one by one.
      const std::size_t end = line_end(in, pos);
      if (end > pos) {
        put_run(in.substr(pos, end - pos));
        pos = end;
        continue;
      }
    }
    if (step(in[pos++])) return true;
  }
  return false;
}

// Returns true at the end-of-data marker. RFC 5321 4.1.1.4: the end is CRLF "." CRLF and
// nothing else; 4.5.2: a leading "." of a line is removed. Bare LF/CR (2.3.8) is latched.
bool data_decoder::step(char c) {
  // RFC 5321 4.5.3.1.6: text lines are at most 1000 octets including CRLF (on the wire).
  if (++line_length_ > limits::text_line) line_too_long_ = true;
  const bool lf_ends_lines = bare_lf_ == bare_lf_mode::accept;
  switch (state_) {
    case state::line_start:
      if (c == '.') {
        state_ = state::dot;
        return false;
      }
      state_ = state::in_line;
      break;
    case state::dot:
      if (c == '\r') {
        state_ = state::dot_cr;
        return false;
      }
      if (c == '\n' && lf_ends_lines) {
        saw_bare_lf_ = true;
        return true;  // the smuggling-prone "\n.\n" end
      }
      // ".." is a stuffed dot; "." and then text was not stuffed. Either way it is dropped.
      if (c != '.' && c != '\n' && unstuffed_dot_line_ == 0) unstuffed_dot_line_ = lines_ + 1;
      state_ = state::in_line;
      break;
    case state::dot_cr:
      if (c == '\n') return true;
      saw_bare_cr_ = true;  // ".\r" then something else: a bare CR
      put('\r');
      state_ = state::in_line;
      break;
    case state::cr:
      if (c == '\n') {
        put('\n');
        state_ = state::line_start;
        line_length_ = 0;
        ++lines_;
        return false;
      }
      saw_bare_cr_ = true;
      if (c == '\r') {
        put('\r');
        return false;
      }
      state_ = state::in_line;
      break;
    case state::in_line:
      break;
  }
  // state_ is in_line here: an ordinary octet of a line.
  if (c == '\r') {
    put('\r');
    state_ = state::cr;
  } else if (c == '\n') {
    put('\n');
    saw_bare_lf_ = true;
    if (lf_ends_lines) {
      state_ = state::line_start;
      line_length_ = 0;
      ++lines_;
    }
  } else {
    put(c);
  }
  return false;
}

}  // namespace smtpmock::smtp
