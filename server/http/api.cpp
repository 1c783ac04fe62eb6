// The API's front door; see api.hpp. Auth, the body limit, CORS and the route tables
// (routes_*.cpp, matched by router.cpp): requests are checked before anything changes (check,
// then proceed), so a bad parameter, body or id is answered 4xx and leaves every state as it
// was. Client mistakes travel as bad_request exceptions inside the API only; handle() turns
// them, and anything unexpected (500), into {"Error": ...} responses.
#include "http/api.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "http/events.hpp"
#include "http/routes.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"

namespace smtpmock::http {

// --- what the route families share --------------------------------------------------------

void fail(int status, const std::string& message) {
  throw bad_request(status, message);
}

const std::string& request_context::param(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) return value;
  }
  throw std::logic_error("route has no parameter " + std::string(name));
}

const std::string* request_context::query(const std::string& name) const {
  auto it = query_.find(name);
  return it == query_.end() ? nullptr : &it->second;
}

std::pair<std::size_t, std::size_t> request_context::paging(std::size_t default_limit) const {
  const std::size_t start = size_param(query("start"), "start", 0, 0, 100'000'000);
  const std::size_t limit =
      std::min(size_param(query("limit"), "limit", default_limit, 1, 100'000'000), max_page_size);
  return {start, limit};
}

std::vector<const scenario_binding*> request_context::scenarios() const {
  std::vector<const scenario_binding*> out;
  const std::string* name = query("listener");
  for (const auto& b : state.scenarios) {
    if (name == nullptr || name->empty()) {
      out.push_back(&b);
      continue;
    }
    for (const auto& l : b.listeners)
      if (ascii_lower(l.name) == ascii_lower(*name)) out.push_back(&b);
  }
  if (out.empty()) {
    std::string known;
    for (const auto& b : state.scenarios)
      for (const auto& l : b.listeners)
        known += (known.empty() ? "" : ", ") + l.name;
    fail(404, "no listener named '" + *name + "' (listeners: " + known + ")");
  }
  return out;
}

const scenario_binding& request_context::scenario() const {
  const auto all = scenarios();
  if (all.size() > 1) {
    std::string names;
    for (const auto* b : all)
      for (const auto& l : b->listeners)
        names += (names.empty() ? "" : ", ") + l.name;
    fail(400,
         "the listeners have scenarios of their own: name one with ?listener= (" + names + ")");
  }
  return *all.front();
}

message_ptr request_context::message_or_404(const std::string& id) const {
  auto msg = state.box.find(id);
  if (!msg) fail(404, "message " + id + " not found");
  return msg;
}

http_response json_response(const json& j, int status) {
  http_response r;
  r.status = status;
  r.body = dump(j);
  return r;
}

http_response text_response(std::string body, std::string type, int status) {
  http_response r;
  r.status = status;
  r.content_type = std::move(type);
  r.body = std::move(body);
  return r;
}

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

bool wants_session_end(const request_context& c) {
  const std::string* v = c.query("session_ended");
  if (v == nullptr || *v == "0" || *v == "false") return false;
  if (*v == "1" || *v == "true") return true;
  fail(400, "bad session_ended '" + *v + "': expected 1 or 0");
}

std::chrono::milliseconds wait_timeout(const request_context& c) {
  const api_options& options = c.state.options;
  std::chrono::milliseconds timeout = options.default_wait;
  if (const std::string* t = c.query("timeout")) timeout = duration_param(*t, "timeout");
  if (timeout > options.max_wait) {
    fail(400,
         "timeout over the maximum of " + std::to_string(options.max_wait.count() / 1000) + " s");
  }
  return timeout;
}

json body_json(const std::string& body, json empty) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return empty;
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for numbers beyond a double (`1e999999`).
    fail(400, std::string("bad JSON in request body: ") + e.what());
  }
}

