// The names `smtpmock send` gives its own end of a connection: the EHLO name (RFC 5321 4.1.1.1:
// the client's fully qualified domain name, else an address literal of the connection's local
// address, as 4.1.4 suggests) and the "IP:port" text of an endpoint for the findings query.
// Pure string work except local_fqdn(), which asks the resolver once; no asio here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smtpmock::client {

/// Whether `name` is a fully qualified domain name (smtp::is_domain_name, the check the server's
/// helo-not-fqdn finding makes) and not "localhost[.anything]" (a name that says nothing of the
/// host).
bool is_fqdn(std::string_view name);

/// The machine's fully qualified domain name: gethostname(), then getaddrinfo's canonical name
/// (AI_CANONNAME) when it is an FQDN, else the host name itself when it is one; "" when neither.
std::string local_fqdn();

/// The address literal of an IP address (RFC 5321 4.1.3): "[192.0.2.1]", "[IPv6:2001:db8::1]";
/// an IPv4-mapped IPv6 address is written as IPv4, a zone ("%eth0") left out. "" when `ip` is
/// not an IP address.
std::string address_literal(std::string_view ip);

/// An IP address as people write it: IPv4-mapped IPv6 addresses as IPv4, the rest unchanged.
std::string plain_ip(std::string_view ip);

/// "192.0.2.1:25" or "[2001:db8::1]:25" (IPv4-mapped shown as IPv4).
std::string endpoint_text(std::string_view ip, std::uint16_t port);

}  // namespace smtpmock::client
