// The API's routes; see api.hpp. Requests are checked before anything changes (check, then
// proceed): a bad parameter, body or id is answered 4xx and leaves every state as it was.
// Client mistakes travel as bad_request exceptions inside this file only; handle() turns
// them, and anything unexpected (500), into {"Error": ...} responses.
#include "http/api.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>

#include "http/views.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"
#include "smtp/base64.hpp"
#include "store/json.hpp"

namespace smtpmock::http {

/// The parsed query string.
struct api::route_args {
  std::map<std::string, std::string> values;

  const std::string* get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
};

namespace {

/// A client mistake: answered with `status` and {"Error": message}.
struct bad_request : std::runtime_error {
  bad_request(int s, const std::string& message) : std::runtime_error(message), status(s) {}
  int status;
};

[[noreturn]] void fail(int status, const std::string& message) {
  throw bad_request(status, message);
}

http_response json_response(const json& j, int status = status_ok) {
  http_response r;
  r.status = status;
  r.body = dump(j);
  return r;
}

http_response text_response(std::string body, std::string type = "text/plain; charset=utf-8",
                            int status = status_ok) {
  http_response r;
  r.status = status;
  r.content_type = std::move(type);
  r.body = std::move(body);
  return r;
}

/// A non-negative integer query parameter within [min, max], or `fallback` when absent.
std::size_t size_param(const std::string* value, const char* name, std::size_t fallback,
                       std::size_t min, std::size_t max) {
  if (!value) return fallback;
  std::size_t n = 0;
  const char* begin = value->data();
  const char* end = begin + value->size();
  auto [ptr, ec] = std::from_chars(begin, end, n);
  if (value->empty() || ec != std::errc() || ptr != end || n < min || n > max) {
    fail(400, std::string("bad ") + name + " '" + *value + "': expected a whole number from " +
                  std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

/// "5", "2.5" (seconds) or a scenario duration ("500ms", "2s", "1m").
std::chrono::milliseconds duration_param(const std::string& value, const char* name) {
  if (auto d = scenario::parse_duration(value)) return *d;
  double seconds = 0;
  const char* begin = value.data();
  const char* end = begin + value.size();
  auto [ptr, ec] = std::from_chars(begin, end, seconds);
  if (value.empty() || ec != std::errc() || ptr != end || !std::isfinite(seconds) || seconds < 0) {
    fail(400, std::string("bad ") + name + " '" + value +
                  "': expected seconds (\"5\", \"2.5\") or a duration (\"500ms\", \"2s\")");
  }
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// The request body as JSON; `empty` when there is none. Bad JSON is a 400.
json body_json(const std::string& body, json empty = json::object()) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return empty;
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for numbers beyond a double (`1e999999`).
    fail(400, std::string("bad JSON in request body: ") + e.what());
  }
}

/// `j` (an object) with each key replaced by the field of `allowed` it names, matched as Go's
/// encoding/json (so Mailpit) matches them: exactly, or else case-insensitively (`{"ids": [...]}`
/// from the Java Testcontainers module means `IDs`). A key naming no field is a 400 naming it
/// (a typo such as "Idz" must not be dropped and so mean "everything"), and so are two keys
/// naming the same field (`"IDs"` and `"ids"`), where Go would silently keep the last.
json canonical_keys(const json& j, std::initializer_list<std::string_view> allowed,
                    const char* what) {
  if (!j.is_object()) fail(400, std::string(what) + ": expected a JSON object");
  json out = json::object();
  std::map<std::string_view, std::string> given;  // field -> the key that named it
  for (const auto& [key, value] : j.items()) {
    std::string_view field;
    for (auto a : allowed) {
      if (a == key) field = a;
    }
    if (field.empty()) {
      const std::string folded = ascii_lower(key);
      for (auto a : allowed) {
        if (ascii_lower(a) == folded) {
          field = a;
          break;
        }
      }
    }
    if (field.empty()) {
      std::string list;
      for (auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string(a);
      fail(400, std::string(what) + ": unknown field '" + key + "' (allowed: " + list + ")");
    }
    if (auto it = given.find(field); it != given.end()) {
      fail(400, std::string(what) + ": fields '" + it->second + "' and '" + key + "' both name " +
                    std::string(field) + " (give it once)");
    }
    given.emplace(field, key);
    out[std::string(field)] = value;
  }
  return out;
}

/// An array of id strings; null (as Go decodes it) is an empty list.
std::vector<std::string> id_list(const json& j, const char* what) {
  if (j.is_null()) return {};
  if (!j.is_array()) fail(400, std::string(what) + ": IDs must be an array of strings");
  std::vector<std::string> ids;
  for (const auto& v : j) {
    if (!v.is_string()) fail(400, std::string(what) + ": IDs must be an array of strings");
    ids.push_back(v.get<std::string>());
  }
  return ids;
}

bool accepts(const std::string& accept, std::string_view type) {
  return ascii_lower(accept).find(type) != std::string::npos;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

/// Basic auth (RFC 7617): "Basic base64(user:password)".
bool authorized(const std::string& header, const std::string& credentials) {
  const auto space = header.find(' ');
  if (space == std::string::npos || ascii_lower(header.substr(0, space)) != "basic") return false;
  std::string_view token(header);
  token.remove_prefix(space + 1);
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  auto decoded = smtp::base64_decode(token);
  return decoded && constant_time_equal(*decoded, credentials);
}

/// `html` with each `cid:CONTENT-ID` reference to an inline part of message `id` pointed at
/// that part's API URL, so the view shows its images (as Mailpit's /view/{ID}.html does).
std::string link_inline_parts(std::string html, const std::string& id,
                              const std::vector<attachment_info>& inlines) {
  for (const auto& part : inlines) {
    if (part.content_id.empty()) continue;
    const std::string needle = "cid:" + ascii_lower(part.content_id);
    const std::string url = "/api/v1/message/" + id + "/part/" + part.part_id;
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

json chaos_json(const chaos_triggers& c) {
  auto one = [](const chaos_trigger& t) {
    return json{{"ErrorCode", t.error_code}, {"Probability", t.probability}};
  };
  return json{{"Authentication", one(c.authentication)},
              {"Recipient", one(c.recipient)},
              {"Sender", one(c.sender)}};
}

/// Mailpit's PUT /api/v1/chaos body (optionally wrapped in {"Triggers": ...}); omitted
/// triggers are reset to 0 %.
chaos_triggers parse_chaos(json j) {
  if (j.is_object() && j.size() == 1 && ascii_lower(j.begin().key()) == "triggers")
    j = json(j.begin().value());
  j = canonical_keys(j, {"Authentication", "Recipient", "Sender"}, "chaos triggers");
  chaos_triggers out;
  for (auto [name, slot] :
       {std::pair{"Authentication", &out.authentication}, std::pair{"Recipient", &out.recipient},
        std::pair{"Sender", &out.sender}}) {
    if (!j.contains(name) || j[name].is_null()) continue;
    const std::string what = std::string("chaos trigger ") + name;
    const json t = canonical_keys(j[name], {"ErrorCode", "Probability"}, what.c_str());
    if (t.contains("ErrorCode")) {
      const json& code = t["ErrorCode"];
      if (!code.is_number_integer() || code.get<long long>() < 400 || code.get<long long>() > 599)
        fail(400, what + ": ErrorCode must be a whole number from 400 to 599");
      slot->error_code = code.get<int>();
    }
    if (t.contains("Probability")) {
      const json& p = t["Probability"];
      if (!p.is_number_integer() || p.get<long long>() < 0 || p.get<long long>() > 100)
        fail(400, what + ": Probability must be a whole number from 0 to 100 (percent)");
      slot->probability = p.get<int>();
    }
  }
  return out;
}

json jim_json(const jim_settings& s) {
  return json{{"DisconnectChance", s.disconnect_chance},
              {"AcceptChance", s.accept_chance},
              {"LinkSpeedAffect", s.link_speed_affect},
              {"LinkSpeedMin", s.link_speed_min},
              {"LinkSpeedMax", s.link_speed_max},
              {"RejectSenderChance", s.reject_sender_chance},
              {"RejectRecipientChance", s.reject_recipient_chance},
              {"RejectAuthChance", s.reject_auth_chance}};
}

/// MailHog's Jim JSON over `base`: the fields given replace base's.
jim_settings parse_jim(const json& body, jim_settings base) {
  const json j = canonical_keys(
      body,
      {"DisconnectChance", "AcceptChance", "LinkSpeedAffect", "LinkSpeedMin", "LinkSpeedMax",
       "RejectSenderChance", "RejectRecipientChance", "RejectAuthChance"},
      "jim");
  for (auto [name, slot] : {std::pair{"DisconnectChance", &base.disconnect_chance},
                            std::pair{"AcceptChance", &base.accept_chance},
                            std::pair{"LinkSpeedAffect", &base.link_speed_affect},
                            std::pair{"RejectSenderChance", &base.reject_sender_chance},
                            std::pair{"RejectRecipientChance", &base.reject_recipient_chance},
                            std::pair{"RejectAuthChance", &base.reject_auth_chance}}) {
    if (!j.contains(name)) continue;
    const json& v = j[name];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1)
      fail(400, std::string("jim: ") + name + " must be a number from 0 to 1");
    *slot = v.get<double>();
  }
  for (auto [name, slot] : {std::pair{"LinkSpeedMin", &base.link_speed_min},
                            std::pair{"LinkSpeedMax", &base.link_speed_max}}) {
    if (!j.contains(name)) continue;
    const json& v = j[name];
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1'000'000'000)
      fail(400, std::string("jim: ") + name + " must be a whole number of bytes per second");
    *slot = v.get<long long>();
  }
  if (base.link_speed_min > base.link_speed_max)
    fail(400, "jim: LinkSpeedMin must not exceed LinkSpeedMax");
  return base;
}

json scenario_json(const scenario_control::state& s) {
  const auto& def = s.engine->scenario();
  const auto& p = *def.personality;
  json rules = json::array();
  const std::size_t overlays = def.rules.size() - s.base->rules.size();
  for (std::size_t i = 0; i < def.rules.size(); ++i) {
    const auto& r = def.rules[i];
    const char* source = i >= overlays                  ? "scenario"
                         : r.name.rfind("jim-", 0) == 0 ? "jim"
                                                        : "chaos";
    rules.push_back(json{
        {"Name", r.name}, {"On", std::string(scenario::event_name(r.on))}, {"Source", source}});
  }
  json extensions = json::array();
  for (const auto& e : p.extensions)
    extensions.push_back(e);
  return json{{"Name", p.name},
              {"Description", p.description},
              {"Hostname", p.hostname},
              {"Origin", s.origin},
              {"Seed", s.engine->seed()},
              {"Extensions", std::move(extensions)},
              {"Rules", std::move(rules)},
              {"Chaos", chaos_json(s.chaos)},
              {"Jim", s.jim ? jim_json(*s.jim) : json(nullptr)},
              {"YAML", s.source}};
}

/// Resident memory in bytes (Linux /proc), 0 when unknown.
std::uint64_t resident_memory() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

constexpr std::string_view index_page = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>smtpmock</title>
<style>body{font:14px system-ui,sans-serif;margin:1em 2em}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left}pre{background:#f6f6f6;padding:8px}
</style></head><body><h1>smtpmock</h1>
<p>API: <a href="/api/v1/messages">messages</a> · <a href="/api/v1/sessions">sessions</a> ·
<a href="/api/v1/scenario">scenario</a> · <a href="/metrics">metrics</a></p>
<h2>Sessions</h2><table id="s"></table><pre id="t"></pre><h2>Messages</h2><table id="m"></table>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
async function load() {
  const s = await (await fetch("/api/v1/sessions")).json();
  document.getElementById("s").innerHTML = "<tr><th>session</th><th>client</th><th>scenario</th><th>started</th><th>live</th></tr>" +
    s.sessions.map(x => `<tr><td><a href="#" data-id="${esc(x.ID)}">${esc(x.ID)}</a></td><td>${esc(x.ClientAddress)}</td><td>${esc(x.Scenario)}</td><td>${esc(x.Started)}</td><td>${x.Live ? "yes" : ""}</td></tr>`).join("");
  const m = await (await fetch("/api/v1/messages?limit=100")).json();
  document.getElementById("m").innerHTML = "<tr><th>received</th><th>from</th><th>to</th><th>subject</th></tr>" +
    m.messages.map(x => `<tr><td>${esc(x.Created)}</td><td>${esc(x.From && x.From.Address)}</td><td>${esc(x.To.map(t => t.Address).join(", "))}</td><td>${esc(x.Subject)}</td></tr>`).join("");
}
document.addEventListener("click", async e => {
  const id = e.target.dataset && e.target.dataset.id;
  if (!id) return;
  e.preventDefault();
  const r = await fetch(`/api/v1/session/${encodeURIComponent(id)}/transcript`, {headers: {Accept: "text/plain"}});
  document.getElementById("t").textContent = await r.text();
});
load(); setInterval(load, 3000);
</script></body></html>
)html";

}  // namespace

http_response error_response(int status, const std::string& message) {
  return json_response(json{{"Error", message}}, status);
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]);
      const int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plus_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

api::api(std::shared_ptr<store::message_store> store, std::shared_ptr<store::metrics> metrics,
         std::shared_ptr<scenario_control> control, api_options options)
    : box_(std::move(store)),
      metrics_(std::move(metrics)),
      control_(std::move(control)),
      options_(std::move(options)),
      started_(std::chrono::steady_clock::now()) {}

namespace {

/// /api/... and /view/...: the paths --http-cors opens to other origins (as Mailpit's).
bool cors_path(std::string_view path) {
  return path.rfind("/api/", 0) == 0 || path.rfind("/view/", 0) == 0;
}

}  // namespace

void api::add_cors(http_response& resp) const {
  if (options_.cors_origin.empty()) return;
  for (const auto& [name, value] : resp.headers) {
    if (name == "Access-Control-Allow-Origin") return;
  }
  resp.headers.emplace_back("Access-Control-Allow-Origin", options_.cors_origin);
}

outcome api::handle(const http_request& r) {
  const bool cors = !options_.cors_origin.empty() && cors_path(r.path);
  if (cors && r.method == "OPTIONS") {
    // A CORS preflight: browsers send it without credentials, so it needs none, and it
    // answers the same for every API path (no 404 for an unknown id): it reveals nothing.
    http_response resp;
    resp.status = 204;
    resp.content_type = "text/plain";
    resp.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    resp.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, Authorization");
    resp.headers.emplace_back("Access-Control-Max-Age", "600");
    add_cors(resp);
    return resp;
  }
  outcome out = answer(r);
  if (auto* resp = std::get_if<http_response>(&out); resp && cors) add_cors(*resp);
  return out;
}

outcome api::answer(const http_request& r) {
  try {
    // Health is open to everyone (Docker, Kubernetes probes); everything else may need auth.
    const bool health = r.path == "/livez" || r.path == "/readyz";
    if (!health && !options_.credentials.empty() &&
        !authorized(r.authorization, options_.credentials)) {
      auto resp = error_response(401, "authentication required");
      resp.headers.emplace_back("WWW-Authenticate", "Basic realm=\"smtpmock\", charset=\"UTF-8\"");
      return resp;
    }
    if (r.body.size() > options_.max_body) {
      return error_response(413, "request body of " + std::to_string(r.body.size()) +
                                     " octets is over the limit of " +
                                     std::to_string(options_.max_body));
    }
    if (r.path.empty() || r.path.front() != '/') fail(400, "bad request target");
    std::vector<std::string> seg;
    std::string_view rest(r.path);
    rest.remove_prefix(1);
    while (!rest.empty()) {
      const auto slash = rest.find('/');
      auto decoded = percent_decode(rest.substr(0, slash), false);
      if (!decoded) fail(400, "bad percent-encoding in the path");
      seg.push_back(std::move(*decoded));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    route_args q;
    std::string_view query(r.query);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      if (!pair.empty()) {
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
        if (!key || !value) fail(400, "bad percent-encoding in the query string");
        q.values[*key] = std::move(*value);
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
    std::optional<wait_request> wait;
    http_response resp = dispatch(r, seg, q, wait);
    if (wait) {
      if (auto now = check_wait(*wait)) return *now;
      return std::move(*wait);
    }
    return resp;
  } catch (const bad_request& e) {
    return error_response(e.status, e.what());
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what());
  }
}

http_response api::dispatch(const http_request& r, const std::vector<std::string>& seg,
                            const route_args& q, std::optional<wait_request>& wait) {
  const std::string& m = r.method;
  const std::size_t n = seg.size();
  auto is = [&](std::initializer_list<std::string_view> parts) {
    if (parts.size() != n) return false;
    std::size_t i = 0;
    for (auto p : parts) {
      if (p != "*" && seg[i] != p) return false;
      ++i;
    }
    return true;
  };
  auto not_allowed = [&](const char* allow) {
    auto resp = error_response(
        405, "method " + m + " is not allowed on " + r.path + " (allowed: " + allow + ")");
    resp.headers.emplace_back("Allow", allow);
    return resp;
  };
  // A larger limit is served as a page of max_page_size (clients page on with start=).
  auto paging = [&](std::size_t& start, std::size_t& limit) {
    start = size_param(q.get("start"), "start", 0, 0, 100'000'000);
    limit = std::min(size_param(q.get("limit"), "limit", 50, 1, 100'000'000), max_page_size);
  };
  auto message_or_404 = [&](const std::string& id) {
    auto msg = box_.find(id);
    if (!msg) fail(404, "message " + id + " not found");
    return msg;
  };
  auto filter = [&](const search_query& query) {
    auto all = box_.all();
    if (query.terms().empty()) return all;
    std::vector<message_ptr> out;
    for (auto& msg : all) {
      if (query.matches(box_.fields(msg))) out.push_back(msg);
    }
    return out;
  };
  auto parse_query = [&](const std::string& text) {
    try {
      return search_query::parse(text);
    } catch (const std::invalid_argument& e) {
      fail(400, e.what());
    }
  };

  // --- health, metrics, page ---------------------------------------------------------------
  if (is({"livez"})) {
    if (m != "GET" && m != "HEAD") return not_allowed("GET");
    return text_response("ok\n");
  }
  if (is({"readyz"})) {
    if (m != "GET" && m != "HEAD") return not_allowed("GET");
    if (!ready_) return text_response("starting\n", "text/plain; charset=utf-8", 503);
    return text_response("ok\n");
  }
  if (is({"metrics"})) {
    if (m != "GET") return not_allowed("GET");
    return metrics_text();
  }
  if (n == 0) {
    if (m != "GET") return not_allowed("GET");
    return text_response(std::string(index_page), "text/html; charset=utf-8");
  }
  if (n >= 1 && seg[0] == "view") return view(r, seg, q);
  if (n < 2 || seg[0] != "api") fail(404, "no such endpoint: " + r.path);

  // --- Mailpit API v1 ----------------------------------------------------------------------
  if (is({"api", "v1", "info"})) {
    if (m != "GET") return not_allowed("GET");
    return info();
  }
  if (is({"api", "v1", "messages"})) {
    if (m == "GET") {
      std::size_t start = 0, limit = 0;
      paging(start, limit);
      auto all = box_.all();
      return json_response(messages_summary_json(box_, all, all, start, limit));
    }
    if (m == "DELETE") {
      const json body = canonical_keys(body_json(r.body), {"IDs"}, "delete request");
      // As Mailpit: an empty or absent IDs deletes all.
      box_.remove(body.contains("IDs") ? id_list(body["IDs"], "delete request")
                                       : std::vector<std::string>{});
      // NOTE(compat): Mailpit answers "ok"; an empty body suits both mailpit-api (which reads
      // text) and MailHog's client (which JSON-parses any non-empty body of this route).
      return text_response("");
    }
    if (m == "PUT") {
      const json body =
          canonical_keys(body_json(r.body), {"IDs", "Read", "Search"}, "read status request");
      bool read = false;
      if (body.contains("Read")) {
        if (!body["Read"].is_boolean())
          fail(400, "read status request: Read must be true or false");
        read = body["Read"].get<bool>();
      }
      const auto ids = body.contains("IDs") ? id_list(body["IDs"], "read status request")
                                            : std::vector<std::string>{};
      std::string search;
      if (body.contains("Search") && !body["Search"].is_null()) {
        if (!body["Search"].is_string()) fail(400, "read status request: Search must be a string");
        search = body["Search"].get<std::string>();
      }
      if (!ids.empty() && !search.empty())
        fail(400, "read status request: give IDs or Search, not both");
      // As Mailpit: a Search marks its matches, else non-empty IDs those, else all.
      std::vector<message_ptr> targets;
      if (!search.empty()) {
        targets = filter(parse_query(search));
      } else if (!ids.empty()) {
        for (const auto& id : ids) {
          if (auto msg = box_.find(id)) targets.push_back(msg);
        }
      } else {
        targets = box_.all();
      }
      for (const auto& msg : targets)
        box_.set_read(msg->id, read);
      return text_response("ok");
    }
    return not_allowed("GET, PUT, DELETE");
  }
  if (is({"api", "v1", "messages", "wait"})) {
    if (m != "GET") return not_allowed("GET");
    wait_request w;
    const std::string* text = q.get("query");
    w.query_text = text ? *text : std::string();
    w.query = parse_query(w.query_text);
    w.count = size_param(q.get("count"), "count", 1, 1, 1'000'000);
    w.timeout = options_.default_wait;
    if (const std::string* t = q.get("timeout")) w.timeout = duration_param(*t, "timeout");
    if (w.timeout > options_.max_wait) {
      fail(400, "timeout over the maximum of " + std::to_string(options_.max_wait.count() / 1000) +
                    " s");
    }
    wait = std::move(w);
    return {};
  }
  if (is({"api", "v1", "messages", "*"})) {
    // MailHog API v1: one message by id.
    if (m == "GET") return json_response(mailhog_message_json(message_or_404(seg[3])));
    if (m == "DELETE") {
      const auto msg = message_or_404(seg[3]);
      box_.remove({msg->id});
      return text_response("");
    }
    return not_allowed("GET, DELETE");
  }
  if (n >= 4 && seg[1] == "v1" && seg[2] == "message") {
    if (m != "GET") return not_allowed("GET");
    const auto msg = message_or_404(seg[3]);
    if (n == 4) {
      auto j = message_json(box_, msg);
      box_.set_read(msg->id, true);  // Mailpit: reading a message marks it read
      return json_response(j);
    }
    if (n == 5 && seg[4] == "raw") return text_response(msg->data);
    if (n == 5 && seg[4] == "headers") return json_response(headers_json(*box_.parsed(msg)));
    if (n == 6 && seg[4] == "part") {
      auto part = find_part(msg->data, seg[5]);
      if (!part) fail(404, "message " + msg->id + " has no part " + seg[5]);
      http_response resp = text_response(std::move(part->data), part->content_type);
      // A captured attachment is untrusted content: never let it run in the API's origin.
      resp.headers.emplace_back("Content-Security-Policy", "sandbox");
      if (!part->file_name.empty()) {
        std::string safe;
        for (char c : part->file_name)
          safe.push_back(c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ? '_' : c);
        resp.headers.emplace_back("Content-Disposition", "inline; filename=\"" + safe + "\"");
      }
      return resp;
    }
    fail(404, "no such endpoint: " + r.path);
  }
  if (is({"api", "v1", "search"})) {
    const std::string* text = q.get("query");
    if (!text) fail(400, "missing query parameter 'query'");
    const auto query = parse_query(*text);
    if (m == "GET") {
      std::size_t start = 0, limit = 0;
      paging(start, limit);
      return json_response(messages_summary_json(box_, box_.all(), filter(query), start, limit));
    }
    if (m == "DELETE") {
      std::vector<std::string> ids;
      for (const auto& msg : filter(query))
        ids.push_back(msg->id);
      if (!ids.empty()) box_.remove(ids);
      return text_response("ok");
    }
    return not_allowed("GET, DELETE");
  }

  // --- sessions, scenario, chaos -----------------------------------------------------------
  if (is({"api", "v1", "sessions"})) {
    if (m != "GET") return not_allowed("GET");
    std::size_t start = 0, limit = 0;
    start = size_param(q.get("start"), "start", 0, 0, 100'000'000);
    limit = std::min(size_param(q.get("limit"), "limit", 1000, 1, 100'000'000), max_page_size);
    const auto sessions = box_.store().session_summaries();
    json list = json::array();
    for (std::size_t i = start; i < sessions.size() && i - start < limit; ++i)
      list.push_back(session_summary_json(sessions[i]));
    const std::size_t count = list.size();
    return json_response(json{{"total", sessions.size()},
                              {"start", start},
                              {"count", count},
                              {"sessions", std::move(list)}});
  }
  if (n >= 4 && seg[1] == "v1" && seg[2] == "session" && n <= 5) {
    if (m != "GET") return not_allowed("GET");
    const auto s = box_.store().session(seg[3]);
    if (!s) fail(404, "session " + seg[3] + " not found");
    if (n == 4) return json_response(json::parse(store::session_json(*s)));
    if (seg[4] != "transcript") fail(404, "no such endpoint: " + r.path);
    if (accepts(r.accept, "text/plain")) return text_response(store::transcript_text(*s));
    json full = json::parse(store::session_json(*s));
    return json_response(json{{"SessionID", s->id},
                              {"Truncated", s->truncated},
                              {"Transcript", std::move(full["Transcript"])}});
  }
  if (is({"api", "v1", "scenario"})) {
    if (m == "GET") {
      const auto state = control_->current();
      if (accepts(r.accept, "yaml")) return text_response(state.source, "application/yaml");
      return json_response(scenario_json(state));
    }
    if (m == "PUT") {
      if (r.body.find_first_not_of(" \t\r\n") == std::string::npos)
        fail(400, "empty scenario: send the scenario's YAML as the request body");
      try {
        control_->replace_text(r.body, "request", "PUT /api/v1/scenario");
      } catch (const scenario::load_error& e) {
        return json_response(json{{"Error", e.what()},
                                  {"File", e.file()},
                                  {"Line", e.line()},
                                  {"Column", e.column()},
                                  {"Message", e.message()}},
                             400);
      }
      return json_response(scenario_json(control_->current()));
    }
    return not_allowed("GET, PUT");
  }
  if (is({"api", "v1", "chaos"})) {
    if (m == "GET") return json_response(chaos_json(control_->chaos()));
    if (m == "PUT") {
      control_->set_chaos(parse_chaos(body_json(r.body)));
      return json_response(chaos_json(control_->chaos()));
    }
    return not_allowed("GET, PUT");
  }

  // --- MailHog API v2 ----------------------------------------------------------------------
  if (is({"api", "v2", "messages"})) {
    if (m != "GET") return not_allowed("GET");
    std::size_t start = 0, limit = 0;
    paging(start, limit);
    return json_response(mailhog_list_json(box_.all(), start, limit));
  }
  if (is({"api", "v2", "search"})) {
    if (m != "GET") return not_allowed("GET");
    const std::string* kind = q.get("kind");
    const std::string* text = q.get("query");
    if (!kind) fail(400, "missing query parameter 'kind' (from, to or containing)");
    if (!text) fail(400, "missing query parameter 'query'");
    if (*kind != "from" && *kind != "to" && *kind != "containing")
      fail(400, "bad kind '" + *kind + "': expected from, to or containing");
    std::size_t start = 0, limit = 0;
    paging(start, limit);
    const std::string needle = ascii_lower(*text);
    std::vector<message_ptr> matches;
    for (auto& msg : box_.all()) {
      const auto f = box_.fields(msg);
      bool hit = false;
      if (*kind == "from") {
        hit = ascii_lower(f.from).find(needle) != std::string::npos;
      } else if (*kind == "to") {
        hit = ascii_lower(f.to + " " + f.cc + " " + f.bcc).find(needle) != std::string::npos;
      } else {
        hit = ascii_lower(msg->data).find(needle) != std::string::npos;
      }
      if (hit) matches.push_back(msg);
    }
    return json_response(mailhog_list_json(matches, start, limit));
  }
  if (is({"api", "v2", "jim"})) {
    if (m == "GET") {
      const auto jim = control_->jim();
      if (!jim) fail(404, "Jim is not enabled");
      return json_response(jim_json(*jim));
    }
    if (m == "POST") {
      const auto settings = parse_jim(body_json(r.body), control_->jim().value_or(jim_settings{}));
      control_->set_jim(settings);
      return json_response(jim_json(settings), 201);
    }
    if (m == "PUT") {
      const auto current = control_->jim();
      if (!current) fail(404, "Jim is not enabled (POST /api/v2/jim enables it)");
      const auto settings = parse_jim(body_json(r.body), *current);
      control_->set_jim(settings);
      return json_response(jim_json(settings));
    }
    if (m == "DELETE") {
      control_->set_jim(std::nullopt);
      return text_response("");
    }
    return not_allowed("GET, POST, PUT, DELETE");
  }
  fail(404, "no such endpoint: " + r.path);
}

http_response api::view(const http_request& r, const std::vector<std::string>& seg,
                        const route_args& q) {
  // Mailpit's /view/{ID|latest}.html|.txt (and smtpmock's .raw), for UI tests
  // (cypress-mailpit). As Mailpit, errors here are plain text, not {"Error"}.
  auto not_found = [](std::string text) {
    return text_response(std::move(text) + "\n", "text/plain; charset=utf-8", 404);
  };
  if (seg.size() != 2) return not_found("no such view: " + r.path);
  const std::string& name = seg[1];
  const auto dot = name.rfind('.');
  const std::string suffix = dot == std::string::npos ? std::string() : name.substr(dot + 1);
  if (suffix != "html" && suffix != "txt" && suffix != "raw")
    return not_found("no such view: " + r.path + " (expected /view/{ID}.html, .txt or .raw)");
  if (r.method != "GET" && r.method != "HEAD") {
    auto resp = error_response(
        405, "method " + r.method + " is not allowed on " + r.path + " (allowed: GET)");
    resp.headers.emplace_back("Allow", "GET");
    return resp;
  }
  const std::string id = name.substr(0, dot);
  message_ptr msg;
  if (id == "latest") {
    // As Mailpit: `latest` is the newest message, or the newest match of ?query=.
    const std::string* text = q.get("query");
    std::string query_text = text ? *text : std::string();
    query_text.erase(0, query_text.find_first_not_of(" \t"));
    if (query_text.empty()) {
      msg = box_.find("latest");
    } else {
      search_query query;
      try {
        query = search_query::parse(query_text);
      } catch (const std::invalid_argument& e) {
        return text_response(std::string(e.what()) + "\n", "text/plain; charset=utf-8", 400);
      }
      for (auto& candidate : box_.all()) {
        if (query.matches(box_.fields(candidate))) {
          msg = candidate;
          break;
        }
      }
    }
    if (!msg)
      return not_found("message not found: no message" +
                       (query_text.empty() ? std::string() : " matches \"" + query_text + "\""));
  } else {
    msg = id.empty() ? nullptr : box_.find(id);
    if (!msg) return not_found("message " + id + " not found");
  }
  if (suffix == "raw") return text_response(msg->data, "text/plain");
  const auto parsed = box_.parsed(msg);
  if (suffix == "txt") return text_response(parsed->text);
  if (parsed->html.empty())
    return not_found("message " + msg->id + " does not contain an HTML part");
  http_response resp = text_response(link_inline_parts(parsed->html, msg->id, parsed->inlines),
                                     "text/html; charset=utf-8");
  // Captured HTML is untrusted: it renders, but never runs scripts in the API's origin.
  resp.headers.emplace_back("Content-Security-Policy", "sandbox");
  return resp;
}

std::optional<http_response> api::check_wait(const wait_request& w) {
  try {
    auto all = box_.all();
    std::vector<message_ptr> matches;
    if (w.query.terms().empty()) {
      matches = all;
    } else {
      for (auto& msg : all) {
        if (w.query.matches(box_.fields(msg))) matches.push_back(msg);
      }
    }
    if (matches.size() < w.count) return std::nullopt;
    auto resp = json_response(messages_summary_json(box_, all, matches, 0, max_page_size));
    add_cors(resp);
    return resp;
  } catch (const std::exception& e) {
    auto resp = error_response(500, std::string("internal error: ") + e.what());
    add_cors(resp);
    return resp;
  }
}

http_response api::wait_timed_out(const wait_request& w) {
  std::size_t have = 0;
  try {
    for (auto& msg : box_.all()) {
      if (w.query.terms().empty() || w.query.matches(box_.fields(msg))) ++have;
    }
  } catch (const std::exception&) {
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3g", static_cast<double>(w.timeout.count()) / 1000.0);
  std::string what = "timed out after " + std::string(seconds) + " s waiting for " +
                     std::to_string(w.count) + " message(s)";
  if (!w.query_text.empty()) what += " matching \"" + w.query_text + "\"";
  what += " (" + std::to_string(have) + " so far)";
  auto resp = json_response(json{{"Error", what}, {"messages_count", have}}, 408);
  add_cors(resp);
  return resp;
}

http_response api::info() {
  const auto all = box_.all();
  const auto snap = metrics_ ? metrics_->snap() : store::metrics::snapshot{};
  std::uint64_t rejected = 0;
  for (const auto& rc : snap.replies) {
    if (rc.verb == "message" && rc.code >= 400) rejected += rc.count;
  }
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count();
  return json_response(json{{"Version", options_.version},
                            {"LatestVersion", ""},
                            {"Database", ""},
                            {"DatabaseSize", 0},
                            {"Messages", all.size()},
                            {"Unread", box_.unread(all)},
                            {"Tags", json::object()},
                            {"RuntimeStats", json{{"Uptime", uptime},
                                                  {"Memory", resident_memory()},
                                                  {"MessagesDeleted", box_.deleted()},
                                                  {"SMTPAccepted", snap.messages_total},
                                                  {"SMTPAcceptedSize", snap.message_bytes_total},
                                                  {"SMTPRejected", rejected},
                                                  {"SMTPIgnored", 0}}}});
}

http_response api::metrics_text() {
  const auto snap = metrics_ ? metrics_->snap() : store::metrics::snapshot{};
  return text_response(
      prometheus_text(snap, box_.store().message_count(), box_.store().session_count(),
                      options_.version, options_.commit),
      "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace smtpmock::http
