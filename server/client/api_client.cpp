// The findings request of `smtpmock send`; see api_client.hpp.
// One coroutine on a fresh io_context: resolve, connect (each address in turn, all within the
// connect timeout), write the request, read to EOF (Connection: close) within the overall
// timeout. Expected outcomes (refused, timeout, eof) are values, as in driver.cpp.
#include "client/api_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

#include "smtp/base64.hpp"

namespace smtpmock::client {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// The most a findings answer may take (100 findings per session, each a few hundred bytes).
constexpr std::size_t max_response = 4 * 1024 * 1024;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/// RFC 3986 2.1; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

/// A query value: unreserved characters as they are, everything else %XX (RFC 3986 2.3).
std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

bool is_loopback(std::string_view host) {
  if (iequals(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

/// A chunked body (RFC 9112 7.1), extensions and trailers ignored; nullopt when unfinished.
std::optional<std::string> dechunk(std::string_view data) {
  std::string out;
  while (true) {
    const auto eol = data.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view size_text = data.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));
    while (!size_text.empty() && (size_text.back() == ' ' || size_text.back() == '\t'))
      size_text.remove_suffix(1);
    std::size_t size = 0;
    const auto [ptr, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc{} || ptr != size_text.data() + size_text.size() || size_text.empty())
      return std::nullopt;
    data.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (data.size() < size + 2 || data.substr(size, 2) != "\r\n") return std::nullopt;
    out.append(data.substr(0, size));
    data.remove_prefix(size + 2);
  }
}

std::string string_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<api_endpoint> parse_api_url(std::string_view url, std::string& error) {
  constexpr std::string_view scheme = "http://";
  if (url.size() < scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) {
    error = url.starts_with("https://")
                ? "https:// is not supported (http:// only)"
                : "expected http://HOST[:PORT][/PATH], got '" + std::string(url) + "'";
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme.size());
  const auto path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? "" : rest.substr(path_at);
  if (!path.empty() && path.front() != '/') {
    error = "a query or fragment has no place in the API's URL";
    return std::nullopt;
  }
  api_endpoint api;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const auto colon = info.find(':');
    auto user = percent_decode(info.substr(0, colon));
    auto password = percent_decode(colon == std::string_view::npos ? "" : info.substr(colon + 1));
    if (!user || !password) {
      error = "a malformed %-escape in the user or password";
      return std::nullopt;
    }
    api.has_credentials = true;
    api.user = std::move(*user);
    api.password = std::move(*password);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "an IPv6 address without its closing ']'";
      return std::nullopt;
    }
    api.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "expected ':PORT' after ']'";
        return std::nullopt;
      }
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    api.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (api.host.empty()) {
    error = "no host in '" + std::string(url) + "'";
    return std::nullopt;
  }
  if (!port_text.empty()) {
    std::uint16_t port = 0;
    const auto [ptr, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port == 0) {
      error = "bad port '" + std::string(port_text) + "'";
      return std::nullopt;
    }
    api.port = port;
  }
  std::string base(path);
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  api.base_path = std::move(base);
  return api;
}

std::optional<api_endpoint> guess_api(std::string_view smtp_host) {
  if (!is_loopback(smtp_host)) return std::nullopt;
  api_endpoint api;
  api.host = std::string(smtp_host);
  api.port = 8025;
  return api;
}

std::string api_text(const api_endpoint& api) {
  const bool v6 = api.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + api.host + "]" : api.host) + ":" + std::to_string(api.port) +
         api.base_path;
}

std::string findings_target(const api_endpoint& api, std::string_view client,
                            std::chrono::seconds wait) {
  return api.base_path + "/api/v1/findings?client=" + percent_encode(client) +
         "&session_ended=1&timeout=" + std::to_string(wait.count()) + "s";
}

std::string build_get_request(const api_endpoint& api, std::string_view target) {
  const bool v6 = api.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + api.host + "]" : api.host;
  if (api.port != 80) host += ":" + std::to_string(api.port);
  std::string out = "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + host +
                    "\r\nAccept: application/json\r\nConnection: close\r\n";
  if (api.has_credentials)
    out += "Authorization: Basic " + smtp::base64_encode(api.user + ":" + api.password) + "\r\n";
  out += "\r\n";
  return out;
}

std::optional<http_response> parse_http_response(std::string_view raw, std::string& error) {
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    error = raw.empty() ? "the server closed the connection without a response"
                        : "a response cut short in its headers";
    return std::nullopt;
  }
  std::string_view head = raw.substr(0, head_end);
  std::string_view body = raw.substr(head_end + 4);
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // RFC 9112 4: HTTP-version SP 3DIGIT SP [reason]
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    error = "not an HTTP/1.x response";
    return std::nullopt;
  }
  http_response r;
  const std::string_view code = status_line.substr(9, 3);
  const auto [ptr, ec] = std::from_chars(code.data(), code.data() + 3, r.status);
  if (ec != std::errc{} || ptr != code.data() + 3 || r.status < 100) {
    error = "a malformed status line";
    return std::nullopt;
  }
  std::optional<std::size_t> length;
  bool chunked = false;
  std::string_view headers = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!headers.empty()) {
    const auto eol = headers.find("\r\n");
    const std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? "" : headers.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
      value.remove_suffix(1);
    if (iequals(name, "Content-Length")) {
      std::size_t n = 0;
      const auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e != std::errc{} || p != value.data() + value.size()) {
        error = "a malformed Content-Length";
        return std::nullopt;
      }
      length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      chunked = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
    }
  }
  if (chunked) {
    auto decoded = dechunk(body);
    if (!decoded) {
      error = "a chunked body cut short";
      return std::nullopt;
    }
    r.body = std::move(*decoded);
  } else if (length) {
    if (body.size() < *length) {
      error = "a body cut short (" + std::to_string(body.size()) + " of " +
              std::to_string(*length) + " bytes)";
      return std::nullopt;
    }
    r.body = std::string(body.substr(0, *length));
  } else {
    r.body = std::string(body);  // read to EOF (Connection: close)
  }
  return r;
}

