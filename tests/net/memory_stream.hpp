// An in-memory, bidirectional byte stream for driving a server session without sockets: two
// ends made together, each an asio AsyncReadStream/AsyncWriteStream (so an ssl::stream runs
// over it for TLS) with the subset of tcp::socket's API a session uses (available, cancel,
// shutdown, linger, close, remote_endpoint). Every write an end makes is kept, so tests can
// see how replies were split into writes. Single-threaded: one io_context runs both ends.
#pragma once

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace smtpmock::test {

class memory_stream {
  /// What the two ends share.
  struct state {
    explicit state(const asio::any_io_executor& ex)
        : ex(ex), readable{asio::steady_timer(ex), asio::steady_timer(ex)} {
      for (auto& t : readable)
        t.expires_at(asio::steady_timer::time_point::max());
    }
    asio::any_io_executor ex;
    std::string inbound[2];                 ///< bytes waiting for end i to read
    bool write_closed[2] = {false, false};  ///< end i sent FIN (shutdown or close)
    bool closed[2] = {false, false};        ///< end i closed
    bool reset = false;                     ///< an end closed with linger 0 (RST)
    unsigned cancels[2] = {0, 0};           ///< cancel() calls by end i
    std::vector<std::string> writes[2];     ///< every write end i made, in order
    asio::steady_timer readable[2];         ///< cancelled to wake a read waiting on end i
  };

 public:
  using executor_type = asio::any_io_executor;
  using lowest_layer_type = memory_stream;

  /// Two connected ends: [0] for the server, [1] for the client.
  static std::pair<memory_stream, memory_stream> pair(const asio::any_io_executor& ex) {
    auto s = std::make_shared<state>(ex);
    return {memory_stream(s, 0), memory_stream(s, 1)};
  }

  executor_type get_executor() { return s_->ex; }
  lowest_layer_type& lowest_layer() { return *this; }
  const lowest_layer_type& lowest_layer() const { return *this; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_compose<Token, void(asio::error_code, std::size_t)>(
        read_op<MutableBuffers>{s_, side_, buffers, s_->cancels[side_]}, token, s_->ex);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_compose<Token, void(asio::error_code, std::size_t)>(
        write_op<ConstBuffers>{s_, side_, buffers}, token, s_->ex);
  }

  /// A non-blocking read: would_block when nothing is there.
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, asio::error_code& ec) {
    return take(*s_, side_, buffers, ec, true);
  }
  /// A non-blocking write: all of it, always (the pipe has no window).
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, asio::error_code& ec) {
    return put(*s_, side_, buffers, ec);
  }

  std::size_t available(asio::error_code& ec) const {
    ec = s_->closed[side_] ? asio::error::bad_descriptor : asio::error_code{};
    return s_->inbound[side_].size();
  }
  void non_blocking(bool, asio::error_code& ec) { ec = {}; }
  /// Ends this end's pending read with operation_aborted.
  void cancel(asio::error_code& ec) {
    ec = {};
    ++s_->cancels[side_];
    s_->readable[side_].cancel();
  }
  void shutdown(asio::socket_base::shutdown_type what, asio::error_code& ec) {
    ec = {};
    if (what != asio::socket_base::shutdown_receive) close_write();
  }
  void set_option(const asio::socket_base::linger& l, asio::error_code& ec) {
    ec = {};
    linger_zero_ = l.enabled() && l.timeout() == 0;
  }
  void close(asio::error_code& ec) {
    ec = {};
    if (s_->closed[side_]) return;
    s_->closed[side_] = true;
    if (linger_zero_) s_->reset = true;
    close_write();
    cancel(ec);
  }
  bool is_open() const { return !s_->closed[side_]; }
  asio::ip::tcp::endpoint remote_endpoint(asio::error_code& ec) const {
    ec = {};
    return {asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(side_ ? 25 : 4000)};
  }

  /// Every write this end made, in order.
  const std::vector<std::string>& writes() const { return s_->writes[side_]; }
  /// Every write the other end made, in order.
  const std::vector<std::string>& peer_writes() const { return s_->writes[1 - side_]; }
  /// Whether an end closed with RST.
  bool was_reset() const { return s_->reset; }
  /// Whether the other end has closed (not just half-closed) its side.
  bool peer_closed() const { return s_->closed[1 - side_]; }

 private:
  memory_stream(std::shared_ptr<state> s, int side) : s_(std::move(s)), side_(side) {}

  void close_write() {
    if (s_->write_closed[side_]) return;
    s_->write_closed[side_] = true;
    s_->readable[1 - side_].cancel();
  }

  template <class MutableBuffers>
  static std::size_t take(state& s, int side, const MutableBuffers& buffers, asio::error_code& ec,
                          bool non_blocking) {
    std::string& in = s.inbound[side];
    ec = {};
    if (s.closed[side]) {
      ec = asio::error::bad_descriptor;
      return 0;
    }
    if (!in.empty()) {
      const std::size_t n = asio::buffer_copy(buffers, asio::buffer(in));
      in.erase(0, n);
      return n;
    }
    if (s.reset) {
      ec = asio::error::connection_reset;
    } else if (s.write_closed[1 - side]) {
      ec = asio::error::eof;
    } else if (non_blocking) {
      ec = asio::error::would_block;
    }
    return 0;
  }

  template <class ConstBuffers>
  static std::size_t put(state& s, int side, const ConstBuffers& buffers, asio::error_code& ec) {
    ec = {};
    if (s.closed[side] || s.write_closed[side]) {
      ec = asio::error::broken_pipe;
      return 0;
    }
    if (s.reset || s.closed[1 - side]) {
      ec = asio::error::connection_reset;
      return 0;
    }
    std::string bytes(asio::buffer_size(buffers), '\0');
    asio::buffer_copy(asio::buffer(bytes), buffers);
    s.inbound[1 - side] += bytes;
    s.writes[side].push_back(std::move(bytes));
    s.readable[1 - side].cancel();
    return s.writes[side].back().size();
  }

  template <class MutableBuffers>
  struct read_op {
    std::shared_ptr<state> s;
    int side;
    MutableBuffers buffers;
    unsigned cancels_at_start;
    bool started = false;
    bool waiting = false;

    template <class Self>
    void operator()(Self& self, asio::error_code wait_ec = {}) {
      if (!started) {
        // Never complete inside the initiating call.
        started = true;
        asio::post(s->ex, std::move(self));
        return;
      }
      if (s->cancels[side] != cancels_at_start) {
        self.complete(asio::error::operation_aborted, 0);
        return;
      }
      asio::error_code ec;
      const std::size_t n = take(*s, side, buffers, ec, false);
      if (n > 0 || ec) {
        self.complete(ec, n);
        return;
      }
      // A writer or a close wakes the wait with something to take; a wake with nothing is the
      // operation's cancellation (its slot cancels the timer wait).
      if (waiting && wait_ec == asio::error::operation_aborted) {
        self.complete(asio::error::operation_aborted, 0);
        return;
      }
      waiting = true;
      s->readable[side].expires_at(asio::steady_timer::time_point::max());
      s->readable[side].async_wait(std::move(self));
    }
  };

  template <class ConstBuffers>
  struct write_op {
    std::shared_ptr<state> s;
    int side;
    ConstBuffers buffers;
    bool started = false;

    template <class Self>
    void operator()(Self& self) {
      if (!started) {
        started = true;
        asio::post(s->ex, std::move(self));
        return;
      }
      asio::error_code ec;
      const std::size_t n = put(*s, side, buffers, ec);
      self.complete(ec, n);
    }
  };

  std::shared_ptr<state> s_;
  int side_ = 0;
  bool linger_zero_ = false;
};

}  // namespace smtpmock::test
