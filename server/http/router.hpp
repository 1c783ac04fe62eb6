// Routes as tables. Each family of endpoints (routes_mailpit.cpp, routes_mailhog.cpp,
// routes_control.cpp, routes_views.cpp) lists its paths in RESTinio's express syntax
// ("/api/v1/message/:id/part/:part"), one row per method, with the function that answers.
// The router matches a request against the rows with RESTinio's express route entries;
// only router.cpp includes RESTinio (its regex-based headers are heavy to compile).
// The query string and Basic auth are parsed with RESTinio's helpers too.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpmock::http {

class request_context;
struct http_response;

/// One row of a route table: a method ("GET", ...; a GET row answers HEAD too), an express
/// path pattern and its handler.
struct route {
  std::string_view method;
  std::string_view path;
  http_response (*handler)(request_context&);
};

/// What a request matched.
struct route_match {
  const route* found = nullptr;  ///< null: no row answers this method on this path
  /// The path's named parameters, percent-decoded ('+' stays '+', as in a path).
  std::vector<std::pair<std::string, std::string>> params;
  /// When the path matched rows of other methods only: those methods ("GET, PUT"), for 405.
  std::string allow;
};

class router {
 public:
  router();
  ~router();
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  /// Adds a family's rows after those added before (the first matching row wins).
  void add(std::span<const route> rows);
  /// Matches `path` (still percent-encoded). Throws std::invalid_argument for a bad escape in
  /// a parameter.
  route_match match(std::string_view method, std::string_view path) const;

 private:
  struct entry;
  std::vector<std::unique_ptr<entry>> entries_;
};

/// The query string's parameters, '+' and %XX decoded (the last of repeated names wins);
/// nullopt for a bad escape.
std::optional<std::map<std::string, std::string>> parse_query_string(std::string_view query);

/// Decodes %XX escapes (and '+' as a space when `plus_space`); nullopt for a bad escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_space);

/// The user and password of an "Authorization: Basic ..." value (RFC 7617); nullopt when it
/// is absent, of another scheme or malformed.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header);

}  // namespace smtpmock::http
