// Listen address parsing; see listen_address.hpp.
#include "scenario/listen_address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace smtpmock::scenario {
namespace {

bool is_ipv4(const std::string& host) {
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<listen_address> parse_listen_address(std::string_view text) {
  listen_address out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    out.host = std::string(host);
    if (!is_ipv6(out.host)) return std::nullopt;
    out.v6 = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
    if (host.empty() || host == "*") {
      out.host = "0.0.0.0";
    } else if (host == "localhost") {
      out.host = "127.0.0.1";
    } else {
      out.host = std::string(host);
      if (!is_ipv4(out.host)) return std::nullopt;
    }
  }
  auto p = parse_port(port);
  if (!p) return std::nullopt;
  out.port = *p;
  return out;
}

std::string format_address(std::string_view host, std::uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

std::string listen_address_problem(std::string_view text) {
  if (parse_listen_address(text)) return {};
  return "invalid listen address '" + std::string(text) +
         "': expected ADDR:PORT with an IP address (127.0.0.1:1025, [::1]:1025) and a port "
         "0-65535";
}

}  // namespace smtpmock::scenario
