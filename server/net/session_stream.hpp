// The byte stream under one server session, behind an interface so the session runs the same
// over a TCP socket and over tests/net's in-memory stream. basic_session_stream<Next> is the
// one implementation, on flex_stream<Next> (plain, then TLS); Next mirrors tcp::socket's API.
// Internal to net/ and tests/net/ (includes asio and OpenSSL).
// Memory: an idle plain session owns a 512-byte read buffer; a read that fills it goes on
// without blocking into the thread's 64 KiB buffer, and the caller consumes the bytes before
// it next suspends. A TLS session owns a 16 KiB buffer (the TLS engine reads into it).
#pragma once

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "net/flex_stream.hpp"

namespace smtpmock::net {

/// The handle the server keeps to stop a live session. Touched only on the session's strand.
struct session_control {
  explicit session_control(const asio::any_io_executor& strand) : wake(strand) {}

  /// Raced against every read: its expiry is the idle timeout, request_stop() makes it fire.
  asio::steady_timer wake;
  /// Set by request_stop(); the session answers 421 4.3.2 at its next read.
  bool stop_requested = false;

  /// Asks the session to end with "421 4.3.2 Service shutting down" (run on the strand).
  void request_stop() {
    stop_requested = true;
    wake.expires_at(asio::steady_timer::time_point::min());  // also fires a wait not yet begun
  }
};

class session_stream {
 public:
  using io_result = std::tuple<asio::error_code, std::size_t>;

  /// What one read raced against the session's timer gave.
  struct read_result {
    bool timer_fired = false;  ///< the deadline passed or shutdown fired the timer
    asio::error_code ec;       ///< eof, reset, ...: reported together with `data`
    std::string_view data;     ///< valid until the session next suspends
  };

  virtual ~session_stream() = default;

  virtual asio::any_io_executor get_executor() = 0;
  /// The client's address; nullopt when the transport cannot tell.
  virtual std::optional<asio::ip::tcp::endpoint> remote() = 0;
  /// One read, raced against `ctl.wake` (armed by the caller with the read's deadline).
  virtual asio::awaitable<read_result> read(session_control& ctl) = 0;
  /// Before TLS: one non-blocking write of what fits now. Inside TLS: nothing (0).
  virtual std::size_t try_write(std::string_view data) = 0;
  /// Writes all of `data`, through TLS once it is up.
  virtual asio::awaitable<io_result> write_all(std::string_view data) = 0;
  /// The server side of a TLS handshake with `ctx` (which must outlive the stream).
  virtual asio::awaitable<asio::error_code> handshake(asio::ssl::context& ctx) = 0;
  /// Whether a handshake succeeded.
  virtual bool tls_up() const = 0;
  /// The TLS session (after a handshake), for its version and cipher.
  virtual SSL* native_handle() = 0;
  /// Sends close_notify and waits for the client's.
  virtual asio::awaitable<asio::error_code> shutdown_tls() = 0;
  /// Octets the client sent that are not read yet (the early-talker probe).
  virtual std::size_t available() = 0;
  /// Closes: with `reset`, RST (linger 0); else FIN after draining unread input, since
  /// closing with unread input sends RST, which can destroy our last reply in flight.
  virtual void close(bool reset) = 0;
};

/// One read takes at most this much (the thread's buffer); the core keeps a partial line.
inline constexpr std::size_t thread_read_buffer_size = 64 * 1024;

/// The read buffer of the calling thread, shared by its sessions (see the file comment).
inline std::vector<char>& thread_read_buffer() {
  thread_local std::vector<char> buffer(thread_read_buffer_size);
  return buffer;
}

template <class Next>
class basic_session_stream final : public session_stream {
 public:
  template <class... Args>
  explicit basic_session_stream(Args&&... args) : s_(std::forward<Args>(args)...) {
    asio::error_code ec;
    // The read that follows a full first read must not block the thread (see read()).
    s_.next().non_blocking(true, ec);
    watch_ = std::make_shared<read_watch>();
    watch_->next = &s_.next();
  }

  asio::any_io_executor get_executor() override { return s_.next().get_executor(); }

  std::optional<asio::ip::tcp::endpoint> remote() override {
    asio::error_code ec;
    auto endpoint = s_.next().remote_endpoint(ec);
    if (ec) return std::nullopt;
    return endpoint;
  }

