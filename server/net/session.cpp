// The session coroutine; see session.hpp.
// Loop: next_event() -> decide() -> respond(), flushing replies before each read. Expected I/O
// outcomes (eof, timeout, cancellation) arrive as values through as_tuple; anything else is
// an exception caught once at the end of run(), logged, and ends only this session.
#include "net/session.hpp"

#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "net/ids.hpp"
#include "net/log_text.hpp"
#include "smtp/command.hpp"
#include "smtp/server_connection.hpp"

namespace smtpmock::net {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// One read takes at most this much; the core buffers at most one read plus a partial line.
constexpr std::size_t read_buffer_size = 64 * 1024;
/// Bytes discarded at close so that close() does not reset the connection (see close_socket).
constexpr std::size_t max_drain_at_close = 256 * 1024;

/// The answer to a message whose 2xx could not be honoured because storing it failed.
/// NOTE(compat): not in smtp::stock (reply.hpp is frozen for now); it belongs there.
smtp::reply storage_failed() {
  return smtp::reply{451, "4.3.0", {"Failed to store message"}};
}

/// The client's IP as text; IPv4-mapped IPv6 addresses (dual-stack listeners) shown as IPv4.
std::string ip_text(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}

/// "code enhanced text" of a reply's first line, for logs.
std::string reply_summary(const smtp::reply& r) {
  std::string out = r.enhanced;
  if (!out.empty()) out += ' ';
  out += r.text();
  return quote(out);
}

class session {
 public:
  session(tcp::socket socket, session_params params)
      : socket_(std::move(socket)),
        p_(std::move(params)),
        id_(new_session_id()),
        write_timer_(socket_.get_executor()),
        buffer_(read_buffer_size),
        started_(std::chrono::steady_clock::now()) {
    asio::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    if (!ec) {
      client_ip_ = ip_text(remote.address());
      client_address_ = client_ip_.find(':') == std::string::npos
                            ? client_ip_ + ":" + std::to_string(remote.port())
                            : "[" + client_ip_ + "]:" + std::to_string(remote.port());
    } else {
      client_ip_ = "unknown";
      client_address_ = "unknown";
    }
    smtp::connection_options opts;
    opts.session_id = id_;
    opts.client_address = client_address_;
    opts.client_ip = client_ip_;
    opts.new_message_id = &new_message_id;
    conn_.emplace(p_.scenario, std::move(opts));
  }

  asio::awaitable<void> run() {
    try {
      p_.store->open_session(id_, client_address_, p_.scenario->name);
      note("connected from " + client_address_ + " to " + p_.listener);
      for (bool open = true; open;) {
        smtp::event ev = conn_->next_event();
        switch (ev.kind) {
          case smtp::event_kind::connect:
          case smtp::event_kind::command:
          case smtp::event_kind::auth_response:
          case smtp::event_kind::message:
          case smtp::event_kind::interrupted:
            answer(ev);
            break;
          case smtp::event_kind::need_data:
            co_await flush();
            co_await read_input();
            break;
          case smtp::event_kind::closed:
            co_await flush();
            open = false;
            break;
        }
      }
    } catch (const std::exception& e) {
      spdlog::error("{} event=error what={}", id_, quote(e.what()));
      note_noexcept(std::string("error: ") + e.what());
    }
    close_socket();
    note_noexcept("closed");
    try {
      p_.store->close_session(id_);
    } catch (const std::exception& e) {
      spdlog::error("{} event=error what={}", id_, quote(e.what()));
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started_)
                  .count();
    spdlog::info("{} event=close client={} messages={} duration_ms={}", id_, client_address_,
                 messages_, ms);
  }

 private:
  /// The reply to send for a decision event. Server policy first (shutdown, connection
  /// limit), then — once the rule engine lands — the scenario's rules; otherwise the
  /// core's proposal.
  smtp::reply decide(const smtp::event& ev) const {
    if (ev.kind == smtp::event_kind::connect) {
      if (p_.control->stop_requested) return smtp::make(smtp::stock::shutting_down);
      if (p_.over_limit) return smtp::make(smtp::stock::too_many_connections);
    }
    return ev.proposed;
  }

  /// Handles one decision event: decide, store an accepted message, respond, record, log.
  void answer(const smtp::event& ev) {
    smtp::reply r = decide(ev);
    if (ev.kind == smtp::event_kind::message && ev.message != nullptr) {
      note("<message " + std::to_string(ev.message->data.size()) + " octets>");
      // §4: a message that gets its 2xx is stored before the reply is written.
      if (r.klass() == 2) {
        try {
          p_.store->add_message(store::stored_message{ev.message->id, id_, store::clock::now(),
                                                      ev.message->env, ev.message->data});
          ++messages_;
        } catch (const std::exception& e) {
          spdlog::error("{} event=store_failed id={} what={}", id_, ev.message->id,
                        quote(e.what()));
          r = storage_failed();
        }
      }
    } else if (!ev.line.empty()) {
      record(store::direction::in, ev.line);
    }
    log_event(ev, r);
    conn_->respond(r);
    take_output();
  }

