// Routes: Mailpit's /view/{ID|latest}.html and .txt (and smtpmock's .raw), for UI tests
// (cypress-mailpit). As in Mailpit, errors here are plain text, not {"Error"}. See routes.hpp.
#include "http/routes.hpp"

namespace smtpmock::http {

namespace {

/// `html` with each `cid:CONTENT-ID` reference to an inline part of message `id` pointed at
/// that part's API URL, so the view shows its images (as Mailpit's /view/{ID}.html does).
std::string link_inline_parts(std::string html, const std::string& base, const std::string& id,
                              const std::vector<attachment_info>& inlines) {
  for (const auto& part : inlines) {
    if (part.content_id.empty()) continue;
    const std::string needle = "cid:" + ascii_lower(part.content_id);
    const std::string url = base + "/api/v1/message/" + id + "/part/" + part.part_id;
    std::string lower = ascii_lower(html);
    for (std::size_t at = lower.find(needle); at != std::string::npos;
         at = lower.find(needle, at)) {
      const std::size_t end = at + needle.size();
      const char before = at > 0 ? lower[at - 1] : '\0';
      const char after = end < lower.size() ? lower[end] : '\0';
      const bool starts = before == '"' || before == '\'' || before == '=';
      const bool ends = after == '"' || after == '\'' || after == '>' || after == ';' ||
                        after == '/' || after == ')' || after == ' ' || after == '\t' ||
                        after == '\r' || after == '\n' || after == '\0';
      if (!starts || !ends) {
        at = end;
        continue;
      }
      html.replace(at, needle.size(), url);
      lower.replace(at, needle.size(), url);
      at += url.size();
    }
  }
  return html;
}

/// The view's Content-Security-Policy: its own inline parts (cid: images point at the API) and
/// inline styles only; or anything but scripts, with ?remote=1.
constexpr const char* local_view_policy =
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:";
constexpr const char* remote_view_policy =
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "img-src * data:; style-src * 'unsafe-inline'; font-src * data:";

http_response not_found(std::string text) {
  return text_response(std::move(text) + "\n", "text/plain; charset=utf-8", 404);
}

http_response view(request_context& c) {
  const std::string& path = c.request.path;
  const std::string& name = c.param("name");
  const auto dot = name.rfind('.');
  const std::string suffix = dot == std::string::npos ? std::string() : name.substr(dot + 1);
  if (suffix != "html" && suffix != "txt" && suffix != "raw")
    return not_found("no such view: " + path + " (expected /view/{ID}.html, .txt or .raw)");
  const std::string id = name.substr(0, dot);
  auto& box = c.state.box;
  message_ptr msg;
  if (id == "latest") {
    // As Mailpit: `latest` is the newest message, or the newest match of ?query=.
    const std::string* text = c.query("query");
    std::string query_text = text ? *text : std::string();
    query_text.erase(0, query_text.find_first_not_of(" \t"));
    search_query query;
    try {
      query = search_query::parse(query_text);
    } catch (const std::invalid_argument& e) {
      return text_response(std::string(e.what()) + "\n", "text/plain; charset=utf-8", 400);
    }
    const auto found = box.matching(query, box.all(), 1);
    if (found.empty())
      return not_found("message not found: no message" +
                       (query_text.empty() ? std::string() : " matches \"" + query_text + "\""));
    msg = found.front();
  } else {
    msg = id.empty() ? nullptr : box.find(id);
    if (!msg) return not_found("message " + id + " not found");
  }
  if (suffix == "raw") return text_response(msg->data, "text/plain");
  const auto parsed = box.parsed(msg);
  if (suffix == "txt") return text_response(parsed->text);
  if (parsed->html.empty())
    return not_found("message " + msg->id + " does not contain an HTML part");
  http_response resp = text_response(
      link_inline_parts(parsed->html, c.state.options.base_path, msg->id, parsed->inlines),
      "text/html; charset=utf-8");
  // Captured HTML is untrusted: it renders, but never runs scripts (a sandbox without
  // allow-scripts, and no script source), and loads nothing from elsewhere (no tracking pixel,
  // no remote style or font) unless ?remote=1 asks for it: the web UI's "load remote content".
  const std::string* remote = c.query("remote");
  const bool load_remote = remote && (*remote == "1" || *remote == "true");
  resp.headers.emplace_back("Content-Security-Policy",
                            load_remote ? remote_view_policy : local_view_policy);
  return resp;
}

http_response no_view(request_context& c) {
  return not_found("no such view: " + c.request.path);
}

const route table[] = {
    {"GET", "/view/:name", view},
    {"GET", "/view", no_view},
    {"GET", "/view/:rest(.*)", no_view},
};

}  // namespace

std::span<const route> view_routes() {
  return table;
}

}  // namespace smtpmock::http
