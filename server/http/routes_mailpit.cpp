// Routes: Mailpit's API v1 (messages, search, the long-poll wait, info), the shapes its
// client libraries (mailpit-api, cypress-mailpit, the Testcontainers modules) call. See
// routes.hpp; the JSON shapes are in views.cpp.
#include <unistd.h>

#include <fstream>

#include "http/routes.hpp"
#include "http/views.hpp"

namespace smtpmock::http {

namespace {

/// Resident memory in bytes (Linux /proc), 0 when unknown.
std::uint64_t resident_memory() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

http_response info(request_context& c) {
  auto& box = c.state.box;
  const auto all = box.all();
  const auto snap = c.state.metrics ? c.state.metrics->snap() : store::metrics::snapshot{};
  std::uint64_t rejected = 0;
  for (const auto& rc : snap.replies) {
    if (rc.verb == "message" && rc.code >= 400) rejected += rc.count;
  }
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - c.state.started)
                          .count();
  return json_response(json{{"Version", c.state.options.version},
                            {"LatestVersion", ""},
                            {"Database", ""},
                            {"DatabaseSize", 0},
                            {"Messages", all.size()},
                            {"Unread", box.unread(all)},
                            {"Tags", json::object()},
                            {"RuntimeStats", json{{"Uptime", uptime},
                                                  {"Memory", resident_memory()},
                                                  {"MessagesDeleted", box.deleted()},
                                                  {"SMTPAccepted", snap.messages_total},
                                                  {"SMTPAcceptedSize", snap.message_bytes_total},
                                                  {"SMTPRejected", rejected},
                                                  {"SMTPIgnored", 0}}}});
}

http_response list_messages(request_context& c) {
  const auto [start, limit] = c.paging();
  auto all = c.state.box.all();
  return json_response(messages_summary_json(c.state.box, all, all, start, limit));
}

http_response delete_messages(request_context& c) {
  const json body = canonical_keys(body_json(c.request.body), {"IDs"}, "delete request");
  // As Mailpit: an empty or absent IDs deletes all.
  c.state.box.remove(body.contains("IDs") ? string_list(body["IDs"], "delete request", "IDs")
                                          : std::vector<std::string>{});
  // NOTE(compat): Mailpit answers "ok"; an empty body suits both mailpit-api (which reads
  // text) and MailHog's client (which JSON-parses any non-empty body of this route).
  return text_response("");
}

http_response set_read(request_context& c) {
  const json body =
      canonical_keys(body_json(c.request.body), {"IDs", "Read", "Search"}, "read status request");
  bool read = false;
  if (body.contains("Read")) {
    if (!body["Read"].is_boolean()) fail(400, "read status request: Read must be true or false");
    read = body["Read"].get<bool>();
  }
  const auto ids = body.contains("IDs") ? string_list(body["IDs"], "read status request", "IDs")
                                        : std::vector<std::string>{};
  std::string search;
  if (body.contains("Search") && !body["Search"].is_null()) {
    if (!body["Search"].is_string()) fail(400, "read status request: Search must be a string");
    search = body["Search"].get<std::string>();
  }
  if (!ids.empty() && !search.empty())
    fail(400, "read status request: give IDs or Search, not both");
  // As Mailpit: a Search marks its matches, else non-empty IDs those, else all.
  auto& box = c.state.box;
  std::vector<message_ptr> targets;
  if (!search.empty()) {
    targets = box.matching(parse_search(search), box.all());
  } else if (!ids.empty()) {
    for (const auto& id : ids) {
      if (auto msg = box.find(id)) targets.push_back(msg);
    }
  } else {
    targets = box.all();
  }
  for (const auto& msg : targets)
    box.set_read(msg->id, read);
  return text_response("ok");
}

http_response wait_for_messages(request_context& c) {
  const api_options& options = c.state.options;
  wait_request w;
  const std::string* text = c.query("query");
  w.query_text = text ? *text : std::string();
  w.query = parse_search(w.query_text);
  w.count = size_param(c.query("count"), "count", 1, 1, 1'000'000);
  w.timeout = options.default_wait;
  if (const std::string* t = c.query("timeout")) w.timeout = duration_param(*t, "timeout");
  if (w.timeout > options.max_wait) {
    fail(400,
         "timeout over the maximum of " + std::to_string(options.max_wait.count() / 1000) + " s");
  }
  c.wait = std::move(w);
  return {};
}

http_response get_message(request_context& c) {
  const auto msg = c.message_or_404(c.param("id"));
  auto j = message_json(c.state.box, msg);
  c.state.box.set_read(msg->id, true);  // Mailpit: reading a message marks it read
  return json_response(j);
}

http_response get_raw(request_context& c) {
  return text_response(c.message_or_404(c.param("id"))->data);
}

http_response get_headers(request_context& c) {
  return json_response(headers_json(*c.state.box.parsed(c.message_or_404(c.param("id")))));
}

http_response get_part(request_context& c) {
  const auto msg = c.message_or_404(c.param("id"));
  const std::string& part_id = c.param("part");
  auto part = find_part(msg->data, part_id);
  if (!part) fail(404, "message " + msg->id + " has no part " + part_id);
  http_response resp = text_response(std::move(part->data), part->content_type);
  // A captured attachment is untrusted content: never let it run in the API's origin.
  resp.headers.emplace_back("Content-Security-Policy", "sandbox");
  if (!part->file_name.empty()) {
    std::string safe;
    for (char ch : part->file_name)
      safe.push_back(ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20 ? '_' : ch);
    resp.headers.emplace_back("Content-Disposition", "inline; filename=\"" + safe + "\"");
  }
  return resp;
}

/// GET and DELETE /api/v1/search need ?query=.
search_query required_search(request_context& c) {
  const std::string* text = c.query("query");
  if (!text) fail(400, "missing query parameter 'query'");
  return parse_search(*text);
}

http_response search(request_context& c) {
  const auto query = required_search(c);
  const auto [start, limit] = c.paging();
  auto all = c.state.box.all();
  return json_response(
      messages_summary_json(c.state.box, all, c.state.box.matching(query, all), start, limit));
}

http_response delete_search(request_context& c) {
  const auto query = required_search(c);
  std::vector<std::string> ids;
  for (const auto& msg : c.state.box.matching(query, c.state.box.all()))
    ids.push_back(msg->id);
  if (!ids.empty()) c.state.box.remove(ids);
  return text_response("ok");
}

const route table[] = {
    {"GET", "/api/v1/info", info},
    {"GET", "/api/v1/messages", list_messages},
    {"PUT", "/api/v1/messages", set_read},
    {"DELETE", "/api/v1/messages", delete_messages},
    {"GET", "/api/v1/messages/wait", wait_for_messages},
    {"GET", "/api/v1/message/:id", get_message},
    {"GET", "/api/v1/message/:id/raw", get_raw},
    {"GET", "/api/v1/message/:id/headers", get_headers},
    {"GET", "/api/v1/message/:id/part/:part", get_part},
    {"GET", "/api/v1/search", search},
    {"DELETE", "/api/v1/search", delete_search},
};

}  // namespace

std::span<const route> mailpit_routes() {
  return table;
}

}  // namespace smtpmock::http
