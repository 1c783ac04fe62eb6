// swaks' transcript; see transcript.hpp. print() is swaks' ptrans: every line passes it, so the
// --silent, --hide-* and hint rules are in one place.
#include "client/transcript.hpp"

#include <cmath>
#include <cstdio>

#include "smtp/base64.hpp"

namespace smtpmock::client {

transcript_printer::transcript_printer(std::ostream& out, std::ostream& err, output_options o)
    : out_(out), err_(err), o_(std::move(o)) {}

void transcript_printer::print(int kind, std::string_view prefix, std::string_view line) {
  if ((o_.hide_send && kind / 10 == 2) || (o_.hide_receive && kind / 10 == 3) ||
      (o_.hide_informational && kind == 11))
    return;
  // swaks: 1 shows nothing until the first error, then everything; 2 errors only; 3 nothing.
  const bool is_error = kind % 2 == 0;
  if (o_.silent >= 3) return;
  if (o_.silent == 2 && !is_error) return;
  if (o_.silent == 1 && !seen_error_) {
    if (!is_error) return;
    seen_error_ = true;
  }
  const bool hints = kind / 10 == 1   ? !o_.no_info_hints
                     : kind / 10 == 2 ? !o_.no_send_hints
                                      : !o_.no_receive_hints;
  std::ostream& to = kind == 12 ? err_ : out_;
  if (hints) to << prefix << ' ';
  to << line << '\n';
}

void transcript_printer::info(std::string_view text) {
  print(11, "===", text);
  out_.flush();
}

void transcript_printer::finding(std::string_view text) {
  print(11, "!!", text);
  out_.flush();
}

void transcript_printer::error(std::string_view text) {
  print(12, "***", text);
  err_.flush();
}

namespace {

/// `text` decoded from base64 with NULs shown as "\0" (swaks -apt), or as it is when it is not
/// base64.
std::string plaintext(const std::string& text) {
  auto decoded = smtp::base64_decode(text);
  if (!decoded || text.empty()) return text;
  std::string out;
  for (char c : *decoded)
    out += c == '\0' ? std::string("\\0") : std::string(1, c);
  return out;
}

}  // namespace

std::string transcript_printer::shown_auth_reply(const std::string& line) const {
  if (!o_.auth_plaintext || !line.starts_with("334 ")) return line;
  return "334 " + plaintext(line.substr(4));
}

std::string transcript_printer::shown_auth_line(const std::string& typed) const {
  std::string line = typed;
  if (o_.hide_password) line = hidden_auth_line(line);
  if (!o_.auth_plaintext || line == "*") return line;
  if (line.starts_with("AUTH ")) {
    const std::size_t space = line.find(' ', 5);
    if (space == std::string::npos) return line;
    return line.substr(0, space + 1) + plaintext(line.substr(space + 1));
  }
  return plaintext(line);
}

std::string transcript_printer::hidden_auth_line(const std::string& line) const {
  const std::string& hide = *o_.hide_password;
  const std::string plain =
      smtp::base64_encode(std::string(1, '\0') + o_.auth_user + '\0' + o_.auth_password);
  const std::string plain_hidden =
      smtp::base64_encode(std::string(1, '\0') + o_.auth_user + '\0' + hide);
  if (line == "AUTH PLAIN " + plain) return "AUTH PLAIN " + plain_hidden;
  if (line == plain) return plain_hidden;  // PLAIN after an empty 334
  if (line == smtp::base64_encode(o_.auth_password)) return smtp::base64_encode(hide);  // LOGIN
  return line;
}

void transcript_printer::event(const timed_event& t) {
  const auto& ev = t.event;
  if (ev.kind == smtp::client_event_kind::sent) {
    const char* arrow = ev.tls ? "~>" : "->";
    const std::string prefix = std::string(" ") + arrow;
    if (ev.stage == smtp::client_stage::message && o_.suppress_data) {
      // swaks -n: the message as a count of its lines (the final "." included).
      print(21, prefix, std::to_string(ev.lines.size()) + " lines sent");
    } else if (ev.stage == smtp::client_stage::auth) {
      for (const auto& line : ev.lines)
        print(21, prefix, shown_auth_line(line));
    } else {
      for (const auto& line : ev.lines)
        print(21, prefix, line);
    }
    if (ev.lines.empty() && ev.octets > 0)
      print(21, prefix, "<" + std::to_string(ev.octets) + " octets of message data>");
  } else {
    if (o_.time_lapse != output_options::lapse::off && t.latency_ms >= 0) {
      char text[64];
      if (o_.time_lapse == output_options::lapse::hires) {
        std::snprintf(text, sizeof text, "response in %.3fs", t.latency_ms / 1000.0);
      } else {
        std::snprintf(text, sizeof text, "response in %llds",
                      static_cast<long long>(std::floor(t.latency_ms / 1000.0)));
      }
      print(11, "===", text);
    }
    const char* prefix = ev.unexpected ? (ev.tls ? "<~*" : "<**") : ev.tls ? "<~ " : "<- ";
    for (const auto& line : ev.lines)
      print(ev.unexpected ? 32 : 31, prefix,
            ev.stage == smtp::client_stage::auth ? shown_auth_reply(line) : line);
  }
  out_.flush();
}

}  // namespace smtpmock::client
