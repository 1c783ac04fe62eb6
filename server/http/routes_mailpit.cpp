// Routes: Mailpit's API v1 (messages, search, the long-poll wait, info), the shapes its
// client libraries (mailpit-api, cypress-mailpit, the Testcontainers modules) call. See
// routes.hpp; the JSON shapes are in views.cpp.
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "http/routes.hpp"
#include "http/thumbnail.hpp"
#include "http/views.hpp"
#include "smtp/base64.hpp"

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
  store::metrics::snapshot snap;  // every listener's, summed
  for (const auto& m : c.state.metrics)
    store::merge(snap, m.metrics->snap());
  std::uint64_t rejected = 0;
  for (const auto& rc : snap.replies) {
    if (rc.verb == "message" && rc.code >= 400) rejected += rc.count;
  }
  json tag_counts = json::object();
  for (const auto& [name, n] : box.tag_counts())
    tag_counts[name] = n;
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - c.state.started)
                          .count();
  return json_response(json{{"Version", c.state.options.version},
                            {"LatestVersion", ""},
                            {"Database", ""},
                            {"DatabaseSize", 0},
                            {"Messages", all.size()},
                            {"Unread", box.unread(all)},
                            {"Tags", tag_counts},
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
  if (const std::string* listener = c.query("listener"); listener && !listener->empty()) {
    // ?listener=NAME: those of one SMTP listener (the search term listener:NAME).
    const auto matches = c.state.box.matching(parse_search("listener:" + *listener), all);
    return json_response(messages_summary_json(c.state.box, all, matches, start, limit));
  }
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
  wait_request w;
  const std::string* text = c.query("query");
  w.query_text = text ? *text : std::string();
  w.query = parse_search(w.query_text);
  w.count = size_param(c.query("count"), "count", 1, 1, 1'000'000);
  w.timeout = wait_timeout(c);
  w.session_ended = wants_session_end(c);
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

/// `filename="NAME"` for Content-Disposition, with quotes, backslashes and controls as '_'.
std::string file_name_param(const part_content& part) {
  std::string safe;
  for (char ch : part.file_name)
    safe.push_back(ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20 ? '_' : ch);
  return "filename=\"" + safe + "\"";
}

http_response get_part(request_context& c) {
  const auto msg = c.message_or_404(c.param("id"));
  const std::string& part_id = c.param("part");
  auto part = find_part(msg->data, part_id);
  if (!part) fail(404, "message " + msg->id + " has no part " + part_id);
  http_response resp = text_response(std::move(part->data), part->content_type);
  // A captured attachment is untrusted content: never let it run in the API's origin.
  resp.headers.emplace_back("Content-Security-Policy", "sandbox");
  if (!part->file_name.empty())
    resp.headers.emplace_back("Content-Disposition", "inline; " + file_name_param(*part));
  return resp;
}

http_response get_thumbnail(request_context& c) {
  const auto msg = c.message_or_404(c.param("id"));
  const std::string& part_id = c.param("part");
  auto part = find_part(msg->data, part_id);
  if (!part) fail(404, "message " + msg->id + " has no part " + part_id);
  // As Mailpit: a part that is not an image, or does not decode, gets a blank thumbnail.
  std::optional<thumbnail_image> thumb;
  if (ascii_lower(part->content_type).rfind("image/", 0) == 0) thumb = make_thumbnail(part->data);
  if (!thumb) thumb = blank_thumbnail();
  http_response resp = text_response(std::move(thumb->data), thumb->content_type);
  if (!part->file_name.empty())
    resp.headers.emplace_back("Content-Disposition", file_name_param(*part));
  return resp;
}

/// GET and DELETE /api/v1/search need a ?query= that is not blank: as in Mailpit, an empty
/// one is a 400 (a DELETE of "everything" by accident deletes nothing).
search_query required_search(request_context& c) {
  const std::string* text = c.query("query");
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos)
    fail(400, "no search query: give ?query= (an empty query matches nothing here, as in Mailpit)");
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

// --- POST /api/v1/send ------------------------------------------------------------------

/// "a@b.example" with a local part and a domain and nothing that could break a header.
bool plausible_address(const std::string& a) {
  const auto at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size()) return false;
  return a.find_first_of(" \t\r\n<>,;\"") == std::string::npos;
}

mail_address address_field(const json& j, const char* what) {
  const json a = canonical_keys(j, {"Email", "Name"}, what);
  mail_address out;
  for (auto [name, slot] : {std::pair{"Email", &out.address}, std::pair{"Name", &out.name}}) {
    if (!a.contains(name) || a[name].is_null()) continue;
    if (!a[name].is_string()) fail(400, std::string(what) + ": " + name + " must be a string");
    *slot = a[name].get<std::string>();
  }
  if (!plausible_address(out.address))
    fail(400, std::string("invalid ") + what + " address: '" + out.address + "'");
  if (out.name.find_first_of("\r\n") != std::string::npos)
    fail(400, std::string(what) + ": Name must be one line");
  return out;
}

std::vector<mail_address> address_list_field(const json& body, const char* field,
                                             const char* what) {
  if (!body.contains(field) || body[field].is_null()) return {};
  if (!body[field].is_array()) fail(400, std::string("send: ") + field + " must be an array");
  std::vector<mail_address> out;
  for (const auto& a : body[field])
    out.push_back(address_field(a, what));
  return out;
}

std::string string_field(const json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) return {};
  if (!body[field].is_string()) fail(400, std::string("send: ") + field + " must be a string");
  return body[field].get<std::string>();
}

