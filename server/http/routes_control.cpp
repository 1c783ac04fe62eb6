// Routes: health, metrics, the index page, sessions and their transcripts, the scenario and
// Mailpit's chaos triggers (smtpmock's control of the SMTP side). See routes.hpp.
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string_view>

#include "http/events.hpp"
#include "http/openapi.hpp"
#include "http/routes.hpp"
#include "http/web_assets.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"
#include "smtp/findings.hpp"
#include "store/json.hpp"

namespace smtpmock::http {

namespace {

/// Whether a session's client address ("127.0.0.1:53422", "[::1]:53422") is `client`: the
/// same address and port, or the same IP when `client` has no port.
bool same_client(std::string_view address, std::string_view client) {
  if (address == client) return true;
  const auto port = address.rfind(':');
  if (port == std::string_view::npos) return false;
  std::string_view ip = address.substr(0, port);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return ip == client;
}

/// Whether `l` is the listener named `name` (case-insensitive, as the search term).
bool same_listener(const store::listener_ref& l, std::string_view name) {
  return ascii_lower(l.name) == ascii_lower(name);
}

bool selects(const finding_filter& f, const store::session_summary& s) {
  if (!f.session.empty() && s.id != f.session) return false;
  if (!f.listener.empty() && !same_listener(s.listener, f.listener)) return false;
  return f.client.empty() || same_client(s.client_address, f.client);
}

}  // namespace

json collect_findings(const store::message_store& store, const finding_filter& f) {
  json out = json::array();
  for (const auto& s : store.session_summaries()) {
    if (!selects(f, s)) continue;
    for (const auto& x : s.findings) {
      if (!f.code.empty() && x.code != f.code) continue;
      if (!f.severity.empty() && x.severity != f.severity) continue;
      out.push_back(finding_json(s.id, x));
    }
  }
  return out;
}

bool findings_settled(const store::message_store& store, const finding_filter& f) {
  const bool named = !f.session.empty() || !f.client.empty();
  bool any = false;
  for (const auto& s : store.session_summaries()) {
    if (!selects(f, s)) continue;
    if (!s.ended) return false;
    any = true;
  }
  return any || !named;
}

bool sessions_ended(const store::message_store& store, const std::vector<message_ptr>& messages) {
  std::set<std::string> live;
  for (const auto& s : store.session_summaries())
    if (!s.ended) live.insert(s.id);
  if (live.empty()) return true;
  return std::none_of(messages.begin(), messages.end(),
                      [&](const message_ptr& m) { return live.contains(m->session_id); });
}

namespace {

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

json listeners_json(const std::vector<listener_info>& listeners) {
  json out = json::array();
  for (const auto& l : listeners)
    out.push_back(json{{"Name", l.name}, {"Address", l.address}, {"TLS", l.tls}});
  return out;
}

/// How often each rule fired on the listeners of `b` (their metrics; all of them when the
/// API was given one unnamed set of counters).
std::map<std::string, std::uint64_t> rule_hits(const api_state& state, const scenario_binding& b) {
  std::map<std::string, std::uint64_t> hits;
  for (const auto& m : state.metrics) {
    const bool ours = m.listener.empty() ||
                      std::any_of(b.listeners.begin(), b.listeners.end(),
                                  [&](const listener_info& l) { return l.name == m.listener; });
    if (!ours) continue;
    for (const auto& [name, count] : m.metrics->snap().rule_hits)
      hits[name] += count;
  }
  return hits;
}

json scenario_json(const scenario_control::state& s, const std::vector<listener_info>& listeners,
                   const std::map<std::string, std::uint64_t>& hits) {
  const auto& def = s.engine->scenario();
  const auto& p = *def.personality;
  json rules = json::array();
  const std::size_t overlays = def.rules.size() - s.base->rules.size();
  for (std::size_t i = 0; i < def.rules.size(); ++i) {
    const auto& r = def.rules[i];
    const char* source = i >= overlays                  ? "scenario"
                         : r.name.rfind("jim-", 0) == 0 ? "jim"
                                                        : "chaos";
    const auto hit = hits.find(r.name);
    rules.push_back(json{{"Name", r.name},
                         {"On", std::string(scenario::event_name(r.on))},
                         {"Source", source},
                         {"Hits", hit == hits.end() ? 0 : hit->second}});
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
              {"Listeners", listeners_json(listeners)},
              {"YAML", s.source}};
}

http_response livez(request_context&) {
  return text_response("ok\n");
}

http_response readyz(request_context& c) {
  if (!c.state.ready) return text_response("starting\n", "text/plain; charset=utf-8", 503);
  // "ok", then a line per SMTP listener: NAME ADDRESS tls=MODE scenario=NAME.
  std::string body = "ok\n";
  for (const auto& b : c.state.scenarios) {
    const std::string scenario = b.control->current().engine->scenario().personality->name;
    for (const auto& l : b.listeners)
      body += l.name + " " + l.address + " tls=" + l.tls + " scenario=" + scenario + "\n";
  }
  return text_response(std::move(body));
}

http_response metrics_page(request_context& c) {
  std::vector<labelled_snapshot> listeners;
  for (const auto& m : c.state.metrics)
    listeners.push_back({m.listener, m.metrics->snap()});
  const auto& store = c.state.box.store();
  return text_response(prometheus_text(listeners, store.message_count(), store.session_count(),
                                       c.state.options.version, c.state.options.commit),
                       "text/plain; version=0.0.4; charset=utf-8");
}

/// The web UI's file `name` (http/web_assets.hpp), with the page's Content-Security-Policy.
http_response web_file(const std::string& name) {
  auto asset = web_asset_named(name);
  if (!asset) fail(404, "no such file in the web UI: " + name);
  http_response resp = text_response(std::move(asset->body), asset->content_type);
  resp.headers.emplace_back("Content-Security-Policy", std::string(web_page_policy));
  resp.headers.emplace_back("Referrer-Policy", "no-referrer");
  return resp;
}

http_response home_page(request_context&) {
  return web_file("index.html");
}

http_response web_ui_file(request_context& c) {
  return web_file(c.param("file"));
}

/// GET /api/events: the live events (events.hpp) over a WebSocket, which the server opens.
http_response events_socket(request_context& c) {
  if (ascii_lower(c.request.upgrade) != "websocket")
    fail(400, "GET /api/events is a WebSocket (RFC 6455): send Upgrade: websocket");
  if (c.state.events->subscribers() >= event_hub::max_subscribers)
    fail(503, "too many event subscribers (" + std::to_string(event_hub::max_subscribers) + ")");
  c.upgrade = true;
  return {};
}

http_response list_sessions(request_context& c) {
  const auto [start, limit] = c.paging(1000);
  auto sessions = c.state.box.store().session_summaries();
  if (const std::string* listener = c.query("listener"); listener && !listener->empty()) {
    std::erase_if(sessions, [&](const store::session_summary& s) {
      return !same_listener(s.listener, *listener);
    });
  }
  json list = json::array();
  for (std::size_t i = start; i < sessions.size() && i - start < limit; ++i)
    list.push_back(session_summary_json(sessions[i]));
  const std::size_t count = list.size();
  return json_response(json{{"total", sessions.size()},
                            {"start", start},
                            {"count", count},
                            {"sessions", std::move(list)}});
}

store::session_record session_or_404(request_context& c) {
  const std::string& id = c.param("id");
  auto s = c.state.box.store().session(id);
  if (!s) fail(404, "session " + id + " not found");
  return std::move(*s);
}

http_response get_session(request_context& c) {
  return json_response(json::parse(store::session_json(session_or_404(c))));
}

http_response get_transcript(request_context& c) {
  const auto s = session_or_404(c);
  if (accepts(c.request.accept, "text/plain")) return text_response(store::transcript_text(s));
  json full = json::parse(store::session_json(s));
  return json_response(json{{"SessionID", s.id},
                            {"Truncated", s.truncated},
                            {"Transcript", std::move(full["Transcript"])}});
}

http_response get_scenario(request_context& c) {
  const scenario_binding& b = c.scenario();
  const auto state = b.control->current();
  if (accepts(c.request.accept, "yaml")) return text_response(state.source, "application/yaml");
  return json_response(scenario_json(state, b.listeners, rule_hits(c.state, b)));
}

http_response put_scenario(request_context& c) {
  const std::string& body = c.request.body;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos)
    fail(400, "empty scenario: send the scenario's YAML as the request body");
  const scenario_binding& b = c.scenario();
  try {
    b.control->replace_text(body, "request", "PUT /api/v1/scenario");
  } catch (const scenario::load_error& e) {
    return json_response(json{{"Error", e.what()},
                              {"File", e.file()},
                              {"Line", e.line()},
                              {"Column", e.column()},
                              {"Message", e.message()}},
                         400);
  }
  announce_scenarios(c, {&b});
  return json_response(scenario_json(b.control->current(), b.listeners, rule_hits(c.state, b)));
}

// Chaos and Jim: without ?listener= a PUT sets every scenario's and a GET shows the first's
// (the same, unless one listener's were set apart).
http_response get_chaos(request_context& c) {
  return json_response(chaos_json(c.scenarios().front()->control->chaos()));
}

http_response put_chaos(request_context& c) {
  const auto targets = c.scenarios();
  const chaos_triggers triggers = parse_chaos(body_json(c.request.body));
  for (const auto* b : targets)
    b->control->set_chaos(triggers);
  announce_scenarios(c, targets);
  return json_response(chaos_json(targets.front()->control->chaos()));
}

http_response openapi_document(request_context&) {
  return text_response(openapi_json(), "application/json");
}

/// GET /api/v1/findings?session=&client=&code=&severity=: the findings of every stored session
/// (newest session first, each session's in order), filtered; [] for well-behaved clients.
/// With session_ended=1 (and timeout=) it long-polls until the sessions selected have ended.
http_response list_findings(request_context& c) {
  finding_filter f;
  for (auto [name, field] : {std::pair{"session", &f.session}, std::pair{"client", &f.client},
                             std::pair{"code", &f.code}, std::pair{"severity", &f.severity},
                             std::pair{"listener", &f.listener}}) {
    if (const std::string* v = c.query(name)) *field = *v;
  }
  if (!f.code.empty() && !smtp::find_finding_kind(f.code)) {
    std::string known;
    for (const auto& k : smtp::finding_kinds())
      known += (known.empty() ? "" : ", ") + std::string(k.code);
    fail(400, "unknown finding code '" + f.code + "' (known: " + known + ")");
  }
  if (!f.severity.empty() && !smtp::parse_severity(f.severity))
    fail(400, "bad severity '" + f.severity + "': expected error, warning or info");
  if (!f.session.empty() && !c.state.box.store().session(f.session))
    fail(404, "session " + f.session + " not found");
  if (wants_session_end(c)) {
    // A session is recorded when it is accepted, so a client with none is not this server's
    // (say, a client asking the wrong smtpmock): a 404 at once, not a wait for the timeout.
    if (!f.client.empty()) {
      const auto sessions = c.state.box.store().session_summaries();
      if (std::none_of(sessions.begin(), sessions.end(), [&](const store::session_summary& s) {
            return same_client(s.client_address, f.client);
          }))
        fail(404, "no session from client " + f.client);
    }
    wait_request w;
    w.what = wait_request::awaiting::findings;
    w.session_ended = true;
    w.findings = std::move(f);
    w.timeout = wait_timeout(c);
    c.wait = std::move(w);
    return {};
  }
  return json_response(collect_findings(c.state.box.store(), f));
}

const route table[] = {
    {"GET", "/livez", livez},
    {"GET", "/readyz", readyz},
    {"GET", "/metrics", metrics_page},
    {"GET", "/", home_page},
    {"GET", "/ui/:file", web_ui_file},
    {"GET", "/api/events", events_socket},
    {"GET", "/api/v1/openapi.json", openapi_document},
    {"GET", "/api/v1/sessions", list_sessions},
    {"GET", "/api/v1/findings", list_findings},
    {"GET", "/api/v1/session/:id", get_session},
    {"GET", "/api/v1/session/:id/transcript", get_transcript},
    {"GET", "/api/v1/scenario", get_scenario},
    {"PUT", "/api/v1/scenario", put_scenario},
    {"GET", "/api/v1/chaos", get_chaos},
    {"PUT", "/api/v1/chaos", put_chaos},
};

}  // namespace

// Tells GET /api/events' subscribers that the scenarios of `bindings` changed.
void announce_scenarios(request_context& c, const std::vector<const scenario_binding*>& bindings) {
  std::vector<std::string> names;
  for (const auto* b : bindings)
    for (const auto& l : b->listeners)
      names.push_back(l.name);
  c.state.events->scenario_changed(names);
}

std::span<const route> control_routes() {
  return table;
}

}  // namespace smtpmock::http
