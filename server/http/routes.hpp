// What the route tables share (internal to the HTTP API): the API's state, the request as a
// handler sees it, the helpers every family uses, and the families' tables. Client mistakes
// are thrown as bad_request (answered 4xx with {"Error"}) and never leave api::handle().
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/api.hpp"
#include "http/router.hpp"
#include "http/views.hpp"

namespace smtpmock::http {

/// Everything the handlers read and change.
struct api_state {
  api_state(std::shared_ptr<store::message_store> store, std::vector<listener_metrics> m,
            std::vector<scenario_binding> s, api_options o)
      : box(std::move(store)),
        metrics(std::move(m)),
        scenarios(std::move(s)),
        options(std::move(o)) {}

  mailbox box;
  /// GET /api/events' subscribers; set by api's constructor.
  std::shared_ptr<event_hub> events;
  /// Each SMTP listener's counters (none null), fixed at construction.
  std::vector<listener_metrics> metrics;
  /// One per scenario the listeners run (one for every listener unless they have their own).
  std::vector<scenario_binding> scenarios;
  api_options options;
  std::atomic<bool> ready{false};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

/// A client mistake: answered with `status` and {"Error": message}.
struct bad_request : std::runtime_error {
  bad_request(int s, const std::string& message) : std::runtime_error(message), status(s) {}
  int status;
};

[[noreturn]] void fail(int status, const std::string& message);

class request_context;
struct scenario_binding;
/// Tells GET /api/events' subscribers that the scenarios of `bindings` changed.
void announce_scenarios(request_context& c, const std::vector<const scenario_binding*>& bindings);

/// One request as its handler sees it.
class request_context {
 public:
  request_context(api_state& s, const http_request& r, std::map<std::string, std::string> query,
                  std::vector<std::pair<std::string, std::string>> params)
      : state(s), request(r), query_(std::move(query)), params_(std::move(params)) {}

  api_state& state;
  const http_request& request;
  /// Set by a handler that long-polls (GET /api/v1/messages/wait).
  std::optional<wait_request> wait;
  /// Set by GET /api/events for a WebSocket upgrade.
  bool upgrade = false;

  /// A path parameter (":id") of the route, decoded.
  const std::string& param(std::string_view name) const;
  /// A query parameter, or null when absent.
  const std::string* query(const std::string& name) const;
  /// `start` and `limit` of a listing (limit above max_page_size is served as a page of it).
  std::pair<std::size_t, std::size_t> paging(std::size_t default_limit = 50) const;
  /// The scenario ?listener=NAME runs on; without it the only one (a 400 naming the listeners
  /// when they have several); an unknown name is a 404.
  const scenario_binding& scenario() const;
  /// Those ?listener= selects: every one without it (chaos and Jim set them all).
  std::vector<const scenario_binding*> scenarios() const;
  /// The message `id` ("latest": the newest), else 404.
  message_ptr message_or_404(const std::string& id) const;

 private:
  std::map<std::string, std::string> query_;
  std::vector<std::pair<std::string, std::string>> params_;
};

http_response json_response(const json& j, int status = status_ok);
http_response text_response(std::string body, std::string type = "text/plain; charset=utf-8",
                            int status = status_ok);
/// A non-negative integer query parameter within [min, max], or `fallback` when absent.
std::size_t size_param(const std::string* value, const char* name, std::size_t fallback,
                       std::size_t min, std::size_t max);
/// "5", "2.5" (seconds) or a scenario duration ("500ms", "2s", "1m").
std::chrono::milliseconds duration_param(const std::string& value, const char* name);
/// Whether a long-poll also waits for the end of sessions (session_ended=1 or true; 0, false
/// or absent: no; anything else is a 400).
bool wants_session_end(const request_context& c);
/// The timeout= of a long-poll: default_wait when absent; over max_wait is a 400.
std::chrono::milliseconds wait_timeout(const request_context& c);
/// The request body as JSON; `empty` when there is none. Bad JSON is a 400.
json body_json(const std::string& body, json empty = json::object());
/// `j` (an object) with each key replaced by the field of `allowed` it names, matched as Go's
/// encoding/json (so Mailpit) matches them: exactly, or else case-insensitively. A key naming
/// no field is a 400 naming it, and so are two keys naming the same field.
json canonical_keys(const json& j, std::initializer_list<std::string_view> allowed,
                    const char* what);
/// An array of strings; null (as Go decodes it) is an empty list.
std::vector<std::string> string_list(const json& j, const char* what, const char* field);
/// A search query, or 400 with the parser's message.
search_query parse_search(const std::string& text);
/// MailHog's Jim settings as its API shows them (routes_mailhog.cpp).
json jim_json(const jim_settings& s);
/// Whether an Accept header asks for `type`.
bool accepts(const std::string& accept, std::string_view type);

// The families' tables, in the order the router tries them.
std::span<const route> control_routes();  ///< health, metrics, the page, sessions, scenario
std::span<const route> mailpit_routes();  ///< Mailpit API v1 (and MailHog's v1 message by id)
std::span<const route> mailhog_routes();  ///< MailHog API v2, Jim
std::span<const route> view_routes();     ///< /view/{ID|latest}.html|.txt|.raw

/// The findings `f` selects: every stored session's, newest session first, each session's in
/// order, as GET /api/v1/findings shows them.
json collect_findings(const store::message_store& store, const finding_filter& f);
/// Whether every session `f` selects by session or client has ended, and one at least exists
/// (without either: whether no session is live).
bool findings_settled(const store::message_store& store, const finding_filter& f);
/// Whether none of `messages` belongs to a session still live.
bool sessions_ended(const store::message_store& store, const std::vector<message_ptr>& messages);

}  // namespace smtpmock::http
