// JSON shapes of the HTTP API: Mailpit's (PascalCase, MessagesSummary, Message, headers) plus
// smtpmock's SessionID and Envelope on every message, MailHog's v2 shapes, sessions.
// Internal to http/ (it includes nlohmann/json): only http/*.cpp and tests include it.
// Field names and nesting are the contract client libraries rely on; change none lightly.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/mailbox.hpp"
#include "store/message_store.hpp"

namespace smtpmock::http {

using json = nlohmann::ordered_json;

/// Serialises with invalid UTF-8 replaced (U+FFFD), never throwing on client bytes.
std::string dump(const json& j);

/// {"Name": ..., "Address": ...}
json address_json(const mail_address& a);
/// The envelope object (same fields as the spool's <id>.json).
json envelope_json(const smtp::envelope& env);

/// Mailpit's MessageSummary (a list item), plus SessionID and Envelope.
json message_summary_json(mailbox& box, const message_ptr& m);
/// Mailpit's Message, plus SessionID and Envelope.
json message_json(mailbox& box, const message_ptr& m);
/// Mailpit's MessagesSummary for `matches` (newest first) paged by start/limit.
json messages_summary_json(mailbox& box, const std::vector<message_ptr>& all,
                           const std::vector<message_ptr>& matches, std::size_t start,
                           std::size_t limit);
/// Mailpit's headers view: {"Name": ["value", ...]}, names canonical and sorted as Go does.
json headers_json(const parsed_message& p);
/// Go's textproto.CanonicalMIMEHeaderKey: "content-type" -> "Content-Type".
std::string canonical_header(std::string_view name);

/// MailHog's Message (v1 and v2 item).
json mailhog_message_json(const message_ptr& m);
/// MailHog's v2 list: {"total", "count", "start", "items"}.
json mailhog_list_json(const std::vector<message_ptr>& matches, std::size_t start,
                       std::size_t limit);

/// A session without its transcript, for lists.
json session_summary_json(const store::session_summary& s);
/// {"error": n, "warning": n, "info": n}.
json finding_counts_json(const std::vector<store::finding_record>& findings);
/// One finding with its session: {SessionID, Code, Severity, RFC, Text, Line, Time}.
json finding_json(const std::string& session_id, const store::finding_record& f);

}  // namespace smtpmock::http