json canonical_keys(const json& j, std::initializer_list<std::string_view> allowed,
                    const char* what) {
  // As Go's encoding/json: `{"ids": [...]}` from the Java Testcontainers module means `IDs`.
  // Unlike Go, an unknown key is refused (a typo such as "Idz" must not be dropped and so mean
  // "everything"), and so are two keys naming one field, where Go would keep the last.
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

std::vector<std::string> string_list(const json& j, const char* what, const char* field) {
  if (j.is_null()) return {};
  const std::string problem = std::string(what) + ": " + field + " must be an array of strings";
  if (!j.is_array()) fail(400, problem);
  std::vector<std::string> out;
  for (const auto& v : j) {
    if (!v.is_string()) fail(400, problem);
    out.push_back(v.get<std::string>());
  }
  return out;
}

search_query parse_search(const std::string& text) {
  try {
    return search_query::parse(text);
  } catch (const std::invalid_argument& e) {
    fail(400, e.what());
  }
}

bool accepts(const std::string& accept, std::string_view type) {
  return ascii_lower(accept).find(type) != std::string::npos;
}

http_response error_response(int status, const std::string& message) {
  return json_response(json{{"Error", message}}, status);
}

// --- the API ---------------------------------------------------------------------------------

namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

/// Basic auth (RFC 7617) against "user:password".
bool authorized(const std::string& header, const std::string& credentials) {
  const auto given = basic_credentials(header);
  return given && constant_time_equal(given->first + ":" + given->second, credentials);
}

/// /api/... and /view/...: the paths --http-cors opens to other origins (as Mailpit's).
bool cors_path(std::string_view path) {
  return path.rfind("/api/", 0) == 0 || path.rfind("/view/", 0) == 0;
}

/// The route tables, built at the first request (compiling their patterns takes a few
/// milliseconds that a server start should not wait for).
const router& routes() {
  static const auto table = [] {
    auto r = std::make_unique<router>();
    r->add(control_routes());
    r->add(view_routes());
    r->add(mailpit_routes());
    r->add(mailhog_routes());
    return r;
  }();
  return *table;
}

}  // namespace

api::api(std::shared_ptr<store::message_store> store, std::shared_ptr<store::metrics> metrics,
         std::shared_ptr<scenario_control> control, api_options options)
    : api(std::move(store), std::move(metrics),
          std::vector<scenario_binding>{scenario_binding{std::move(control), {}}},
          std::move(options)) {}

api::api(std::shared_ptr<store::message_store> store, std::shared_ptr<store::metrics> metrics,
         std::vector<scenario_binding> scenarios, api_options options)
    : api(std::move(store), std::vector<listener_metrics>{listener_metrics{"", std::move(metrics)}},
          std::move(scenarios), std::move(options)) {}

api::api(std::shared_ptr<store::message_store> store, std::vector<listener_metrics> metrics,
         std::vector<scenario_binding> scenarios, api_options options) {
  std::erase_if(metrics, [](const listener_metrics& m) { return !m.metrics; });
  state_ = std::make_unique<api_state>(std::move(store), std::move(metrics), std::move(scenarios),
                                       std::move(options));
  state_->events = std::make_shared<event_hub>(state_->box, state_->options.version);
  state_->events->attach();
}

std::shared_ptr<event_hub> api::events() {
  return state_->events;
}

api::~api() = default;

void api::set_ready() {
  state_->ready = true;
}

mailbox& api::messages() {
  return state_->box;
}

void api::add_cors(http_response& resp) const {
  if (state_->options.cors_origin.empty()) return;
  for (const auto& [name, value] : resp.headers) {
    if (name == "Access-Control-Allow-Origin") return;
  }
  resp.headers.emplace_back("Access-Control-Allow-Origin", state_->options.cors_origin);
}

outcome api::handle(const http_request& r) {
  // Under --http-base-path the routes see the path without the prefix; health answers at the
  // root too (a container's health check does not know the prefix).
  const std::string& base = state_->options.base_path;
  std::string_view path = r.path;
  if (!base.empty()) {
    if (path == base) {
      http_response resp;
      resp.status = 308;
      resp.content_type = "text/plain; charset=utf-8";
      resp.headers.emplace_back("Location", base + "/" + (r.query.empty() ? "" : "?" + r.query));
      return resp;
    }
    if (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
        path[base.size()] == '/') {
      path.remove_prefix(base.size());
    } else if (path != "/livez" && path != "/readyz") {
      return error_response(404,
                            "no such endpoint: " + r.path + " (the API is under " + base + "/)");
    }
  }
  const bool cors = !state_->options.cors_origin.empty() && cors_path(path);
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
  outcome out = answer(r, path);
  if (auto* resp = std::get_if<http_response>(&out); resp && cors) add_cors(*resp);
  return out;
}