/// Mailpit's headers a request may not set (Mailpit builds them), compared case-insensitively.
bool restricted_header(const std::string& name, bool tags) {
  const std::string n = ascii_lower(name);
  for (const char* r :
       {"to", "from", "cc", "bcc", "reply-to", "date", "subject", "content-type", "mime-version"}) {
    if (n == r) return true;
  }
  return tags && n == "x-tags";
}

http_response send_message(request_context& c) {
  const json body = canonical_keys(body_json(c.request.body, nullptr),
                                   {"From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Text", "HTML",
                                    "Attachments", "Tags", "Headers"},
                                   "send");
  if (!body.contains("From") || body["From"].is_null()) fail(400, "send: From is required");
  compose_request r;
  r.from = address_field(body["From"], "From");
  r.to = address_list_field(body, "To", "To");
  r.cc = address_list_field(body, "Cc", "Cc");
  r.reply_to = address_list_field(body, "ReplyTo", "Reply-To");
  const auto bcc =
      body.contains("Bcc") ? string_list(body["Bcc"], "send", "Bcc") : std::vector<std::string>{};
  for (const auto& b : bcc) {
    if (!plausible_address(b)) fail(400, "invalid Bcc address: '" + b + "'");
  }
  r.subject = string_field(body, "Subject");
  r.text = string_field(body, "Text");
  r.html = string_field(body, "HTML");
  if (r.subject.find_first_of("\r\n") != std::string::npos)
    fail(400, "send: Subject must be one line");
  const auto tags = body.contains("Tags") ? string_list(body["Tags"], "send", "Tags")
                                          : std::vector<std::string>{};
  if (!tags.empty()) {
    std::string joined;
    for (const auto& t : tags)
      joined += (joined.empty() ? "" : ", ") + t;
    if (joined.find_first_of("\r\n") != std::string::npos)
      fail(400, "send: a tag must be one line");
    r.headers.emplace_back("X-Tags", joined);
  }
  if (body.contains("Headers") && !body["Headers"].is_null()) {
    if (!body["Headers"].is_object())
      fail(400, "send: Headers must be an object of header names to values");
    for (const auto& [name, value] : body["Headers"].items()) {
      if (!value.is_string()) fail(400, "send: header " + name + " must be a string");
      if (restricted_header(name, !tags.empty()))
        fail(400, "cannot overwrite header: \"" + name + "\"");
      const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return ch > 32 && ch < 127 && ch != ':';
      });
      if (!token) fail(400, "send: bad header name '" + name + "'");
      const std::string v = value.get<std::string>();
      if (v.find_first_of("\r\n") != std::string::npos)
        fail(400, "send: header " + name + " must be one line");
      r.headers.emplace_back(name, v);
    }
  }
  if (body.contains("Attachments") && !body["Attachments"].is_null()) {
    if (!body["Attachments"].is_array()) fail(400, "send: Attachments must be an array");
    for (const auto& item : body["Attachments"]) {
      const json a =
          canonical_keys(item, {"Content", "Filename", "ContentType", "ContentID"}, "attachment");
      compose_request::attachment out;
      out.file_name = string_field(a, "Filename");
      out.content_type = string_field(a, "ContentType");
      out.content_id = string_field(a, "ContentID");
      std::string content = string_field(a, "Content");
      // A data: URL ("data:image/png;base64,iVBOR...") carries its base64 after the comma.
      if (const auto comma = content.rfind(','); comma != std::string::npos)
        content.erase(0, comma + 1);
      auto decoded = smtp::base64_decode(content);
      if (!decoded)
        fail(400, "error decoding base64 attachment \"" + out.file_name + "\": not base64");
      out.content = std::move(*decoded);
      for (const auto* v : {&out.file_name, &out.content_type, &out.content_id}) {
        if (v->find_first_of("\r\n\"") != std::string::npos)
          fail(400, "attachment \"" + out.file_name + "\": names and types must be one line");
      }
      r.attachments.push_back(std::move(out));
    }
  }
  if (!c.state.options.new_message_id) fail(500, "this server cannot make message ids");

  store::stored_message m;
  m.id = c.state.options.new_message_id();
  m.received = store::clock::now();
  r.message_id = m.id + "@smtpmock";
  r.date_unix =
      std::chrono::duration_cast<std::chrono::seconds>(m.received.time_since_epoch()).count();
  m.env.mail_from = r.from.address;
  for (const auto* list : {&r.to, &r.cc}) {
    for (const auto& a : *list)
      m.env.recipients.push_back({a.address, {}});
  }
  for (const auto& b : bcc)
    m.env.recipients.push_back({b, {}});
  m.data = compose_message(r);
  const std::string id = m.id;
  c.state.box.store().add_message(std::move(m));
  return json_response(json{{"ID", id}});
}

