// `smtpmock send`: one message, swaks-style (a transcript with ===, ->, <-, <**, ~>, <~ and
// swaks' exit codes by failing stage), or with --count a load run (load.hpp). Plain settings
// in, an exit code out; the command line lives in app/client_commands.cpp.
// Output: the transcript (or --json) on stdout; usage errors on stderr.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/api_client.hpp"
#include "client/driver.hpp"
#include "client/message.hpp"
#include "client/transcript.hpp"
#include "smtp/client_connection.hpp"

namespace smtpmock::client {

/// Exit code for bad usage (an unreadable --data file, a bad --server), as CLI11's.
inline constexpr int exit_usage = 1;

/// One of --attach-type, --attach-name, --attach-body, --attach: their order matters (a type
/// applies to the parts after it, a name to the next --attach), so they are kept in one list.
struct attach_item {
  enum class kind { type, name, body, attach };
  kind what = kind::attach;
  std::string value;  ///< --attach-name without a value: "" (no file name for the next part)
};

/// Everything `smtpmock send` takes (swaks' long flag names).
struct send_settings {
  std::string server;           ///< HOST[:PORT]; empty: 127.0.0.1:1025 (the local smtpmock)
  std::uint16_t port = 0;       ///< --port; 0: from --server, else 25 (465 with --tls-on-connect)
  std::string from;             ///< empty: $LOGNAME@<hostname>, as swaks; "<>": the null sender
  bool force_getpwuid = false;  ///< the default sender's local part from getpwuid, not $LOGNAME
  std::vector<std::string> to;
  std::string ehlo;  ///< empty: the machine's FQDN, else the local address literal ("[127.0.0.1]")
  bool auth = false;
  std::string auth_mechanism;  ///< empty: the best advertised; a comma list: the first offered
  /// -ao (optional: any AUTH problem goes on without) / -aos (optional-strict: only "not
  /// advertised" and "that mechanism not offered" go on); both imply --auth.
  smtp::auth_policy auth_need = smtp::auth_policy::required;
  std::string auth_user;
  std::string auth_password;
  bool tls = false;
  bool tls_on_connect = false;
  bool tls_verify = false;
  bool tls_optional = false;         ///< -tlso: STARTTLS when offered; refused goes on
  bool tls_optional_strict = false;  ///< -tlsos: STARTTLS when offered; refused fails
  std::string tls_sni;
  std::string tls_protocol;  ///< swaks' spec ("tlsv1_2,tlsv1_3" or "no_tlsv1_3")
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca_path;
  std::string protocol;          ///< swaks' --protocol name; empty: ESMTP
  bool ipv4 = false;             ///< -4
  bool ipv6 = false;             ///< -6
  std::string local_interface;   ///< -li ADDR[:PORT]
  std::uint16_t local_port = 0;  ///< -lp PORT
  bool pipeline = false;
  bool chunking = false;  ///< --chunking: BDAT instead of DATA where CHUNKING is advertised
  std::optional<std::string> data;       ///< --data @FILE|-|TEXT (swaks: a one-line TEXT is a file)
  std::vector<std::string> headers;      ///< --header: replaces a header of that name, or adds
  std::vector<std::string> add_headers;  ///< --add-header: always adds
  std::optional<std::string> body;       ///< --body TEXT|@FILE|-
  std::vector<attach_item> attach;       ///< --attach* in command-line order
  bool no_data_fixup = false;            ///< --no-data-fixup: --data sent as given
  bool no_strip_from = false;            ///< --no-strip-from: keep a leading mbox "From " line
  bool dump_mail = false;                ///< --dump-mail: print the message, send nothing
  std::string tls_cipher;                ///< --tls-cipher: OpenSSL's cipher list
  std::string version = "0";             ///< %SWAKS_VERSION%
  std::string quit_after;                ///< swaks' stop-point name: QUIT there
  std::string drop_after;       ///< swaks' stop-point name (DATA and DOT too): close without QUIT
  std::string drop_after_send;  ///< the same names: close right after the stage's command
  std::chrono::milliseconds timeout{30000};
  bool json = false;
  /// --api URL (SMTPMOCK_API): the smtpmock HTTP API to ask for the session's findings; empty:
  /// a default guess (http://HOST:8025 for a loopback server, silent when it fails); "none"
  /// (or --no-api): never ask.
  std::string api;
  output_options output;  ///< swaks' --silent, -n, -stl, -ahp, --hide-*, --no-*-hints
  /// --output-file (both streams), --output-file-stdout, --output-file-stderr; "&STDOUT" and
  /// "&STDERR" name the process's own. Empty: unchanged.
  std::string output_file;
  std::string output_file_stdout;
  std::string output_file_stderr;
  // Load mode (--count > 0).
  std::size_t count = 0;
  std::size_t concurrency = 1;
  std::size_t per_connection = 1;
  bool progress = true;  ///< a progress bar on stderr when it is a terminal
};

/// What send and load share, resolved from send_settings.
struct prepared_send {
  connection_settings where;
  smtp::client_options options;
  message_spec message;
  std::string server_text;  ///< "host:port" as shown
  /// Where to ask for the session's findings (--api, or the default guess); none: do not ask.
  std::optional<api_endpoint> api;
  bool api_explicit = false;  ///< --api given: a failure is shown ("unavailable (...)")
};

/// Checks and fills in defaults; nullopt after printing the problem to stderr.
std::optional<prepared_send> prepare_send(const send_settings& s);

/// Runs `smtpmock send`; returns the process exit code.
int run_send(const send_settings& s);

/// Parses "30", "30s", "500ms", "2m" into milliseconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace smtpmock::client
