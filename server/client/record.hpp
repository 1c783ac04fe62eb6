// `smtpmock record HOST[:PORT] -o FILE.yaml`: one conversation with a real server (EHLO, MAIL,
// RCPT, DATA with a small test message, QUIT; no STARTTLS, so the list is the plaintext one),
// written as a scenario that `smtpmock serve --scenario FILE.yaml` replays: the banner, the EHLO
// greeting and extensions in order, and the reply texts of MAIL, RCPT, DATA, end of data and
// QUIT. Replies that a scenario cannot hold (a 5xx to MAIL) are kept as comments.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace smtpmock::client {

struct record_settings {
  std::string target;  ///< HOST[:PORT]
  std::uint16_t port = 0;
  std::string output;  ///< the scenario file to write; "-" for stdout
  std::string name;    ///< scenario name; empty: "recorded-<host>"
  std::string ehlo;
  std::string from;
  std::string to;
  bool tls_on_connect = false;
  std::chrono::milliseconds timeout{30000};
};

/// Runs `smtpmock record`; returns the exit code (0, or swaks' code of the failing stage).
int run_record(const record_settings& s);

/// Quotes `text` as a YAML double-quoted scalar (escapes \, ", control characters).
std::string yaml_quote(const std::string& text);

}  // namespace smtpmock::client
