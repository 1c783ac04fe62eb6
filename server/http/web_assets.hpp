// The web UI's files (server/http/web/: index.html, app.js, app.css, ...), embedded in the
// binary at build time (cmake/embed_web.cmake); nothing is fetched at run time. With the
// environment variable SMTPMOCK_WEB_DIR set (development), they are read from that directory
// at every request instead, so the page can be edited without a rebuild.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace smtpmock::http {

struct web_asset {
  std::string body;
  std::string content_type;
};

/// The file `name` ("index.html", "app.js"), or nullopt when there is none. Names are plain
/// file names ([A-Za-z0-9._-], not starting with a dot): anything else is nullopt.
std::optional<web_asset> web_asset_named(std::string_view name);

/// The Content-Security-Policy the page is served with: its own scripts, styles, images,
/// frames (the message view) and connections (the API and its WebSocket) only.
inline constexpr std::string_view web_page_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'";

namespace detail {
/// One embedded file, its text in raw-string chunks to be joined; the table is generated from
/// server/http/web/ by cmake/embed_web.cmake (web_files.cpp in the build).
struct embedded_file {
  std::string_view name;
  const std::string_view* chunks;
  std::size_t count;
};
extern const embedded_file web_files[];
extern const std::size_t web_files_count;
}  // namespace detail

}  // namespace smtpmock::http
