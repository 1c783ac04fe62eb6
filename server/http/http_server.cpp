// The RESTinio listener; see http_server.hpp. The only translation unit that includes
// RESTinio. Requests are handed to http::api as plain structs; responses may be completed
// from any thread (RESTinio dispatches the write onto the connection's strand).
// Long-polls live on one strand: registration, the store's wake-ups, timeouts and shutdown
// all run there, so the waiter list needs no lock and a waiter is answered exactly once.
// Bounds: request bodies (RESTinio closes connections over twice the API's limit; the API
// answers 413 below that), header sizes and counts, parallel connections and waiters.
#include "http/http_server.hpp"

#include <restinio/all.hpp>

#include <atomic>
#include <list>

#include "net/address.hpp"
#include "net/context.hpp"

namespace smtpmock::http {
namespace {

struct traits : restinio::default_traits_t {
  static constexpr bool use_connection_count_limiter = true;
};
using server_type = restinio::http_server_t<traits>;
using request_handle = restinio::request_handle_t;

constexpr std::size_t max_connections = 256;
constexpr std::size_t max_waiters = 200;
constexpr std::chrono::seconds idle_keep_alive{30};

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

}  // namespace

struct http_server::impl {
  impl(net::server& n, std::shared_ptr<store::message_store> s, std::shared_ptr<api> a,
       std::string l)
      : net(n),
        store(std::move(s)),
        handler(std::move(a)),
        listen(std::move(l)),
        waits(std::make_shared<waiters>(net::context(net), handler)) {}

  restinio::request_handling_status_t on_request(const request_handle& req) {
    http_request r;
    const auto& h = req->header();
    r.method = h.method().c_str();
    const auto path = h.path();
    r.path.assign(path.data(), path.size());
    const auto query = h.query();
    r.query.assign(query.data(), query.size());
    r.accept = h.get_field_or(restinio::http_field::accept, "");
    r.authorization = h.get_field_or(restinio::http_field::authorization, "");
    r.body = req->body();
    outcome out = handler->handle(r);
    if (auto* resp = std::get_if<http_response>(&out)) {
      send(req, *resp);
    } else {
      waits->add(req, std::move(std::get<wait_request>(out)));
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
                                      .max_url_size(16 * 1024)
                                      .max_field_name_size(1024)
                                      .max_field_value_size(16 * 1024)
                                      .max_field_count(100)
                                      .max_body_size(2 * (1 << 20)))
        .max_parallel_connections(max_connections)
        .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& acceptor) {
          const auto ep = acceptor.local_endpoint();
          bound = net::format_address(ep.address().to_string(), ep.port());
        });
    server = std::make_unique<server_type>(restinio::external_io_context(net::context(net)),
                                           std::move(settings));
    try {
      server->open_sync();
    } catch (const std::exception& e) {
      server.reset();
      throw net::bind_error("cannot listen on " + listen + ": " + e.what());
    }
    std::weak_ptr<waiters> weak = waits;
    store->add_listener([weak] {
      if (auto w = weak.lock()) w->notify();
    });
    return bound;
  }

  void stop() {
    waits->stop();
    if (server) server->close_async([] {}, [](std::exception_ptr) {});
  }

  net::server& net;
  std::shared_ptr<store::message_store> store;
  std::shared_ptr<api> handler;
  std::string listen;
  std::shared_ptr<waiters> waits;
  std::unique_ptr<server_type> server;
};

http_server::http_server(net::server& net, std::shared_ptr<store::message_store> store,
                         std::shared_ptr<api> handler, std::string listen)
    : impl_(std::make_unique<impl>(net, std::move(store), std::move(handler), std::move(listen))) {}

http_server::~http_server() = default;

std::string http_server::start() {
  return impl_->start();
}

void http_server::stop() {
  impl_->stop();
}

}  // namespace smtpmock::http
