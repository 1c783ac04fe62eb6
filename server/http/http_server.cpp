// The RESTinio listener; see http_server.hpp. The only translation unit that includes
// RESTinio. Requests are handed to http::api as plain structs; responses may be completed
// from any thread (RESTinio dispatches the write onto the connection's strand).
// Long-polls live on one strand: registration, the store's wake-ups, timeouts and shutdown
// all run there, so the waiter list needs no lock and a waiter is answered exactly once.
// Bounds: request bodies (RESTinio closes connections over twice the API's limit; the API
// answers 413 below that), header sizes (431 over our limit, a close far over it), header
// counts, parallel connections (refused at accept) and waiters.
// Lifetimes: connections refer to nothing the server object owns by raw pointer (the
// parallel-connection bound is an IP blocker plus a state listener, both shared with the
// connections), so the io_context may drop pending connections after the server is gone.
// Shutdown order: stop() closes the acceptor; join() stops the threads; the server object is
// destroyed, then the io_context (which destroys what connections were still pending).
#include "http/http_server.hpp"

#include <restinio/all.hpp>
#include <restinio/websocket/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "http/events.hpp"
#include "net/address.hpp"
#include "net/server.hpp"

namespace smtpmock::http {
namespace {

constexpr std::size_t max_connections = 256;
constexpr std::size_t max_waiters = 200;
constexpr std::chrono::seconds idle_keep_alive{30};
/// Header limits we answer with 431 (RFC 6585 5); RESTinio's own, higher limits close the
/// connection for anything beyond (it cannot answer a request it could not parse).
constexpr std::size_t max_header_value = 8 * 1024;
constexpr std::size_t max_header_total = 32 * 1024;
constexpr std::size_t max_target = 8 * 1024;  ///< longer request targets get 414

/// Live connections, from RESTinio's state notices; new ones are refused when full. A set of
/// ids, not a counter: RESTinio may report one connection closed more than once.
struct connection_gate {
  std::mutex mutex;
  std::unordered_set<restinio::connection_id_t> live;

  void state_changed(const restinio::connection_state::notice_t& notice) noexcept try {
    const auto& cause = notice.cause();
    std::lock_guard lock(mutex);
    if (restinio::holds_alternative<restinio::connection_state::accepted_t>(cause)) {
      live.insert(notice.connection_id());
    } else if (restinio::holds_alternative<restinio::connection_state::closed_t>(cause) ||
               restinio::holds_alternative<restinio::connection_state::upgraded_to_websocket_t>(
                   cause)) {
      // A WebSocket is no longer an HTTP connection (RESTinio reports no close for it): the
      // event hub bounds those (event_hub::max_subscribers).
      live.erase(notice.connection_id());
    }
  } catch (...) {
    // Out of memory for one id: that connection is not counted.
  }
  restinio::ip_blocker::inspection_result_t inspect(
      const restinio::ip_blocker::incoming_info_t&) noexcept {
    std::lock_guard lock(mutex);
    return live.size() >= max_connections ? restinio::ip_blocker::deny()
                                          : restinio::ip_blocker::allow();
  }
};

struct traits : restinio::default_traits_t {
  using connection_state_listener_t = connection_gate;
  using ip_blocker_t = connection_gate;
};
using server_type = restinio::http_server_t<traits>;
using request_handle = restinio::request_handle_t;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

/// Writes `r` as the answer to `req`. Never throws: a connection that is gone (a client that
/// left a long-poll) only loses its answer.
void send(const request_handle& req, const http_response& r) noexcept try {
  auto rb = req->create_response(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(r.status)}, reason(r.status)});
  rb.append_header(restinio::http_field::content_type, r.content_type);
  rb.append_header(restinio::http_field::cache_control, "no-store");
  rb.append_header("X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : r.headers)
    rb.append_header(name, value);
  if (req->header().method() != restinio::http_method_head()) rb.set_body(r.body);
  rb.done();
} catch (...) {
}

/// The long-polls, owned by one strand. Shared with the store's listener (weakly).
struct waiters : std::enable_shared_from_this<waiters> {
  struct waiter {
    waiter(request_handle r, wait_request w, asio::strand<asio::io_context::executor_type>& s)
        : req(std::move(r)), wait(std::move(w)), timer(s) {}
    request_handle req;
    wait_request wait;
    asio::steady_timer timer;
    bool done = false;
  };