  asio::awaitable<read_result> read(session_control& ctl) override {
    using namespace asio::experimental::awaitable_operators;
    read_result out;
    if (s_.tls_up()) {
      if (tls_buffer_.empty()) tls_buffer_.resize(tls_read_buffer_size);
      auto result =
          co_await (s_.read_some(asio::buffer(tls_buffer_)) || ctl.wake.async_wait(use_tuple()));
      if (result.index() == 1) {
        out.timer_fired = true;
      } else {
        auto [ec, n] = std::get<0>(result);
        out.ec = ec;
        out.data = std::string_view(tls_buffer_.data(), n);
      }
      co_return out;
    }
    // The timer is a watchdog, not a second operation to race: when it fires (or shutdown
    // fires it) during this read, its handler cancels the read. An idle session so holds two
    // small operations, not a parallel group of two coroutines.
    const std::shared_ptr<read_watch> watch = watch_;
    const std::uint64_t generation = ++watch->generation;
    watch->fired = false;
    const bool* stop = &ctl.stop_requested;
    ctl.wake.async_wait([watch, generation, stop](const asio::error_code& ec) {
      if (watch->generation != generation) return;  // that read is over
      // A re-armed timer cancels its wait; only shutdown's cancel ends the read.
      if (ec == asio::error::operation_aborted && !*stop) return;
      watch->fired = true;
      asio::error_code ignored;
      watch->next->cancel(ignored);
    });
    // A small read first (asio reads speculatively and tracks readiness, so no wake-up is
    // lost); when it fills, the rest of what the kernel holds follows without blocking into
    // the thread's buffer.
    auto [ec, n] = co_await s_.next().async_read_some(asio::buffer(first_read_), use_tuple());
    ++watch->generation;  // the handler, whenever it runs now, leaves the stream alone
    if (n == 0 && watch->fired) {
      out.timer_fired = true;
      co_return out;
    }
    out.ec = ec;
    if (ec || n < first_read_.size()) {
      out.data = std::string_view(first_read_.data(), n);
      co_return out;
    }
    std::vector<char>& buffer = thread_read_buffer();
    std::copy_n(first_read_.data(), n, buffer.data());
    asio::error_code more_ec;
    const std::size_t more =
        s_.next().read_some(asio::buffer(buffer.data() + n, buffer.size() - n), more_ec);
    // Nothing more yet is not an error; an EOF or reset now is reported with these bytes.
    if (more_ec != asio::error::would_block && more_ec != asio::error::try_again) out.ec = more_ec;
    out.data = std::string_view(buffer.data(), n + more);
    co_return out;
  }

  std::size_t try_write(std::string_view data) override {
    if (s_.tls_up()) return 0;
    asio::error_code ec;
    return s_.next().write_some(asio::buffer(data.data(), data.size()), ec);
  }

  asio::awaitable<io_result> write_all(std::string_view data) override {
    co_return co_await s_.write_all(data);
  }

  asio::awaitable<asio::error_code> handshake(asio::ssl::context& ctx) override {
    s_.make_tls(ctx);
    co_return co_await s_.handshake(asio::ssl::stream_base::server);
  }

  bool tls_up() const override { return s_.tls_up(); }
  SSL* native_handle() override { return s_.tls() ? s_.tls()->native_handle() : nullptr; }
  asio::awaitable<asio::error_code> shutdown_tls() override {
    co_return co_await s_.shutdown_tls();
  }

  std::size_t available() override {
    asio::error_code ec;
    const std::size_t n = s_.next().available(ec);
    return ec ? 0 : n;
  }

  void close(bool reset) override {
    Next& next = s_.next();
    asio::error_code ec;
    if (reset) {
      next.set_option(asio::socket_base::linger(true, 0), ec);
      next.close(ec);
      return;
    }
    next.shutdown(asio::socket_base::shutdown_send, ec);
    std::size_t drained = 0;
    while (drained < max_drain_at_close) {
      const std::size_t waiting = next.available(ec);
      if (ec || waiting == 0) break;
      std::vector<char>& buffer = thread_read_buffer();
      const std::size_t n =
          next.read_some(asio::buffer(buffer.data(), std::min(waiting, buffer.size())), ec);
      if (ec || n == 0) break;
      drained += n;
    }
    next.close(ec);
  }

 private:
  /// What a plain session reads into while it waits: most commands fit.
  static constexpr std::size_t first_read_size = 512;
  /// A TLS session's own read buffer: one TLS record's plaintext at most.
  static constexpr std::size_t tls_read_buffer_size = 16 * 1024;
  /// Bytes discarded at close so that close() does not reset the connection.
  static constexpr std::size_t max_drain_at_close = 256 * 1024;

  static constexpr auto use_tuple() { return asio::experimental::as_tuple(asio::use_awaitable); }

  /// Between a plain read and its timer's handler: which read is in progress, and whether the
  /// timer ended it. Shared, as the handler may run after the session is gone (it then finds
  /// a newer generation and touches nothing).
  struct read_watch {
    std::uint64_t generation = 0;
    bool fired = false;
    Next* next = nullptr;
  };

  flex_stream<Next> s_;
  std::shared_ptr<read_watch> watch_;
  std::vector<char> tls_buffer_;  ///< a TLS session's read buffer (empty until TLS reads)
  std::array<char, first_read_size> first_read_{};
};

}  // namespace smtpmock::net
