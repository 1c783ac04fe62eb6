// What swaks makes of a session, for `smtpmock send`: its exit codes by failing stage
// (swaks(1), "EXIT CODES") and its --quit-after/--drop-after stop-point names. The protocol
// core (smtp/client_connection) knows neither; it reports the failing stage and stops at the
// milestone it is given. Pure: no I/O.
#pragma once

#include <optional>
#include <string_view>

#include "smtp/client_connection.hpp"

namespace smtpmock::client::swaks {

/// swaks' exit code for a failure at `s`: 2 connect, 21 banner, 22 EHLO/HELO, 23 MAIL, 24 no
/// RCPT accepted, 25 DATA, 26 after end of data, 28 AUTH, 29 TLS, 6 closed; 0 for RSET/QUIT.
int exit_code_for(smtp::client_stage s);

/// swaks' exit code of a whole session: 0 when nothing failed (a stop point included).
int exit_code(const smtp::client_result& r);

/// swaks' stop-point names, case-insensitive: CONNECT/BANNER, FIRST-HELO/FIRST-EHLO/FIRST-LHLO,
/// TLS/STARTTLS, HELO/EHLO/LHLO, AUTH, MAIL/FROM, RCPT/TO, and for --drop-after (`drop`) also
/// DATA and DOT. nullopt for anything else (swaks: "Unknown quit_after value").
std::optional<smtp::stop_point> parse_stop_point(std::string_view name, bool drop);

/// The names parse_stop_point takes, for an error message.
std::string_view stop_point_names(bool drop);

}  // namespace smtpmock::client::swaks
