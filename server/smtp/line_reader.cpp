// Command-line splitting with a length limit (RFC 5321 4.5.3.1.4) and bare CR/LF detection.
#include "smtp/line_reader.hpp"

#include <algorithm>

namespace smtpmock::smtp {

std::optional<input_line> line_reader::next(std::string_view buffer, std::size_t& pos,
                                            std::size_t limit) {
  const std::string_view rest = buffer.substr(pos);
  const auto lf = rest.find('\n');
  if (lf == std::string_view::npos) {
    // No line end yet. A partial line that already reaches the limit can never become a
    // valid line: keep its head for the reply, drop the rest, and drain to its LF.
    const std::size_t held = draining_ ? 0 : rest.size();
    if (draining_ || held >= limit) {
      if (!draining_) kept_.assign(rest.substr(0, limit));
      draining_ = true;
      pos = buffer.size();
    }
    return std::nullopt;
  }
  input_line line;
  const std::string_view raw = rest.substr(0, lf);
  pos += lf + 1;
  line.bare_lf = raw.empty() || raw.back() != '\r';
  std::string_view text = line.bare_lf ? raw : raw.substr(0, raw.size() - 1);
  if (draining_) {
    draining_ = false;
    line.too_long = true;
    line.text = std::move(kept_);
    kept_.clear();
  } else {
    line.too_long = lf + 1 > limit;
    line.text.assign(text.substr(0, std::min(text.size(), limit)));
  }
  line.bare_cr = line.text.find('\r') != std::string::npos;
  return line;
}

}  // namespace smtpmock::smtp
