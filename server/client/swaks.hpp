// What swaks makes of a session, for `smtpmock send`: its exit codes by failing stage
// (swaks(1), "EXIT CODES"), its --quit-after/--drop-after stop-point names, its --protocol
// names and its --tls-protocol specification. The protocol
// core (smtp/client_connection) knows neither; it reports the failing stage and stops at the
// milestone it is given. Pure: no I/O.
#pragma once

#include <optional>
#include <string_view>

#include <cstdint>
#include <string>

#include "client/driver.hpp"
#include "smtp/client_connection.hpp"

namespace smtpmock::client::swaks {

/// swaks' exit code for a failure at `s`: 2 connect, 21 banner, 22 EHLO/HELO, 23 MAIL, 24 no
/// RCPT accepted, 25 DATA, 26 after end of data, 28 AUTH, 29 TLS, 6 closed; 0 for RSET/QUIT.
int exit_code_for(smtp::client_stage s);

/// swaks' exit code of a whole session: 0 when nothing failed (a stop point included).
int exit_code(const smtp::client_result& r);

/// swaks' stop-point names, case-insensitive: CONNECT/BANNER, FIRST-HELO/FIRST-EHLO/FIRST-LHLO,
/// TLS/STARTTLS, HELO/EHLO/LHLO, AUTH, MAIL/FROM, RCPT/TO, and for --drop-after (`drop`) also
/// DATA and DOT; `on_send` (--drop-after-send) takes the --drop-after names. nullopt for
/// anything else (swaks: "Unknown quit_after value").
std::optional<smtp::stop_point> parse_stop_point(std::string_view name, bool drop,
                                                 bool on_send = false);

/// The names parse_stop_point takes, for an error message.
std::string_view stop_point_names(bool drop);

/// What swaks' --protocol implies (swaks(1), "--protocol").
struct protocol {
  smtp::hello_verb hello = smtp::hello_verb::ehlo;
  bool auth = false;            ///< as -a
  bool tls = false;             ///< as -tls (STARTTLS required)
  bool tls_on_connect = false;  ///< as -tlsc
  std::uint16_t port = 25;      ///< the default port
};

/// SMTP, SSMTP, SSMTPA, SMTPS, ESMTP, ESMTPA, ESMTPS, ESMTPSA, LMTP, LMTPA, LMTPS, LMTPSA
/// (case-insensitive); nullopt for anything else.
std::optional<protocol> parse_protocol(std::string_view name);

/// swaks' --tls-protocol: a comma list of sslv2, sslv3, tlsv1, tlsv1_1, tlsv1_2, tlsv1_3 (only
/// those), or of no_NAME (all but those); the two forms cannot be mixed. nullopt and `error`
/// set when the spec is bad.
std::optional<tls_versions> parse_tls_protocol(std::string_view spec, std::string& error);

}  // namespace smtpmock::client::swaks
