// The catalogue of findings; see findings.hpp.
#include "smtp/findings.hpp"

namespace smtpmock::smtp {

namespace {

constexpr finding_kind kinds[] = {
    {"early-talker", severity::error, "RFC 5321 4.3.1",
     "the client sent bytes before the server's banner (greeting)"},
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
    {"data-before-354", severity::error, "RFC 2920 3.1",
     "message content arrived before the 354 reply to DATA was sent"},
    {"auth-before-tls", severity::warning, "RFC 8314 3",
     "a password went in plaintext (AUTH PLAIN or LOGIN) although STARTTLS was offered"},
    {"auth-mechanism-unadvertised", severity::error, "RFC 4954 4",
     "AUTH with a mechanism the server did not advertise"},
    {"dot-not-stuffed", severity::error, "RFC 5321 4.5.2",
     "a message line began with a single \".\" followed by text: the client did not dot-stuff it"},
    {"bare-lf", severity::error, "RFC 5321 2.3.8",
     "a line (command or message) ended with LF alone, not CRLF"},
    {"bare-cr", severity::error, "RFC 5321 2.3.8",
     "a CR not followed by LF inside a line (command or message)"},
    {"line-too-long", severity::error, "RFC 5321 4.5.3.1.4, 4.5.3.1.6",
     "a command line over 512 octets, or a message line over 1000 (CRLF included)"},
    {"8bit-undeclared", severity::error, "RFC 6152 3",
     "8-bit octets in the message without BODY=8BITMIME (or BINARYMIME, or SMTPUTF8) on MAIL"},
    {"smtputf8-undeclared", severity::error, "RFC 6531 3.4",
     "a non-ASCII address without SMTPUTF8 on MAIL"},
    {"size-understated", severity::warning, "RFC 1870 6",
     "the message was larger than the SIZE= its MAIL declared"},
    {"param-unadvertised", severity::error, "RFC 5321 4.1.1.11",
     "a MAIL or RCPT parameter of an extension the server did not advertise"},
    {"bdat-unadvertised", severity::error, "RFC 3030 2", "BDAT without CHUNKING advertised"},
    {"data-after-all-rcpt-rejected", severity::warning, "RFC 5321 3.3",
     "DATA (not pipelined) after every RCPT of the transaction was refused"},
    {"retry-too-early", severity::warning, "RFC 5321 4.5.4.1",
     "a greylisted (sender, recipient, client) was retried before the greylisting delay"},
    {"reconnect-storm", severity::warning, "RFC 5321 4.5.4.1",
     "more than 5 connections within a second from one client shortly after a 421"},
    {"helo-not-fqdn", severity::info, "RFC 5321 4.1.1.1",
     "the HELO/EHLO argument is neither a fully qualified domain name nor an address literal"},
    {"idle-timeout", severity::warning, "RFC 5321 4.5.3.2",
     "the server had to time the client out (idle, command, data or session timeout)"},
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