  waiters(asio::io_context& ioc, std::shared_ptr<api> a)
      : strand(asio::make_strand(ioc)), handler(std::move(a)) {}

  /// Registers a wait (from a request handler on any thread).
  void add(request_handle req, wait_request w) {
    asio::post(strand,
               [self = shared_from_this(), req = std::move(req), w = std::move(w)]() mutable {
                 self->register_on_strand(std::move(req), std::move(w));
               });
  }

  void register_on_strand(request_handle req, wait_request w) {
    if (stopped) {
      send(req, error_response(status_service_unavailable, "server shutting down"));
      return;
    }
    // A message may have arrived between the request's first check and now.
    if (auto now = handler->check_wait(w)) {
      send(req, *now);
      return;
    }
    if (list.size() >= max_waiters) {
      send(req, error_response(status_service_unavailable,
                               "too many pending waits (" + std::to_string(max_waiters) + ")"));
      return;
    }
    auto entry = std::make_shared<waiter>(std::move(req), std::move(w), strand);
    list.push_back(entry);
    pending.store(list.size());
    entry->timer.expires_after(entry->wait.timeout);
    entry->timer.async_wait([self = shared_from_this(), entry](const asio::error_code& ec) {
      if (ec || entry->done) return;
      entry->done = true;
      send(entry->req, self->handler->wait_timed_out(entry->wait));
      self->remove(entry);
    });
  }

  void remove(const std::shared_ptr<waiter>& entry) {
    list.remove(entry);
    pending.store(list.size());
  }

  /// Called on an SMTP thread after a message was stored: cheap unless someone waits.
  void notify() {
    if (pending.load() == 0 || recheck_posted.exchange(true)) return;
    asio::post(strand, [self = shared_from_this()] {
      self->recheck_posted = false;
      self->recheck();
    });
  }

  void recheck() {
    for (auto it = list.begin(); it != list.end();) {
      auto entry = *it;
      if (auto resp = handler->check_wait(entry->wait)) {
        entry->done = true;
        entry->timer.cancel();
        send(entry->req, *resp);
        it = list.erase(it);
      } else {
        ++it;
      }
    }
    pending.store(list.size());
  }

  void stop() {
    asio::post(strand, [self = shared_from_this()] {
      self->stopped = true;
      for (auto& entry : self->list) {
        entry->done = true;
        entry->timer.cancel();
        send(entry->req, error_response(status_service_unavailable, "server shutting down"));
      }
      self->list.clear();
      self->pending.store(0);
    });
  }

