// What smtpmock's HTTP API thought of a `smtpmock send` session: a small blocking HTTP/1.1 GET
// (Connection: close, a Host header, Basic auth from the URL's user:password@) of
// `/api/v1/findings?client=IP:PORT&session_ended=1`, and the answer read as a list of findings.
// Only api_client.cpp includes asio and nlohmann-json; URL parsing, the request text and the
// response parsing are pure functions, tested without a socket. http:// only (no TLS).
// Every wait is bounded: the connect by its own timeout, the whole exchange by another.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpmock::client {

/// Where the API is: http://[user:password@]host[:port][/base/path].
struct api_endpoint {
  std::string host;  ///< a name or an IP address (IPv6 without brackets)
  std::uint16_t port = 80;
  std::string base_path;  ///< "" or "/mail" (no trailing "/"), as --http-base-path
  bool has_credentials = false;
  std::string user;  ///< percent-decoded
  std::string password;
};

/// Parses --api's URL; nullopt with `error` set when it is not an http:// URL this can use.
std::optional<api_endpoint> parse_api_url(std::string_view url, std::string& error);

/// The API a default guess tries for an SMTP server at `smtp_host`: http://HOST:8025 when the
/// host is a loopback address (127.0.0.0/8, ::1) or "localhost"; nullopt otherwise.
std::optional<api_endpoint> guess_api(std::string_view smtp_host);

/// "http://host:port/base" for messages.
std::string api_text(const api_endpoint& api);

/// The request target of the findings of the session from `client` ("127.0.0.1:5000",
/// "[::1]:5000"), waiting up to `wait` server-side for that session to end.
std::string findings_target(const api_endpoint& api, std::string_view client,
                            std::chrono::seconds wait);

/// The bytes of a GET of `target` (HTTP/1.1, Host, Connection: close, Basic auth).
std::string build_get_request(const api_endpoint& api, std::string_view target);

/// A response read to its end.
struct http_response {
  int status = 0;
  std::string body;  ///< after Content-Length or chunked decoding
};

/// Parses a whole response (the connection was read to EOF); nullopt with `error` set when it
/// is not HTTP/1.x or is cut short (fewer bytes than Content-Length, an unfinished chunk).
std::optional<http_response> parse_http_response(std::string_view raw, std::string& error);

/// One finding as GET /api/v1/findings reports it.
struct server_finding {
  std::string code;
  std::string severity;
  std::string rfc;
  std::string text;
  long line = 0;
};

/// The answer to a findings request.
struct findings_answer {
  bool ok = false;  ///< a 200 with a JSON array of findings
  std::vector<server_finding> findings;
  std::string json;   ///< ok: the array as the server sent it
  std::string error;  ///< !ok: why, in a few words ("connection refused", "HTTP 404")
};

/// Reads a response as the findings of one session: 200 and a JSON array of objects with a
/// string Code; 408 is the server giving up waiting for the session to end.
findings_answer read_findings_response(const http_response& response);

/// GETs `target` from `api`: the connect within `connect_timeout`, everything within `timeout`.
/// nullopt with `error` set when no complete response arrived.
std::optional<http_response> http_get(const api_endpoint& api, std::string_view target,
                                      std::chrono::milliseconds connect_timeout,
                                      std::chrono::milliseconds timeout, std::string& error);

/// The findings of the session from `client` (see findings_target), the whole exchange.
findings_answer fetch_findings(const api_endpoint& api, std::string_view client,
                               std::chrono::milliseconds connect_timeout,
                               std::chrono::seconds wait);

}  // namespace smtpmock::client
