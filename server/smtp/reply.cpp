// Reply parsing, the stock reply table and the single serialiser of outgoing bytes.
#include "smtp/reply.hpp"

#include <array>

#include "smtp/limits.hpp"

namespace smtpmock::smtp {
namespace {

struct stock_row {
  stock id;
  int code;
  const char* enhanced;
  const char* text;
};

// One table of stock replies, used by the core and by the tests.
constexpr std::array stock_table{
    stock_row{stock::service_ready, 220, "", "ESMTP ready"},
    stock_row{stock::closing, 221, "2.0.0", "Bye"},
    stock_row{stock::auth_ok, 235, "2.7.0", "Authentication successful"},
    stock_row{stock::ok, 250, "2.0.0", "Ok"},
    stock_row{stock::sender_ok, 250, "2.1.0", "Sender ok"},
    stock_row{stock::recipient_ok, 250, "2.1.5", "Recipient ok"},
    stock_row{stock::queued, 250, "2.0.0", "Ok: queued as {queue_id}"},
    stock_row{stock::cannot_vrfy, 252, "2.5.0",
              "Cannot VRFY user, but will accept message and attempt delivery"},
    stock_row{stock::help, 214, "2.0.0", "See https://www.rfc-editor.org/rfc/rfc5321"},
    stock_row{stock::start_data, 354, "", "End data with <CR><LF>.<CR><LF>"},
    stock_row{stock::auth_challenge, 334, "", ""},
    stock_row{stock::shutting_down, 421, "4.3.2", "Service shutting down"},
    stock_row{stock::too_many_connections, 421, "4.3.2", "Too many connections, try again later"},
    stock_row{stock::idle_timeout, 421, "4.4.2", "Idle timeout, closing connection"},
    stock_row{stock::command_timeout, 421, "4.4.2", "Command timeout, closing connection"},
    stock_row{stock::session_timeout, 421, "4.4.2",
              "Session time limit reached, closing connection"},
    stock_row{stock::too_many_errors, 421, "4.7.0", "Too many errors, closing connection"},
    stock_row{stock::too_many_recipients, 452, "4.5.3", "Too many recipients"},
    stock_row{stock::tls_not_available, 454, "4.7.0", "TLS not available"},
    stock_row{stock::line_too_long, 500, "5.5.6", "Line too long"},
    stock_row{stock::unrecognised, 500, "5.5.2", "Command unrecognized"},
    stock_row{stock::bare_line_end, 500, "5.5.2", "Bare LF or CR in command line (RFC 5321 2.3.8)"},
    stock_row{stock::syntax_error, 501, "5.5.4", "Syntax error in parameters or arguments"},
    stock_row{stock::bad_sender_syntax, 501, "5.1.7", "Bad sender address syntax"},
    stock_row{stock::bad_recipient_syntax, 501, "5.1.3", "Bad recipient address syntax"},
    stock_row{stock::auth_cancelled, 501, "5.7.0", "Authentication cancelled"},
    stock_row{stock::bad_base64, 501, "5.5.2", "Cannot decode base64 response"},
    stock_row{stock::not_implemented, 502, "5.5.1", "Command not implemented"},
    stock_row{stock::bad_sequence, 503, "5.5.1", "Bad sequence of commands"},
    stock_row{stock::need_helo, 503, "5.5.1", "Send HELO/EHLO first"},
    stock_row{stock::need_mail, 503, "5.5.1", "Need MAIL command"},
    stock_row{stock::need_rcpt, 503, "5.5.1", "Need RCPT command"},
    stock_row{stock::already_authenticated, 503, "5.5.1", "Already authenticated"},
    stock_row{stock::auth_in_transaction, 503, "5.5.1",
              "AUTH not permitted during a mail transaction"},
    stock_row{stock::unknown_mechanism, 504, "5.5.4", "Unrecognized authentication mechanism"},
    stock_row{stock::auth_required, 530, "5.7.0", "Authentication required"},
    stock_row{stock::auth_failed, 535, "5.7.8", "Authentication credentials invalid"},
    stock_row{stock::size_exceeded, 552, "5.3.4", "Message size exceeds fixed limit"},
    stock_row{stock::no_valid_recipients, 554, "5.5.1", "No valid recipients"},
    stock_row{stock::message_line_too_long, 500, "5.5.6",
              "Message line too long (RFC 5321 4.5.3.1.6: 1000 octets)"},
    stock_row{stock::bare_line_end_in_data, 554, "5.6.11",
              "Bare LF or CR in message data (RFC 5321 2.3.8)"},
    stock_row{stock::unknown_parameter, 555, "5.5.4", "Unsupported parameter"},
    stock_row{stock::improper_pipelining, 503, "5.5.0", "Improper use of SMTP command pipelining"},
    stock_row{stock::tls_ready, 220, "2.0.0", "Ready to start TLS"},
    stock_row{stock::tls_already_active, 503, "5.5.1", "TLS already active"},
    stock_row{stock::tls_required, 530, "5.7.0", "Must issue a STARTTLS command first"},
    stock_row{stock::auth_needs_tls, 538, "5.7.11",
              "Encryption required for requested authentication mechanism"},
    stock_row{stock::too_many_auth_failures, 421, "4.7.0", "Too many authentication failures"},
    stock_row{stock::storage_failed, 451, "4.3.0", "Failed to store message"},
    stock_row{stock::early_talker, 554, "5.5.0", "Protocol error: client spoke before the banner"},
    stock_row{stock::control_character, 500, "5.5.2",
              "Control character in command line (RFC 5321 4.1.1)"},
    stock_row{stock::duplicate_parameter, 501, "5.5.4", "Duplicate parameter"},
    stock_row{stock::bad_dsn_parameter, 501, "5.5.4", "Invalid DSN parameter"},
    stock_row{stock::sender_too_long, 501, "5.1.7",
              "Sender address too long (RFC 5321 4.5.3.1: local part 64, domain 255, path 256 "
              "octets)"},
    stock_row{stock::recipient_too_long, 501, "5.1.3",
              "Recipient address too long (RFC 5321 4.5.3.1: local part 64, domain 255, path 256 "
              "octets)"},
    stock_row{stock::non_ascii_sender, 550, "5.6.7",
              "Non-ASCII addresses not permitted for that sender without SMTPUTF8"},
    stock_row{stock::non_ascii_recipient, 553, "5.6.7",
              "Non-ASCII addresses not permitted for that recipient without SMTPUTF8"},
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Replaces anything that could break the line structure of a reply.
void append_sanitised(std::string& out, std::string_view text, std::size_t room) {
  for (char c : text) {
    if (out.size() >= room) break;
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
}

}  // namespace

reply reply::parse(std::string_view text) {
  reply r;
  if (text.size() < 3 || !is_digit(text[0]) || !is_digit(text[1]) || !is_digit(text[2])) return r;
  if (text.size() > 3 && text[3] != ' ' && text[3] != '-') return r;
  r.code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
  r.lines.emplace_back(text.size() > 4 ? text.substr(4) : std::string_view{});
  return r;
}

reply reply::parse_lines(const std::vector<std::string>& lines) {
  reply out;
  for (const auto& line : lines) {
    reply one = parse(line);
    if (one.code == 0 || (out.code != 0 && one.code != out.code)) return reply{};
    out.code = one.code;
    out.lines.push_back(one.lines.front());
  }
  return out;
}

std::string serialise(const reply& r, bool enhanced_codes) {
  std::string out;
  const std::string code = std::to_string(r.code);
  const std::size_t n = r.lines.empty() ? 1 : r.lines.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::string line = code;
    line.push_back(i + 1 < n ? '-' : ' ');
    if (enhanced_codes && !r.enhanced.empty()) {
      line += r.enhanced;
      line.push_back(' ');
    }
    // RFC 5321 4.5.3.1.5: at most 512 octets including CRLF.
    if (!r.lines.empty()) append_sanitised(line, r.lines[i], limits::reply_line - 2);
    while (!line.empty() && line.back() == ' ' && line.size() > 4)
      line.pop_back();
    out += line;
    out += "\r\n";
  }
  return out;
}

reply make(stock id) {
  for (const auto& row : stock_table) {
    if (row.id == id) return reply{row.code, row.enhanced, {row.text}};
  }
  return reply{451, "4.3.0", {"Internal error"}};
}

reply make(stock id, std::string text) {
  reply r = make(id);
  r.lines = {std::move(text)};
  return r;
}

}  // namespace smtpmock::smtp