  void log_event(const smtp::event& ev, const smtp::reply& r) const {
    switch (ev.kind) {
      case smtp::event_kind::connect:
        spdlog::info("{} event=connect client={} listener={} scenario={} code={} reply={}", id_,
                     client_address_, p_.listener, quote(p_.scenario->name), r.code,
                     reply_summary(r));
        break;
      case smtp::event_kind::command:
        spdlog::debug("{} cmd={} line={} code={} reply={}", id_,
                      smtp::upper(smtp::verb_name(ev.command)), quote(ev.line), r.code,
                      reply_summary(r));
        break;
      case smtp::event_kind::auth_response:
        spdlog::debug("{} event=auth_response line={} code={} reply={}", id_, quote(ev.line),
                      r.code, reply_summary(r));
        break;
      case smtp::event_kind::message:
        spdlog::info("{} event=message id={} size={} from={} rcpts={} code={} reply={}", id_,
                     ev.message ? ev.message->id : std::string(),
                     ev.message ? ev.message->data.size() : 0, quote(ev.sender),
                     ev.message ? ev.message->env.recipients.size() : 0, r.code, reply_summary(r));
        break;
      case smtp::event_kind::interrupted:
        spdlog::info("{} event=interrupted code={} reply={}", id_, r.code, reply_summary(r));
        break;
      case smtp::event_kind::need_data:
      case smtp::event_kind::closed:
        break;
    }
  }

  /// Moves the core's serialised replies into the write buffer and the transcript.
  void take_output() {
    if (!conn_->has_output()) return;
    std::string out = conn_->take_output();
    std::string_view rest(out);
    while (!rest.empty()) {
      auto end = rest.find("\r\n");
      std::string_view line = rest.substr(0, end);
      record(store::direction::out, std::string(line));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 2);
    }
    pending_ += out;
  }

  /// Writes every pending reply; a write that fails or stalls past the idle timeout ends the
  /// session (the peer is gone or not reading).
  asio::awaitable<void> flush() {
    take_output();
    if (pending_.empty()) co_return;
    if (broken_) {
      pending_.clear();
      co_return;
    }
    arm(write_timer_);
    auto result = co_await (asio::async_write(socket_, asio::buffer(pending_), use_tuple) ||
                            write_timer_.async_wait(use_tuple));
    pending_.clear();
    if (result.index() == 0) {
      auto [ec, n] = std::get<0>(result);
      if (ec) {
        spdlog::debug("{} event=write_failed error={}", id_, quote(ec.message()));
        broken_ = true;
      }
    } else {
      spdlog::info("{} event=write_timeout", id_);
      broken_ = true;
    }
    if (broken_ && !conn_->closing()) conn_->receive_eof();
  }

  /// One read, raced against the idle timer (which request_stop() also fires).
  asio::awaitable<void> read_input() {
    session_control& ctl = *p_.control;
    if (ctl.stop_requested) {
      interrupt_for_shutdown();
      co_return;
    }
    arm(ctl.wake);
    auto result = co_await (socket_.async_read_some(asio::buffer(buffer_), use_tuple) ||
                            ctl.wake.async_wait(use_tuple));
    if (result.index() == 0) {
      auto [ec, n] = std::get<0>(result);
      if (n > 0) conn_->receive_data(std::string_view(buffer_.data(), n));
      if (ec) {
        spdlog::debug("{} event=eof reason={}", id_, quote(ec.message()));
        conn_->receive_eof();
      }
    } else if (ctl.stop_requested) {
      interrupt_for_shutdown();
    } else {
      auto ms = p_.scenario->limits.idle_timeout.count();
      spdlog::info("{} event=idle_timeout idle_ms={}", id_, ms);
      note("idle timeout after " + std::to_string(ms) + " ms");
      conn_->interrupt(smtp::make(smtp::stock::idle_timeout));
    }
  }

  void interrupt_for_shutdown() {
    note("server shutting down");
    conn_->interrupt(smtp::make(smtp::stock::shutting_down));
  }

  /// Sets a timer to the scenario's idle timeout (none when the timeout is not positive).
  void arm(asio::steady_timer& t) const {
    auto idle = p_.scenario->limits.idle_timeout;
    if (idle.count() > 0) {
      t.expires_after(idle);
    } else {
      t.expires_at(asio::steady_timer::time_point::max());
    }
  }

  /// Half-closes, discards what the client sent but we never read, then closes. Closing a
  /// socket with unread input makes the kernel send RST, which can destroy our last reply
  /// (the 221 or 421) in the client's receive buffer before it reads it.
  void close_socket() {
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    std::size_t drained = 0;
    while (drained < max_drain_at_close) {
      std::size_t available = socket_.available(ec);
      if (ec || available == 0) break;
      std::size_t n =
          socket_.read_some(asio::buffer(buffer_.data(), std::min(available, buffer_.size())), ec);
      if (ec || n == 0) break;
      drained += n;
    }
    socket_.close(ec);
  }

  void record(store::direction dir, std::string text) {
    p_.store->append(id_, store::transcript_line{store::clock::now(), dir, std::move(text), false,
                                                 std::string()});
  }
  void note(std::string text) { record(store::direction::info, std::move(text)); }
  void note_noexcept(std::string text) noexcept {
    try {
      note(std::move(text));
    } catch (...) {
    }
  }

  tcp::socket socket_;
  session_params p_;
  std::string id_;
  std::string client_ip_;
  std::string client_address_;
  std::optional<smtp::server_connection> conn_;
  asio::steady_timer write_timer_;
  std::vector<char> buffer_;
  std::string pending_;  ///< serialised replies not yet written
  bool broken_ = false;  ///< a write failed: nothing more can reach the client
  std::size_t messages_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

asio::awaitable<void> run_session(tcp::socket socket, session_params params) {
  std::optional<session> s;
  try {
    s.emplace(std::move(socket), std::move(params));
  } catch (const std::exception& e) {
    spdlog::error("session setup failed: {}", quote(e.what()));
    co_return;
  }
  co_await s->run();
}

}  // namespace smtpmock::net
