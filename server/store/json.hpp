// JSON views of stored messages and sessions (the spool files; later the HTTP API).
// The only component of store/ that includes nlohmann/json; callers get strings.
#pragma once

#include <string>

#include "store/message_store.hpp"

namespace smtpmock::store {

/// A time as RFC 3339 UTC with milliseconds: "2026-11-28T12:00:00.123Z".
std::string rfc3339(clock::time_point t);
/// The envelope as a JSON object string.
std::string envelope_json(const smtp::envelope& env);
/// A message's <id>.json: id, session id, received time (RFC 3339), size, envelope, and where
/// its transaction is in the session's transcript (session-<id>.json holds the lines, once).
std::string message_json(const stored_message& m);
/// A session and its transcript as JSON.
std::string session_json(const session_record& s);
/// A transcript in swaks arrows: "<-" server, "->" client, "===" notes, "~>"/"<~" inside TLS.
std::string transcript_text(const session_record& s);

}  // namespace smtpmock::store