findings_answer read_findings_response(const http_response& response) {
  findings_answer a;
  if (response.status == 408) {
    a.error = "the session had not ended when the server stopped waiting (HTTP 408)";
    return a;
  }
  if (response.status != 200) {
    a.error = "HTTP " + std::to_string(response.status);
    return a;
  }
  nlohmann::json j = nlohmann::json::parse(response.body, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    a.error = "the answer is not a JSON array";
    return a;
  }
  for (const auto& item : j) {
    if (!item.is_object() || !item.contains("Code") || !item["Code"].is_string()) {
      a.error = "the answer is not a list of findings";
      return a;
    }
    server_finding f;
    f.code = string_field(item, "Code");
    f.severity = string_field(item, "Severity");
    f.rfc = string_field(item, "RFC");
    f.text = string_field(item, "Text");
    if (const auto it = item.find("Line"); it != item.end() && it->is_number_integer())
      f.line = it->get<long>();
    a.findings.push_back(std::move(f));
  }
  a.ok = true;
  a.json = j.dump();
  return a;
}

std::optional<http_response> http_get(const api_endpoint& api, std::string_view target,
                                      std::chrono::milliseconds connect_timeout,
                                      std::chrono::milliseconds timeout, std::string& error) {
  asio::io_context io;
  std::optional<http_response> result;
  const std::string request = build_get_request(api, target);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        asio::steady_timer timer(ex);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        tcp::resolver resolver(ex);
        timer.expires_after(connect_timeout);
        auto resolved =
            co_await (resolver.async_resolve(api.host, std::to_string(api.port), use_tuple) ||
                      timer.async_wait(use_tuple));
        if (resolved.index() == 1) {
          error = "timed out resolving " + api.host;
          co_return;
        }
        auto [rec, endpoints] = std::get<0>(resolved);
        if (rec) {
          error = "cannot resolve " + api.host + ": " + rec.message();
          co_return;
        }
        // Each address in turn, all of them within the connect timeout.
        tcp::socket socket(ex);
        asio::error_code ec = asio::error::host_not_found;
        for (const auto& entry : endpoints) {
          asio::error_code ignored;
          socket.close(ignored);
          auto step = co_await (socket.async_connect(entry.endpoint(), use_tuple) ||
                                timer.async_wait(use_tuple));
          if (step.index() == 1) {
            error = "connection timed out";
            co_return;
          }
          ec = std::get<0>(std::get<0>(step));
          if (!ec) break;
        }
        if (ec) {
          error = ec == asio::error::connection_refused ? std::string("connection refused")
                                                        : ec.message();
          co_return;
        }
        timer.expires_at(deadline);
        auto wrote = co_await (asio::async_write(socket, asio::buffer(request), use_tuple) ||
                               timer.async_wait(use_tuple));
        if (wrote.index() == 1 || std::get<0>(std::get<0>(wrote))) {
          error = wrote.index() == 1 ? "timed out" : std::get<0>(std::get<0>(wrote)).message();
          co_return;
        }
        std::string raw;
        char buffer[16 * 1024];
        while (true) {
          auto got = co_await (socket.async_read_some(asio::buffer(buffer), use_tuple) ||
                               timer.async_wait(use_tuple));
          if (got.index() == 1) {
            error = "timed out waiting for the answer";
            co_return;
          }
          auto [rec2, n] = std::get<0>(got);
          raw.append(buffer, n);
          if (raw.size() > max_response) {
            error = "an answer of more than " + std::to_string(max_response) + " bytes";
            co_return;
          }
          if (rec2) break;  // eof (Connection: close), or the peer reset: parse what came
        }
        result = parse_http_response(raw, error);
      },
      asio::detached);
  io.run();
  return result;
}

findings_answer fetch_findings(const api_endpoint& api, std::string_view client,
                               std::chrono::milliseconds connect_timeout,
                               std::chrono::seconds wait) {
  std::string error;
  // The server answers within `wait`; a little more for the transfer.
  const auto overall = std::chrono::duration_cast<std::chrono::milliseconds>(wait) +
                       connect_timeout + std::chrono::seconds(2);
  auto response =
      http_get(api, findings_target(api, client, wait), connect_timeout, overall, error);
  if (!response) {
    findings_answer a;
    a.error = error;
    return a;
  }
  return read_findings_response(*response);
}

}  // namespace smtpmock::client
