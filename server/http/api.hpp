// The HTTP API as a pure function: a request (method, path, query, a few headers, body) in,
// a response or a pending long-poll out. No sockets and no HTTP library here (h11's
// sans-I/O idea): http_server.cpp moves bytes, this file decides. Every client mistake
// becomes a 4xx with {"Error": "..."}; nothing a request sends throws out of handle().
// Thread-safe: handle() may run on several I/O threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "http/mailbox.hpp"
#include "http/router.hpp"
#include "http/scenario_control.hpp"
#include "http/search.hpp"
#include "store/message_store.hpp"
#include "store/metrics.hpp"

namespace smtpmock::http {

/// What the API needs of one request.
struct http_request {
  std::string method;  ///< "GET", "PUT", ...
  std::string path;    ///< as sent, still percent-encoded, without the query
  std::string query;   ///< after '?', still encoded
  std::string accept;
  std::string authorization;
  std::string upgrade;  ///< the Upgrade header ("websocket" for GET /api/events)
  std::string body;
};

/// The answer to one request.
struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
};

/// Which findings GET /api/v1/findings lists (empty: any).
struct finding_filter {
  std::string session;   ///< a session ID
  std::string client;    ///< the session's client address: "ip:port", "[ip6]:port" or the ip
  std::string code;      ///< a finding code
  std::string severity;  ///< error, warning or info
  std::string listener;  ///< the name of the sessions' SMTP listener
};

/// A long-poll: answer once `count` messages match `query` (and, with session_ended, their
/// sessions have ended), or once the sessions `findings` selects have ended; or when `timeout`
/// passes.
struct wait_request {
  enum class awaiting { messages, findings } what = awaiting::messages;
  std::string query_text;
  search_query query;
  std::size_t count = 1;
  std::chrono::milliseconds timeout{0};
  bool session_ended = false;
  finding_filter findings;
};

/// GET /api/events, authorized and asking for a WebSocket: the server upgrades the connection
/// and subscribes it to api::events().
struct events_request {};

/// An answer now, a wait the server keeps until check_wait() or the timeout, or an upgrade.
using outcome = std::variant<http_response, wait_request, events_request>;

/// Limits and identity of the API.
struct api_options {
  std::string credentials;  ///< "user:password" for basic auth; empty: no auth
  /// Access-Control-Allow-Origin of /api/ and /view/ answers ("*" or one origin); empty: no
  /// CORS headers, and OPTIONS is answered as any other unsupported method.
  std::string cors_origin;
  /// Every route under this prefix ("/mail", no trailing slash); empty: at the root. /livez
  /// and /readyz answer at the root too; the prefix alone redirects to the prefix with "/".
  std::string base_path;
  std::size_t max_body = 1 << 20;  ///< larger request bodies get 413
  std::string version = "0.0.0";   ///< shown by /api/v1/info and smtpmock_build_info
  std::string commit = "unknown";  ///< the git commit, in smtpmock_build_info
  /// Ids for messages POST /api/v1/send stores (the SMTP side's generator); unset: a 500.
  std::function<std::string()> new_message_id;
  std::chrono::milliseconds default_wait{30'000};
  std::chrono::milliseconds max_wait{300'000};
};

/// The most items one listing returns (`limit` above it is served as this much); MailHog-shaped
/// listings, which carry whole messages, also stop after max_listing_bytes of message data.
inline constexpr std::size_t max_page_size = 1000;
inline constexpr std::size_t max_listing_bytes = 16u << 20;

/// Status codes used by the server layer too.
inline constexpr int status_ok = 200;
inline constexpr int status_service_unavailable = 503;

/// An SMTP listener as the API shows it.
struct listener_info {
  std::string name;     ///< its name, or its port
  std::string address;  ///< as bound
  std::string tls;      ///< "starttls", "implicit" or "none"
};

/// A live scenario and the listeners whose new sessions start with it.
struct scenario_binding {
  std::shared_ptr<scenario_control> control;
  std::vector<listener_info> listeners;
};

/// One SMTP listener's counters, for GET /metrics (each under its `listener` label) and
/// /api/v1/info (summed).
struct listener_metrics {
  std::string listener;  ///< its name; empty: no `listener` label (an API given one object)
  std::shared_ptr<store::metrics> metrics;
};

struct api_state;
class event_hub;

class api {
 public:
  /// One scenario for every listener; one metrics object, shown without a `listener` label.
  api(std::shared_ptr<store::message_store> store, std::shared_ptr<store::metrics> metrics,
      std::shared_ptr<scenario_control> control, api_options options);
  /// A scenario per group of listeners (GET/PUT /api/v1/scenario?listener=NAME picks one).
  api(std::shared_ptr<store::message_store> store, std::shared_ptr<store::metrics> metrics,
      std::vector<scenario_binding> scenarios, api_options options);
  /// Scenarios per group of listeners and the counters of each listener (null ones skipped).
  api(std::shared_ptr<store::message_store> store, std::vector<listener_metrics> metrics,
      std::vector<scenario_binding> scenarios, api_options options);
  ~api();
  api(const api&) = delete;
  api& operator=(const api&) = delete;

  /// Answers one request (or returns the wait it asks for).
  outcome handle(const http_request& request);
  /// The answer to a pending wait if it is satisfied now.
  std::optional<http_response> check_wait(const wait_request& w);
  /// The answer to a wait whose time ran out (408 with the count so far).
  http_response wait_timed_out(const wait_request& w);

  /// /readyz answers 200 from now on (every listener is bound).
  void set_ready();
  mailbox& messages();
  /// The live events of GET /api/events (events.hpp).
  std::shared_ptr<event_hub> events();

 private:
  /// `path` is r.path without --http-base-path's prefix.
  outcome answer(const http_request& r, std::string_view path);
  /// Adds Access-Control-Allow-Origin to an answer of an API path when --http-cors is set.
  void add_cors(http_response& resp) const;

  std::unique_ptr<api_state> state_;  ///< shared with the route tables (routes.hpp)
};

/// {"Error": message} with `status`.
http_response error_response(int status, const std::string& message);

/// One listener's counters as prometheus_text() renders them.
struct labelled_snapshot {
  std::string listener;  ///< the `listener` label's value; empty: no such label
  store::metrics::snapshot counters;
};

/// Prometheus text exposition of each listener's counters (every SMTP-side series labelled
/// with its listener, each family once) and the store's size (prometheus_text.cpp).
std::string prometheus_text(const std::vector<labelled_snapshot>& listeners,
                            std::size_t messages_stored, std::size_t sessions_stored,
                            const std::string& version = "", const std::string& commit = "");

}  // namespace smtpmock::http
