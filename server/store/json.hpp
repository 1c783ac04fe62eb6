// JSON views of stored messages and sessions (the spool files; later the HTTP API).
// The only component of store/ that includes nlohmann/json; callers get strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/message_store.hpp"

namespace smtpmock::store {

/// A time as RFC 3339 UTC with milliseconds: "2026-11-28T12:00:00.123Z".
std::string rfc3339(clock::time_point t);
/// The envelope as a JSON object string.
std::string envelope_json(const smtp::envelope& env);
/// A message's <id>.json: id, session id, received time (RFC 3339), size, envelope, and where
/// its transaction is in the session's transcript (session-<id>.json holds the lines, once).
std::string message_json(const stored_message& m);
/// The lines one transcript entry is shown as (one, or one per line of a multi-line reply), as
/// the JSON array of the session's "Transcript" has them.
std::string shown_lines_json(const transcript_line& entry);
/// A session and its transcript as JSON.
std::string session_json(const session_record& s);
/// Parses rfc3339()'s form back ("2026-11-28T12:00:00.123Z"); nullopt for anything else.
std::optional<clock::time_point> parse_rfc3339(std::string_view text);
/// A message from its spooled <id>.json and <id>.eml bytes; nullopt when the JSON is not one
/// message_json() wrote (truncated, edited, another program's).
std::optional<stored_message> parse_message_json(std::string_view text, std::string data);
/// A session from its spooled session-<id>.json; nullopt when it is not one session_json() wrote.
std::optional<session_record> parse_session_json(std::string_view text);
/// A transcript in swaks arrows: "<-" server, "->" client, "===" notes, "~>"/"<~" inside TLS.
std::string transcript_text(const session_record& s);

}  // namespace smtpmock::store