  asio::strand<asio::io_context::executor_type> strand;
  std::shared_ptr<api> handler;
  std::list<std::shared_ptr<waiter>> list;  // strand only
  bool stopped = false;                     // strand only
  std::atomic<std::size_t> pending{0};
  std::atomic<bool> recheck_posted{false};
};

namespace ws = restinio::websocket::basic;

/// Frames not yet written to a subscriber past this: it is too slow to follow, and is dropped.
constexpr std::size_t max_unsent_event_bytes = 8u << 20;

/// Upgrades `req` (GET /api/events) to a WebSocket and subscribes it to `hub`. The hub's sink
/// owns the socket; a close frame, a lost connection or a reader too slow unsubscribes it.
void open_event_socket(const request_handle& req, const std::shared_ptr<event_hub>& hub) {
  auto subscription = std::make_shared<std::atomic<std::uint64_t>>(0);
  std::weak_ptr<event_hub> weak_hub = hub;
  // Reading starts once subscribed (activate below), so a close always finds its subscription.
  auto socket = ws::upgrade<traits>(
      *req, ws::activation_t::delayed,
      [weak_hub, subscription](const ws::ws_handle_t& wsh, const ws::message_handle_t& m) {
        switch (m->opcode()) {
          case ws::opcode_t::ping_frame:
            wsh->send_message(ws::final_frame, ws::opcode_t::pong_frame, m->payload());
            break;
          case ws::opcode_t::connection_close_frame:
            // The peer closed, or the connection was lost: answer the close, let go.
            wsh->send_message(*m);
            if (auto h = weak_hub.lock()) h->unsubscribe(subscription->load());
            break;
          default:
            break;  // the client has nothing to say; its text is ignored
        }
      });
  auto unsent = std::make_shared<std::atomic<std::size_t>>(0);
  const std::uint64_t id = hub->subscribe(
      [socket, unsent, weak_hub, subscription](const std::shared_ptr<const std::string>& frame) {
        const std::size_t size = frame->size();
        if (unsent->load() + size > max_unsent_event_bytes) {
          socket->kill();
          if (auto h = weak_hub.lock()) h->unsubscribe(subscription->load());
          return;
        }
        *unsent += size;
        socket->send_message(ws::final_frame, ws::opcode_t::text_frame,
                             restinio::writable_item_t(std::string(*frame)),
                             [unsent, size](const asio::error_code&) { *unsent -= size; });
      });
  subscription->store(id);
  if (id == 0) {
    socket->shutdown();  // full since the API checked: close at once
    return;
  }
  activate(*socket);
}

}  // namespace

/// A 431/414 for a request whose header section is over our limits, else nullopt.
std::optional<http_response> header_problem(const restinio::http_request_header_t& h) {
  if (h.request_target().size() > max_target) {
    return error_response(414, "request target over " + std::to_string(max_target) + " octets");
  }
  std::size_t total = h.request_target().size();
  std::optional<http_response> problem;
  h.for_each_field([&](const restinio::http_header_field_t& f) {
    total += f.name().size() + f.value().size() + 4;
    if (!problem && f.value().size() > max_header_value) {
      problem = error_response(
          431, "header " + f.name() + " over " + std::to_string(max_header_value) + " octets");
    }
  });
  if (!problem && total > max_header_total) {
    problem =
        error_response(431, "header section over " + std::to_string(max_header_total) + " octets");
  }
  return problem;
}

struct http_server::impl {
  impl(std::shared_ptr<store::message_store> s, std::shared_ptr<api> a, std::string l, unsigned t)
      : store(std::move(s)),
        handler(std::move(a)),
        listen(std::move(l)),
        thread_count(std::max(1u, t)),
        ioc(static_cast<int>(thread_count)),
        work(asio::make_work_guard(ioc)),
        waits(std::make_shared<waiters>(ioc, handler)),
        gate(std::make_shared<connection_gate>()) {}

  ~impl() { join(std::chrono::milliseconds(0)); }

  restinio::request_handling_status_t on_request(const request_handle& req) {
    const auto& h = req->header();
    if (auto problem = header_problem(h)) {
      send(req, *problem);
      return restinio::request_accepted();
    }
    http_request r;
    r.method = h.method().c_str();
    const auto path = h.path();
    r.path.assign(path.data(), path.size());
    const auto query = h.query();
    r.query.assign(query.data(), query.size());
    r.accept = h.get_field_or(restinio::http_field::accept, "");
    r.authorization = h.get_field_or(restinio::http_field::authorization, "");
    r.upgrade = h.get_field_or(restinio::http_field::upgrade, "");
    r.body = req->body();
    outcome out = handler->handle(r);
    if (auto* resp = std::get_if<http_response>(&out)) {
      send(req, *resp);
    } else if (auto* wait = std::get_if<wait_request>(&out)) {
      waits->add(req, std::move(*wait));
    } else {
      try {
        open_event_socket(req, handler->events());
      } catch (const std::exception& e) {
        send(req, error_response(400, std::string("cannot open the WebSocket: ") + e.what()));
      }
    }
    return restinio::request_accepted();
  }

