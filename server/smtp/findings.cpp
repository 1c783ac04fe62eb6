// The catalogue of findings; see findings.hpp.
#include "smtp/findings.hpp"

namespace smtpmock::smtp {

namespace {

constexpr finding_kind kinds[] = {
    {"no-helo", severity::error, "RFC 5321 4.1.4",
     "a mail transaction was started (MAIL) before HELO or EHLO"},
    {"rcpt-before-mail", severity::error, "RFC 5321 3.3", "RCPT before a MAIL was accepted"},
    {"data-before-rcpt", severity::error, "RFC 5321 3.3",
     "DATA or BDAT without any RCPT in the transaction"},
    {"no-ehlo-after-tls", severity::error, "RFC 3207 4.2",
     "MAIL or AUTH after STARTTLS without a new EHLO"},
    {"pipelining-unadvertised", severity::error, "RFC 2920 3",
     "a command arrived before the reply to the previous one was sent, and PIPELINING was not "
     "advertised"},
    {"pipelining-group", severity::error, "RFC 2920 3.1",
     "a command arrived before the reply to a command that ends a pipeline group (EHLO, DATA, "
     "VRFY, EXPN, TURN, QUIT, NOOP, STARTTLS, AUTH) was sent"},
    {"auth-before-tls", severity::warning, "RFC 8314 3",
     "a password went in plaintext (AUTH PLAIN or LOGIN) although STARTTLS was offered"},
    {"auth-mechanism-unadvertised", severity::error, "RFC 4954 4",
     "AUTH with a mechanism the server did not advertise"},
    {"bdat-unadvertised", severity::error, "RFC 3030 2", "BDAT without CHUNKING advertised"},
    {"bare-lf", severity::error, "RFC 5321 2.3.8", "a line ended with LF alone, not CRLF"},
    {"bare-cr", severity::error, "RFC 5321 2.3.8", "a CR not followed by LF inside a line"},
    {"line-too-long", severity::error, "RFC 5321 4.5.3.1.4",
     "a command line over 512 octets (CRLF included)"},
    {"helo-not-fqdn", severity::info, "RFC 5321 4.1.1.1",
     "the HELO/EHLO argument is neither a fully qualified domain name nor an address literal"},
    {"no-quit", severity::warning, "RFC 5321 4.1.1.10", "the client closed without QUIT"},
};

}  // namespace

std::string_view severity_name(severity s) {
  switch (s) {
    case severity::error:
      return "error";
    case severity::warning:
      return "warning";
    case severity::info:
      return "info";
  }
  return "info";
}

std::optional<severity> parse_severity(std::string_view name) {
  for (auto s : {severity::error, severity::warning, severity::info}) {
    if (severity_name(s) == name) return s;
  }
  return std::nullopt;
}

std::span<const finding_kind> finding_kinds() {
  return kinds;
}

const finding_kind* find_finding_kind(std::string_view code) {
  for (const auto& k : kinds) {
    if (k.code == code) return &k;
  }
  return nullptr;
}

}  // namespace smtpmock::smtp
