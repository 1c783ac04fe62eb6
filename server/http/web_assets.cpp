// The web UI's files; see web_assets.hpp.
#include "http/web_assets.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace smtpmock::http {

namespace {

bool plain_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.size() > 100) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string content_type_of(std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "json") return "application/json";
  if (ext == "png") return "image/png";
  return "application/octet-stream";
}

/// The embedded files by name, joined once.
const std::map<std::string, std::string, std::less<>>& embedded() {
  static const auto files = [] {
    std::map<std::string, std::string, std::less<>> m;
    for (std::size_t i = 0; i < detail::web_files_count; ++i) {
      const auto& f = detail::web_files[i];
      if (f.name.empty()) continue;
      std::string text;
      for (std::size_t c = 0; c < f.count; ++c)
        text += f.chunks[c];
      m.emplace(std::string(f.name), std::move(text));
    }
    return m;
  }();
  return files;
}

}  // namespace

std::optional<web_asset> web_asset_named(std::string_view name) {
  if (!plain_name(name)) return std::nullopt;
  if (const char* dir = std::getenv("SMTPMOCK_WEB_DIR"); dir && *dir) {
    std::ifstream in(std::string(dir) + "/" + std::string(name), std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream body;
    body << in.rdbuf();
    return web_asset{body.str(), content_type_of(name)};
  }
  const auto& files = embedded();
  const auto it = files.find(name);
  if (it == files.end()) return std::nullopt;
  return web_asset{it->second, content_type_of(name)};
}

}  // namespace smtpmock::http