  std::string start() {
    auto parsed = net::parse_listen_address(listen);
    if (!parsed) throw net::bind_error(net::listen_address_problem(listen));
    asio::error_code ec;
    const auto address = asio::ip::make_address(parsed->host, ec);
    if (ec) throw net::bind_error("cannot listen on " + listen + ": " + ec.message());

    std::string bound;
    restinio::server_settings_t<traits> settings;
    settings.address(address)
        .port(parsed->port)
        .protocol(address.is_v6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4())
        .request_handler([this](const request_handle& req) { return on_request(req); })
        .read_next_http_message_timelimit(idle_keep_alive)
        .write_http_response_timelimit(std::chrono::seconds(30))
        // A long-poll holds its request until it is answered: RESTinio must not cut it first.
        .handle_request_timeout(std::chrono::seconds(330))
        .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                      .max_url_size(8 * max_target)
                                      .max_field_name_size(1024)
                                      .max_field_value_size(8 * max_header_value)
                                      .max_field_count(100)
                                      .max_body_size(2 * (1 << 20)))
        .connection_state_listener(gate)
        .ip_blocker(gate)
        .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& acceptor) {
          const auto ep = acceptor.local_endpoint();
          bound = net::format_address(ep.address().to_string(), ep.port());
        });
    server = std::make_unique<server_type>(restinio::external_io_context(ioc), std::move(settings));
    try {
      server->open_sync();
    } catch (const std::exception& e) {
      server.reset();
      throw net::bind_error("cannot listen on " + listen + ": " + e.what());
    }
    // Live events are built and sent on one strand, off the SMTP threads, in order.
    handler->events()->set_executor([strand = asio::make_strand(ioc)](std::function<void()> work) {
      asio::post(strand, std::move(work));
    });
    std::weak_ptr<waiters> weak = waits;
    store->add_listener([weak] {
      if (auto w = weak.lock()) w->notify();
    });
    for (unsigned i = 0; i < thread_count; ++i)
      threads.emplace_back([this] { ioc.run(); });
    return bound;
  }

  void stop() {
    waits->stop();
    handler->events()->unsubscribe_all();
    if (server) {
      asio::post(ioc, [this] {
        try {
          if (server) server->close_sync();
        } catch (...) {
          // Closing a listener that is already gone is not a failure at shutdown.
        }
      });
    }
  }

  void join(std::chrono::milliseconds grace) {
    if (joined.exchange(true)) return;
    if (!threads.empty() && grace.count() > 0) {
      // The 503s to pending long-polls and answers already being written get a moment.
      asio::steady_timer pause(ioc, grace);
      std::promise<void> done;
      pause.async_wait([&done](const asio::error_code&) { done.set_value(); });
      done.get_future().wait_for(grace * 2);
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads)
      if (t.joinable()) t.join();
    threads.clear();
    // The event hub outlives this server (the API owns it): it lets go of the strand, which
    // belongs to the io_context, and of its sockets, while the io_context still lives.
    handler->events()->stop();
    // No thread runs now: the server closes its acceptor on a live io_context, then the
    // io_context (a member declared before `server`) drops the connections still pending.
    server.reset();
  }

  std::shared_ptr<store::message_store> store;
  std::shared_ptr<api> handler;
  std::string listen;
  unsigned thread_count;
  asio::io_context ioc;  ///< destroyed after `server` and after the threads are joined
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::shared_ptr<waiters> waits;
  std::shared_ptr<connection_gate> gate;
  std::unique_ptr<server_type> server;
  std::vector<std::thread> threads;
  std::atomic<bool> joined{false};
};

http_server::http_server(std::shared_ptr<store::message_store> store, std::shared_ptr<api> handler,
                         std::string listen, unsigned threads)
    : impl_(std::make_unique<impl>(std::move(store), std::move(handler), std::move(listen),
                                   threads)) {}

http_server::~http_server() = default;

std::string http_server::start() {
  return impl_->start();
}

void http_server::stop() {
  impl_->stop();
}

void http_server::join(std::chrono::milliseconds grace) {
  impl_->join(grace);
}

}  // namespace smtpmock::http
