// SMTP listener specs (SPEC §7, issue 15): parses `--listen` values and SMTPMOCK_LISTEN lists,
// and checks a whole set for conflicts before anything binds. Pure: no sockets, no files (the
// scenario a listener names is resolved by the app, its config entries read by config_file).
// Invariant: a spec that parse_listen_spec returns has a valid listen address, a valid name or
// none, and no option given twice; every error is std::invalid_argument naming what to fix.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpmock::scenario {

/// How a listener offers TLS.
enum class listener_tls {
  starttls,  ///< plain, STARTTLS if the scenario advertises it (the --smtp-listen default)
  implicit,  ///< TLS handshake before the banner (port 465 style, RFC 8314 §3)
  none,      ///< STARTTLS answered 454 even if advertised (for clients that insist)
};

/// One SMTP listener as configured.
struct listener_spec {
  std::string address;   ///< "ADDR:PORT" or "[IPV6]:PORT" as written (port 0 = ephemeral)
  std::string scenario;  ///< bundled NAME or FILE; empty: the serve --scenario
  listener_tls tls = listener_tls::starttls;
  std::string name;               ///< empty: the port (filled in after binding for port 0)
  std::string tls_cert, tls_key;  ///< empty: the server's --tls-cert/--tls-key
  /// Where it was given, for messages: "--listen 0.0.0.0:1026=yahoo" or "FILE:LINE:COLUMN".
  std::string origin;
};

/// The keyword of a mode as written ("starttls", "implicit", "none").
std::string_view to_string(listener_tls mode);
/// The mode `text` names; throws std::invalid_argument (with a did-you-mean) for another word.
listener_tls parse_listener_tls(std::string_view text);

/// Describes why `name` is not a listener name (letters, digits, '-', '_', '.', 1-64 of them);
/// empty when it is one.
std::string listener_name_problem(std::string_view name);

/// One --listen value: ADDR:PORT[=SCENARIO][,tls=starttls|implicit|none][,name=NAME]
/// [,tls-cert=F][,tls-key=F]. Commas separate the options, so SCENARIO and the files hold none.
/// The origin is "--listen TEXT". Throws std::invalid_argument with a clear message.
listener_spec parse_listen_spec(std::string_view text);

/// SMTPMOCK_LISTEN: entries separated by commas or newlines; a comma-separated "key=value" token
/// whose key is tls/name/tls-cert/tls-key belongs to the entry before it. Blank entries are
/// skipped; origins are "SMTPMOCK_LISTEN ENTRY". Throws std::invalid_argument.
std::vector<listener_spec> parse_listen_list(std::string_view text);

/// The name a listener is known by before binding: its name, else its port ("" for port 0,
/// whose name is the port the OS picks).
std::string effective_name(const listener_spec& spec);

/// The first conflict of a set, in order of the later listener (for positions in a file).
struct listener_conflict {
  enum class kind { address, name, tls_pair };
  std::size_t first = 0;   ///< the earlier listener (== second for tls_pair)
  std::size_t second = 0;  ///< the listener that conflicts
  kind what = kind::address;
  std::string message;  ///< without origins: "two listeners on 0.0.0.0:1025"
  std::string hint;     ///< to append after the origins: "" or " (...)"
};
/// The conflicts check_listeners reports, as a value; nullopt when the set is fine.
std::optional<listener_conflict> find_listener_conflict(const std::vector<listener_spec>& all);

/// Checks a whole set: two listeners on one address (port 0 excepted; a wildcard address also
/// takes its port on every address of its family), two with one name (explicit or the port),
/// tls-cert without tls-key or the reverse. Throws std::invalid_argument naming the origins.
void check_listeners(const std::vector<listener_spec>& all);

}  // namespace smtpmock::scenario
