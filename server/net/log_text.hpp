// Helpers that make client-controlled text safe to put in a log line.
// A logged value never contains a raw control character: CR, LF, TAB and the rest are written
// as escapes, so one event is always one line. Pure string functions; no logging here.
#pragma once

#include <string>
#include <string_view>

namespace smtpmock::net {

/// `text` with control characters (and DEL) escaped as \r \n \t \xNN; other bytes unchanged.
std::string escape_control(std::string_view text);
/// `text` as a double-quoted log value: control characters escaped, `"` and `\` escaped.
std::string quote(std::string_view text);

}  // namespace smtpmock::net
