// `smtpmock check HOST[:PORT]` / `--mx DOMAIN`: the questions of a manual telnet check, answered
// for one host or each MX of a domain in preference order: up (connect time), refused or timed
// out, banner hostname versus the PTR of the address, extensions, STARTTLS (version, cipher,
// certificate), AUTH (mechanisms, and whether given credentials work), open relay (MAIL + RCPT
// to an outside address, then RSET; DATA only with --send). A readable report or --json.
// Exit: 0 every host answered with a 2xx banner, 1 a host failed a check, 2 none reachable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace smtpmock::client {

struct check_settings {
  std::string target;                   ///< HOST[:PORT]; empty with --mx
  std::string mx_domain;                ///< --mx DOMAIN
  std::string dns_server;               ///< --dns-server ADDR[:PORT]; empty: the system's resolvers
  std::uint16_t port = 0;               ///< --port; 0: from HOST:PORT, else 25
  std::vector<std::string> host_ports;  ///< --host-port NAME=PORT: the port of one MX host
  std::string ehlo;                     ///< empty: the local host name
  std::string from;                     ///< empty: postmaster@<ehlo name>
  std::string relay_to = "smtpmock-relay-check@example.com";
  std::string auth_user;
  std::string auth_password;
  std::string auth_mechanism;
  bool send = false;  ///< run DATA too (a test message is delivered when the relay is open)
  bool starttls = true;
  bool tls_verify = false;
  std::chrono::milliseconds timeout{10000};
  bool json = false;
};

/// Runs `smtpmock check`; returns the exit code.
int run_check(const check_settings& s);

}  // namespace smtpmock::client
