// Findings: where a client departs from the RFCs or from good practice, noted by the core while
// it serves the session (the client's verdict). Each has a stable kebab-case code, a severity
// (error: breaks a MUST; warning: a SHOULD or a risky habit; info), the RFC clause and a
// one-line text. The catalogue below is the list the docs table is made from.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace smtpmock::smtp {

enum class severity { error, warning, info };

std::string_view severity_name(severity s);
std::optional<severity> parse_severity(std::string_view name);

/// One kind of finding: its code, severity, RFC clause and what it means.
struct finding_kind {
  std::string_view code;
  smtp::severity severity;
  std::string_view rfc;      ///< "RFC 5321 4.1.4"
  std::string_view summary;  ///< what the client did, in general
};

/// Every finding the core detects, by code.
std::span<const finding_kind> finding_kinds();
/// The kind of `code`; nullptr for an unknown code.
const finding_kind* find_finding_kind(std::string_view code);

/// One finding of a session.
struct finding {
  const finding_kind* kind = nullptr;
  std::string text;  ///< this occurrence, one line
  /// The mail transaction it belongs to (server_connection::transactions() while that one is
  /// open, its MAIL included); 0: the session's, outside any transaction.
  std::uint64_t transaction = 0;
};

}  // namespace smtpmock::smtp
