// The EHLO name and endpoint texts; see local_name.hpp.
#include "client/local_name.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "smtp/command.hpp"

namespace smtpmock::client {
namespace {

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

bool is_fqdn(std::string_view name) {
  // "localhost.localdomain" and friends name no host.
  const std::string_view first = name.substr(0, name.find('.'));
  return smtp::is_domain_name(name) && !ascii_iequals(first, "localhost");
}

std::string local_fqdn() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return {};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_CANONNAME;
  addrinfo* found = nullptr;
  std::string canonical;
  if (getaddrinfo(host, nullptr, &hints, &found) == 0 && found != nullptr) {
    if (found->ai_canonname != nullptr) canonical = found->ai_canonname;
    freeaddrinfo(found);
  }
  if (is_fqdn(canonical)) return canonical;
  if (is_fqdn(host)) return host;
  return {};
}

std::string plain_ip(std::string_view ip) {
  const std::string text(ip);
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_V4MAPPED(&v6)) {
    char out[INET_ADDRSTRLEN] = {};
    if (inet_ntop(AF_INET, &v6.s6_addr[12], out, sizeof out) != nullptr) return out;
  }
  return text;
}

std::string address_literal(std::string_view ip) {
  // A zone ("fe80::1%eth0") is local to this host: the literal carries the address only.
  const std::string text = plain_ip(ip.substr(0, ip.find('%')));
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return "[" + text + "]";
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return "[IPv6:" + text + "]";
  return {};
}

std::string endpoint_text(std::string_view ip, std::uint16_t port) {
  const std::string text = plain_ip(ip);
  const std::string host = text.find(':') != std::string::npos ? "[" + text + "]" : text;
  return host + ":" + std::to_string(port);
}

}  // namespace smtpmock::client
