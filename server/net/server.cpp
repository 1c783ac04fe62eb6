// The server: one io_context per I/O thread, listeners, the live-session registry and
// graceful shutdown. Each session lives on one io_context, run by one thread, from accept to
// close: its I/O never crosses threads, takes no strand lock and wakes no other thread (with
// one shared io_context and strands, two threads cost twice the CPU per message of one).
// Accepted connections are dealt to the io_contexts in turn. Context 0 also carries the
// acceptors and the control strand (signals, shutdown).
// Shutdown (SIGINT/SIGTERM or shutdown()) runs on the control strand: close the acceptors,
// post request_stop() to every live session's io_context, and start a watchdog thread that
// stops the io_contexts if sessions linger past the grace period (a client that never reads).
// The registry mutex is taken only when a session starts and ends, never on its I/O path.
#include "net/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "net/address.hpp"
#include "net/context.hpp"
#include "net/log_text.hpp"
#include "net/session.hpp"

namespace smtpmock::net {
namespace {

using asio::ip::tcp;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
using strand_type = asio::strand<asio::io_context::executor_type>;

/// After the last session ended at shutdown: time for other modules' in-flight writes.
constexpr std::chrono::milliseconds after_sessions_pause{100};

unsigned resolve_threads(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

/// One listening socket. Its acceptor is touched only on its strand.
struct listener {
  listener(asio::io_context& ioc, const listener_options& options)
      : strand(asio::make_strand(ioc)),
        acceptor(strand),
        configured(options.address),
        implicit_tls(options.implicit_tls),
        starttls(options.starttls),
        name(options.name),
        tls(options.tls),
        metrics(options.metrics),
        engine(options.engine) {}

  strand_type strand;
  tcp::acceptor acceptor;
  std::string configured;  ///< as given in the options
  std::string bound;       ///< the real address after bind ("127.0.0.1:40123")
  bool implicit_tls = false;
  bool starttls = true;
  std::string name;                         ///< as given, else the bound port (set at bind)
  std::shared_ptr<tls_contexts> tls;        ///< its own certificates; null: the server's
  std::shared_ptr<store::metrics> metrics;  ///< its own counters; null: the server's
  std::atomic<std::shared_ptr<scenario::engine>> engine;
};

struct server::impl {
  impl(server_options o, std::shared_ptr<store::message_store> s)
      : options(std::move(o)),
        store(std::move(s)),
        threads(resolve_threads(options.threads)),
        workers(make_workers(threads)),
        ioc(*workers.front()),
        control(asio::make_strand(ioc)),
        signals(control),
        hangups(control) {
    // Contexts 1.. have no acceptor: they must not run out of work between sessions.
    for (std::size_t i = 1; i < workers.size(); ++i)
      guards.emplace_back(asio::make_work_guard(*workers[i]));
  }

  static std::vector<std::unique_ptr<asio::io_context>> make_workers(unsigned n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (unsigned i = 0; i < n; ++i)
      out.push_back(std::make_unique<asio::io_context>(1));  // one thread runs each
    return out;
  }

  /// Lets contexts 1.. end once their sessions have (shutdown is done with them).
  void release_workers() {
    std::lock_guard lock(guards_mutex);
    for (auto& g : guards)
      g.reset();
  }

  /// Stops every io_context (the watchdog's last resort).
  void stop_all() {
    for (auto& w : workers)
      w->stop();
  }

  ~impl() {
    {
      std::lock_guard lock(watchdog_mutex);
      watchdog_done = true;
      run_finished = true;
    }
    watchdog_cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  void start() {
    for (const auto& lo : options.listeners) {
      if (lo.implicit_tls && !options.tls) {
        throw bind_error("cannot listen on " + lo.address + " with implicit TLS: no certificate");
      }
      auto& l = *listeners.emplace_back(std::make_unique<listener>(ioc, lo));
      bind(l);
    }
    signals.add(SIGINT);
    signals.add(SIGTERM);
    wait_for_signal();
    hangups.add(SIGHUP);
    wait_for_hangup();
    for (auto& l : listeners) {
      asio::co_spawn(l->strand, accept_loop(*l), [bound = l->bound](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("listener {} failed: {}", bound, quote(ex.what()));
        }
      });
    }
  }

  void bind(listener& l) {
    auto parsed = parse_listen_address(l.configured);
    if (!parsed) throw bind_error(listen_address_problem(l.configured));
    asio::error_code ec;
    auto address = asio::ip::make_address(parsed->host, ec);
    if (ec) throw bind_error("cannot listen on " + l.configured + ": " + ec.message());
    tcp::endpoint endpoint(address, parsed->port);
    auto fail = [&](const char* what) {
      throw bind_error("cannot listen on " + l.configured + ": " + what + ": " + ec.message());
    };
    if (l.acceptor.open(endpoint.protocol(), ec)) fail("socket");
    if (l.acceptor.set_option(tcp::acceptor::reuse_address(true), ec)) fail("SO_REUSEADDR");
    if (endpoint.protocol() == tcp::v6()) {
      // "[::]:PORT" takes v4 too where the system allows it (dual stack); "[::1]" stays v6.
      l.acceptor.set_option(asio::ip::v6_only(false), ec);
      ec.clear();
    }
    if (l.acceptor.bind(endpoint, ec)) fail("bind");
    if (l.acceptor.listen(asio::socket_base::max_listen_connections, ec)) fail("listen");
    auto local = l.acceptor.local_endpoint(ec);
    if (ec) fail("getsockname");
    l.bound = format_address(local.address().to_string(), local.port());
    if (l.name.empty()) l.name = std::to_string(local.port());
  }

  asio::awaitable<void> accept_loop(listener& l) {
    for (;;) {
      // The session's io_context, in turn; the socket belongs to it from the start.
      asio::any_io_executor home = workers[next_worker++ % workers.size()]->get_executor();
      auto [ec, socket] = co_await l.acceptor.async_accept(home, use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !l.acceptor.is_open() || stopping) co_return;
        // Out of descriptors or a transient network error: back off instead of spinning.
        spdlog::warn("accept on {} failed: {}", l.bound, quote(ec.message()));
        asio::steady_timer pause(l.strand, std::chrono::milliseconds(100));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      start_session(l, std::move(socket));
    }
  }

  void start_session(listener& l, tcp::socket socket) {
    // Replies are written whole, once per read (RFC 2920 flush points): Nagle would only hold
    // the next one back waiting for an ACK the client delays.
    asio::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    auto ex = socket.get_executor();
    std::unique_ptr<session_stream> stream;
    try {
      stream = tcp_session_stream(std::move(socket));
    } catch (const std::exception& e) {
      spdlog::error("session setup failed: {}", quote(e.what()));
      return;  // the socket was closed with the half-made stream
    }
    std::size_t live = connections.fetch_add(1) + 1;
    auto ctl = std::make_shared<session_control>(ex);
    {
      std::lock_guard lock(registry_mutex);
      registry.emplace(ctl.get(), ctl);
    }
    // Checked after registering, so a shutdown either sees this session or this session
    // sees the shutdown (both go through registry_mutex).
    if (stopping) ctl->stop_requested = true;
    session_params params{.engine = l.engine.load(),
                          .store = store,
                          .metrics = l.metrics ? l.metrics : options.metrics,
                          .control = ctl,
                          .listener = l.bound,
                          .listener_name = l.name,
                          .over_limit = live > options.max_connections,
                          .tls = l.tls ? l.tls : options.tls,
                          .starttls = l.starttls,
                          .implicit_tls = l.implicit_tls,
                          .live_connections = &connections,
                          .max_connections = options.max_connections,
                          .reconnects = &reconnects};
    asio::co_spawn(ex, run_session(std::move(stream), std::move(params)),
                   [this, ctl](std::exception_ptr) { session_ended(ctl.get()); });
  }

  void session_ended(session_control* ctl) {
    connections.fetch_sub(1);
    bool last = false;
    {
      std::lock_guard lock(registry_mutex);
      registry.erase(ctl);
      last = registry.empty();
    }
    if (last && stopping) {
      release_workers();
      std::lock_guard lock(watchdog_mutex);
      watchdog_done = true;
      watchdog_cv.notify_all();
    }
  }

  void wait_for_signal() {
    signals.async_wait([this](const asio::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("received signal {}, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
      begin_shutdown();
    });
  }

  void wait_for_hangup() {
    hangups.async_wait([this](const asio::error_code& ec, int) {
      if (ec || stopping) return;
      spdlog::info("received signal SIGHUP, reloading scenarios");
      if (options.on_reload) {
        try {
          options.on_reload();
        } catch (const std::exception& e) {
          spdlog::error("reload failed: {}", quote(e.what()));
        }
      }
      wait_for_hangup();
    });
  }

  /// Runs on the control strand.
  void begin_shutdown() {
    if (stopping.exchange(true)) return;
    asio::error_code ignored;
    signals.cancel(ignored);
    hangups.cancel(ignored);
    for (auto& l : listeners) {
      asio::post(l->strand, [&acceptor = l->acceptor] {
        asio::error_code ec;
        acceptor.close(ec);
      });
    }
    std::vector<std::shared_ptr<session_control>> live;
    {
      std::lock_guard lock(registry_mutex);
      for (auto& [key, weak] : registry) {
        if (auto ctl = weak.lock()) live.push_back(std::move(ctl));
      }
    }
    spdlog::info("smtpmock stopping sessions={}", live.size());
    for (auto& ctl : live) {
      asio::post(ctl->wake.get_executor(), [ctl] { ctl->request_stop(); });
    }
    if (options.on_shutdown) {
      try {
        options.on_shutdown();
      } catch (const std::exception& e) {
        spdlog::error("shutdown hook failed: {}", quote(e.what()));
      }
    }
    if (live.empty()) release_workers();
    // Without other modules and sessions nothing can linger: the io_contexts run out of work.
    if (live.empty() && !options.on_shutdown) return;
    // A client that never reads blocks its session's write; stop everything after the grace.
    // Other modules (HTTP keep-alive connections) may hold work too: once the sessions are
    // done, in-flight writes get a moment and then the io_context is stopped.
    watchdog = std::thread([this, lingering = !live.empty()] {
      std::unique_lock lock(watchdog_mutex);
      if (lingering &&
          !watchdog_cv.wait_for(lock, options.shutdown_grace, [this] { return watchdog_done; })) {
        spdlog::warn("smtpmock forcing stop: {} session(s) still open", connections.load());
        stop_all();
        return;
      }
      if (!watchdog_cv.wait_for(lock, after_sessions_pause, [this] { return run_finished; })) {
        stop_all();
      }
    });
  }

  void run() {
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (unsigned i = 1; i < threads; ++i) {
      pool.emplace_back([this, i] { run_thread(*workers[i]); });
    }
    run_thread(ioc);
    for (auto& t : pool)
      t.join();
    {
      std::lock_guard lock(watchdog_mutex);
      watchdog_done = true;
      run_finished = true;
    }
    watchdog_cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  void run_thread(asio::io_context& context) {
    for (;;) {
      try {
        context.run();
        return;
      } catch (const std::exception& e) {
        // Sessions catch their own failures; this is a last resort that keeps the thread.
        spdlog::error("io thread: unexpected exception: {}", quote(e.what()));
      }
    }
  }

  server_options options;
  std::shared_ptr<store::message_store> store;
  unsigned threads;
  std::atomic<std::size_t> connections{0};
  reconnect_watch reconnects;  ///< clients that come back at once after a 421
  std::atomic<bool> stopping{false};
  std::mutex registry_mutex;
  std::unordered_map<session_control*, std::weak_ptr<session_control>> registry;
  std::mutex watchdog_mutex;
  std::condition_variable watchdog_cv;
  bool watchdog_done = false;  ///< every session has ended (or run() returned)
  bool run_finished = false;   ///< run() returned
  std::thread watchdog;
  // The io_contexts are destroyed after the I/O objects below (declared after them) and
  // before the registry and counters above, which pending session frames may still reference.
  std::vector<std::unique_ptr<asio::io_context>> workers;
  asio::io_context& ioc;  ///< workers[0]: acceptors, the control strand, its share of sessions
  std::mutex guards_mutex;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::atomic<std::size_t> next_worker{0};
  strand_type control;
  asio::signal_set signals;
  asio::signal_set hangups;
  std::vector<std::unique_ptr<listener>> listeners;
};

server::server(server_options options, std::shared_ptr<store::message_store> store)
    : impl_(std::make_unique<impl>(std::move(options), std::move(store))) {}

server::~server() = default;

void server::start() {
  impl_->start();
}

std::vector<std::string> server::listener_names() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners)
    out.push_back(l->name);
  return out;
}

std::vector<std::string> server::bound_addresses() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners)
    out.push_back(l->bound);
  return out;
}

void server::run() {
  impl_->run();
}

void server::shutdown() {
  asio::post(impl_->control, [i = impl_.get()] { i->begin_shutdown(); });
}

void server::set_scenario(std::size_t index, std::shared_ptr<scenario::engine> engine) {
  impl_->listeners.at(index)->engine.store(std::move(engine));
}

std::shared_ptr<scenario::engine> server::scenario(std::size_t index) const {
  return impl_->listeners.at(index)->engine.load();
}

std::size_t server::listener_count() const {
  return impl_->options.listeners.size();
}

asio::io_context& context(server& s) {
  return s.impl_->ioc;
}

std::size_t server::live_sessions() const {
  return impl_->connections.load();
}

unsigned server::threads() const {
  return impl_->threads;
}

}  // namespace smtpmock::net
