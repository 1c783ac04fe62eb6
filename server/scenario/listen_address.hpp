// Listen addresses as written in flags, the environment and config files: "ADDR:PORT",
// "[IPV6]:PORT", "localhost:PORT". Pure string handling (inet_pton only, no asio), in the lowest
// layer that reads them (the listener specs of scenario/listeners.hpp); net/ binds what it parses.
// Invariant: a parsed address holds a numeric IP literal (v4 or v6) and a port in 0..65535;
// port 0 asks the OS for an ephemeral port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smtpmock::scenario {

/// A parsed listen address.
struct listen_address {
  std::string host;  ///< numeric IP literal, without brackets ("127.0.0.1", "::1")
  std::uint16_t port = 0;
  bool v6 = false;  ///< host is an IPv6 literal
};

/// Parses "127.0.0.1:1025", "[::1]:1025", "localhost:1025" (= 127.0.0.1), "*:1025" and
/// ":1025" (= 0.0.0.0); nullopt when the text is not one of these forms.
std::optional<listen_address> parse_listen_address(std::string_view text);

/// Formats an address as "127.0.0.1:1025" or "[::1]:1025" (the ready line's form).
std::string format_address(std::string_view host, std::uint16_t port);

/// Describes why `text` is not a listen address, for a usage error; empty when it is one.
std::string listen_address_problem(std::string_view text);

}  // namespace smtpmock::scenario
