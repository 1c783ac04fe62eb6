// Process logging: spdlog to stderr, as plain text or one JSON object per line.
// Log messages follow "SESSION key=value ..." (net/ writes them); the formatter only adds the
// time and level, and in json format lifts a leading session id into its own field.
// Invariant: every emitted record is exactly one line; json output is valid for any bytes.
#pragma once

#include <string>
#include <string_view>

namespace smtpmock::app {

enum class log_format { text, json };

/// Installs the default logger: stderr, `level` ("trace".."error"), `format`.
/// Returns false (and changes nothing) when `level` is not a known level name.
bool setup_logging(std::string_view level, log_format format);

/// Logs `message` at info level whatever the configured level: tools wait for the ready line,
/// also with --log-level warn.
void log_always(std::string_view message);

/// `text` as the contents of a JSON string (no quotes): `"`, `\` and every control character
/// escaped; bytes that are not valid UTF-8 are written as \u00XX, so the result is always valid.
std::string json_escape(std::string_view text);

/// A time as "2026-11-28T12:00:00.123Z" (UTC, milliseconds).
std::string utc_timestamp_ms(long long unix_ms);

}  // namespace smtpmock::app
