// A byte stream that is plain until a TLS handshake succeeds and TLS over the same transport
// from then on: the one place both sides of smtpmock (the server's sessions, the client's
// driver) read and write. `Next` is a tcp::socket, or the in-memory stream of tests/net/.
// Header-only and asio-heavy: include it only from .cpp files that already pay for asio.
// Invariant: once tls_up(), no byte is read or written past the TLS layer (RFC 3207 4.2).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstddef>
#include <memory>
#include <string_view>
#include <tuple>
#include <utility>

namespace smtpmock::net {

template <class Next>
class flex_stream {
 public:
  using tls_type = asio::ssl::stream<Next&>;
  using io_result = std::tuple<asio::error_code, std::size_t>;

  template <class... Args>
  explicit flex_stream(Args&&... args) : next_(std::forward<Args>(args)...) {}
  // The TLS layer refers to next_: the stream stays where it was made.
  flex_stream(const flex_stream&) = delete;
  flex_stream& operator=(const flex_stream&) = delete;

  /// The transport under TLS (the socket): for options, close, and reads before TLS.
  Next& next() { return next_; }
  /// Whether the handshake succeeded: every read and write now goes through TLS.
  bool tls_up() const { return tls_up_; }

  /// Makes the TLS layer with `ctx` (which must outlive the stream), for the caller to set SNI
  /// or verification on before handshake().
  tls_type& make_tls(asio::ssl::context& ctx) {
    tls_ = std::make_unique<tls_type>(next_, ctx);
    return *tls_;
  }
  /// The TLS layer, null before make_tls().
  tls_type* tls() { return tls_.get(); }

  /// Runs the handshake on the layer make_tls() made; on success all I/O goes through TLS.
  asio::awaitable<asio::error_code> handshake(asio::ssl::stream_base::handshake_type side) {
    auto [ec] = co_await tls_->async_handshake(side, use_tuple());
    if (!ec) tls_up_ = true;
    co_return ec;
  }

  /// One read of whatever is there, through TLS once it is up.
  asio::awaitable<io_result> read_some(asio::mutable_buffer into) {
    if (tls_up_) co_return co_await tls_->async_read_some(into, use_tuple());
    co_return co_await next_.async_read_some(into, use_tuple());
  }

  /// Writes all of `data`, through TLS once it is up.
  asio::awaitable<io_result> write_all(std::string_view data) {
    const auto bytes = asio::buffer(data.data(), data.size());
    if (tls_up_) co_return co_await asio::async_write(*tls_, bytes, use_tuple());
    co_return co_await asio::async_write(next_, bytes, use_tuple());
  }

  /// Sends TLS close_notify and waits for the peer's (RFC 8446 6.1); nothing before TLS.
  asio::awaitable<asio::error_code> shutdown_tls() {
    if (!tls_up_) co_return asio::error_code{};
    auto [ec] = co_await tls_->async_shutdown(use_tuple());
    co_return ec;
  }

 private:
  static constexpr auto use_tuple() { return asio::experimental::as_tuple(asio::use_awaitable); }

  Next next_;
  std::unique_ptr<tls_type> tls_;
  bool tls_up_ = false;
};

}  // namespace smtpmock::net