// --- tags ------------------------------------------------------------------------------------

http_response list_tags(request_context& c) {
  json names = json::array();
  for (const auto& [name, n] : c.state.box.tag_counts())
    names.push_back(name);
  return json_response(names);
}

http_response set_tags(request_context& c) {
  const json body = canonical_keys(body_json(c.request.body), {"IDs", "Tags"}, "set tags request");
  const auto ids = body.contains("IDs") ? string_list(body["IDs"], "set tags request", "IDs")
                                        : std::vector<std::string>{};
  const auto tags = body.contains("Tags") ? string_list(body["Tags"], "set tags request", "Tags")
                                          : std::vector<std::string>{};
  // Check, then proceed: an unknown id changes no message.
  std::vector<message_ptr> targets;
  for (const auto& id : ids)
    targets.push_back(c.message_or_404(id));
  for (const auto& m : targets)
    c.state.box.set_tags(m, tags);
  return text_response("ok");
}

http_response rename_tag(request_context& c) {
  const std::string& tag = c.param("tag");
  const json body = canonical_keys(body_json(c.request.body), {"Name"}, "rename tag request");
  const std::string name = string_field(body, "Name");
  switch (c.state.box.rename_tag(tag, name)) {
    case mailbox::tag_change::done:
      return text_response("ok");
    case mailbox::tag_change::invalid:
      fail(400, "invalid tag name: '" + name + "'");
    case mailbox::tag_change::exists:
      fail(400, "tag already exists: " + *clean_tag(name));
    case mailbox::tag_change::not_found:
      break;
  }
  fail(404, "tag not found: " + tag);
}

http_response delete_tag(request_context& c) {
  const std::string& tag = c.param("tag");
  if (!c.state.box.delete_tag(tag)) fail(404, "tag not found: " + tag);
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
    {"GET", "/api/v1/message/:id/part/:part/thumb", get_thumbnail},
    {"GET", "/api/v1/search", search},
    {"DELETE", "/api/v1/search", delete_search},
    {"POST", "/api/v1/send", send_message},
    {"GET", "/api/v1/tags", list_tags},
    {"PUT", "/api/v1/tags", set_tags},
    {"PUT", "/api/v1/tags/:tag", rename_tag},
    {"DELETE", "/api/v1/tags/:tag", delete_tag},
};

}  // namespace

std::span<const route> mailpit_routes() {
  return table;
}

}  // namespace smtpmock::http