outcome api::answer(const http_request& r, std::string_view path) {
  try {
    const api_options& options = state_->options;
    // Health is open to everyone (Docker, Kubernetes probes); everything else may need auth.
    const bool health = path == "/livez" || path == "/readyz";
    if (!health && !options.credentials.empty() &&
        !authorized(r.authorization, options.credentials)) {
      auto resp = error_response(401, "authentication required");
      resp.headers.emplace_back("WWW-Authenticate", "Basic realm=\"smtpmock\", charset=\"UTF-8\"");
      return resp;
    }
    if (r.body.size() > options.max_body) {
      return error_response(413, "request body of " + std::to_string(r.body.size()) +
                                     " octets is over the limit of " +
                                     std::to_string(options.max_body));
    }
    if (path.empty() || path.front() != '/') fail(400, "bad request target");
    if (!percent_decode(path, false)) fail(400, "bad percent-encoding in the path");
    auto query = parse_query_string(r.query);
    if (!query) fail(400, "bad percent-encoding in the query string");
    route_match found;
    try {
      found = routes().match(r.method, path);
    } catch (const std::invalid_argument& e) {
      fail(400, e.what());
    }
    if (!found.found) {
      if (found.allow.empty()) fail(404, "no such endpoint: " + r.path);
      auto resp = error_response(405, "method " + r.method + " is not allowed on " + r.path +
                                          " (allowed: " + found.allow + ")");
      resp.headers.emplace_back("Allow", found.allow);
      return resp;
    }
    request_context context(*state_, r, std::move(*query), std::move(found.params));
    http_response resp = found.found->handler(context);
    if (context.upgrade) return events_request{};
    if (context.wait) {
      if (auto now = check_wait(*context.wait)) return *now;
      return std::move(*context.wait);
    }
    return resp;
  } catch (const bad_request& e) {
    return error_response(e.status, e.what());
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what());
  }
}

std::optional<http_response> api::check_wait(const wait_request& w) {
  try {
    const store::message_store& store = state_->box.store();
    if (w.what == wait_request::awaiting::findings) {
      if (!findings_settled(store, w.findings)) return std::nullopt;
      auto resp = json_response(collect_findings(store, w.findings));
      add_cors(resp);
      return resp;
    }
    auto all = state_->box.all();
    const auto matches = state_->box.matching(w.query, all);
    if (matches.size() < w.count) return std::nullopt;
    if (w.session_ended && !sessions_ended(store, matches)) return std::nullopt;
    auto resp = json_response(messages_summary_json(state_->box, all, matches, 0, max_page_size));
    add_cors(resp);
    return resp;
  } catch (const std::exception& e) {
    auto resp = error_response(500, std::string("internal error: ") + e.what());
    add_cors(resp);
    return resp;
  }
}

http_response api::wait_timed_out(const wait_request& w) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3g", static_cast<double>(w.timeout.count()) / 1000.0);
  std::string what = "timed out after " + std::string(seconds) + " s waiting for ";
  if (w.what == wait_request::awaiting::findings) {
    const finding_filter& f = w.findings;
    what += !f.session.empty()  ? "session " + f.session + " to end"
            : !f.client.empty() ? "the session of client " + f.client + " to end"
                                : std::string("every session to end");
    auto resp = json_response(json{{"Error", what}}, 408);
    add_cors(resp);
    return resp;
  }
  std::size_t have = 0;
  try {
    have = state_->box.matching(w.query, state_->box.all()).size();
  } catch (const std::exception&) {
  }
  what += std::to_string(w.count) + " message(s)";
  if (!w.query_text.empty()) what += " matching \"" + w.query_text + "\"";
  if (w.session_ended) what += " whose sessions ended";
  what += " (" + std::to_string(have) + " so far)";
  auto resp = json_response(json{{"Error", what}, {"messages_count", have}}, 408);
  add_cors(resp);
  return resp;
}

}  // namespace smtpmock::http
