// The session coroutine; see session.hpp.
// Loop: next_event() -> decide() -> respond(), flushing replies before each read. Expected I/O
// outcomes (eof, timeout, cancellation) arrive as values through as_tuple; anything else is
// an exception caught once at the end of run(), logged, and ends only this session.
// TLS: the tcp::socket stays the session's; once a handshake succeeds an ssl::stream over it
// carries every read and write (read_racing/write_all are the only two I/O paths).
// Memory: an idle plain session owns only a 512-byte read buffer. A read that fills it goes on
// without blocking into its thread's buffer, and the bytes reach the core before the session
// next suspends (the core keeps at most a partial line). A TLS session owns a 16 KiB one, as
// the TLS engine reads asynchronously into it. After STARTTLS
// the core has already dropped any plaintext it had buffered (RFC 3207 6, CVE-2011-0411), and
// bytes still in the kernel go to the TLS engine as records, so none is ever run as a command.
#include "net/session.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
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
/// What a plain session reads into while it waits: most commands fit; more is read on into
/// the thread's buffer.
constexpr std::size_t first_read_size = 512;
/// A TLS session's own read buffer: one TLS record's plaintext at most.
constexpr std::size_t tls_read_buffer_size = 16 * 1024;
/// Bytes discarded at close so that close() does not reset the connection (see close_socket).
constexpr std::size_t max_drain_at_close = 256 * 1024;

/// How long `early_talker: reject` listens for a client speaking before the banner when no
/// connect rule delays it (like Postfix postscreen's greet wait, but short).
constexpr std::chrono::milliseconds early_talker_wait{1000};
/// The pause between the two writes of a `split: true` reply, so they leave as two segments.
constexpr std::chrono::milliseconds split_pause{50};
/// How long a session inside TLS waits for the client's close_notify after sending its own.
constexpr std::chrono::milliseconds tls_shutdown_wait{250};
/// `pipelining: hold_until_data` holds at most this much of replies; beyond it they leave
/// anyway (a client that sends 2 million RCPTs must not grow the session without bound).
constexpr std::size_t max_held_output = 64 * 1024;

using steady = std::chrono::steady_clock;

/// `from + d`, saturating; a non-positive `d` means no deadline. Load limits keep durations
/// under a day, but a deadline must never wrap (UBSan: a huge idle_timeout fired at once).
steady::time_point deadline_after(steady::time_point from, std::chrono::milliseconds d) {
  if (d.count() <= 0) return steady::time_point::max();
  const auto room = steady::time_point::max() - from;
  if (std::chrono::duration_cast<std::chrono::milliseconds>(room) <= d) {
    return steady::time_point::max();
  }
  return from + d;
}

/// Which deadline a read was armed with.
enum class deadline_kind { idle, command, session };

using tls_stream = asio::ssl::stream<tcp::socket&>;

/// A handshake failure as text: OpenSSL's reason ("wrong version number"), or asio's.
std::string tls_failure(const asio::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return "the client closed the connection during the handshake";
  }
  return ec.message();
}

/// The scenario event a core event is, if rules may act on it. AUTH is one event: the moment
/// the exchange is answered for good (not its 334 challenges), when the user is known.
std::optional<scenario::event_type> rule_event(const smtp::event& ev) {
  using scenario::event_type;
  switch (ev.kind) {
    case smtp::event_kind::connect:
      return event_type::connect;
    case smtp::event_kind::message:
      return event_type::message;
    case smtp::event_kind::auth_response:
      if (ev.proposed.code == 334) return std::nullopt;
      return event_type::auth;
    case smtp::event_kind::command:
      break;
    default:
      return std::nullopt;
  }
  switch (ev.command) {
    case smtp::verb::helo:
      return event_type::helo;
    case smtp::verb::ehlo:
      return event_type::ehlo;
    case smtp::verb::starttls:
      return event_type::starttls;
    case smtp::verb::auth:
      if (ev.proposed.code == 334) return std::nullopt;
      return event_type::auth;
    case smtp::verb::mail:
      return event_type::mail;
    case smtp::verb::rcpt:
      return event_type::rcpt;
    case smtp::verb::data:
      return event_type::data;
    case smtp::verb::bdat:
      return event_type::bdat;
    case smtp::verb::rset:
      return event_type::rset;
    case smtp::verb::noop:
      return event_type::noop;
    case smtp::verb::vrfy:
      return event_type::vrfy;
    case smtp::verb::help:
      return event_type::help;
    case smtp::verb::quit:
      return event_type::quit;
    case smtp::verb::expn:
    case smtp::verb::unknown:
      return event_type::unknown;
  }
  return std::nullopt;
}

/// The client's IP as text; IPv4-mapped IPv6 addresses (dual-stack listeners) shown as IPv4.
std::string ip_text(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}

/// What a reply to `ev` answered, for the metrics.
store::reply_to reply_kind(const smtp::event& ev) {
  switch (ev.kind) {
    case smtp::event_kind::connect:
      return store::reply_to::connect;
    case smtp::event_kind::auth_response:
      return store::reply_to::auth_response;
    case smtp::event_kind::message:
      return store::reply_to::message;
    case smtp::event_kind::interrupted:
      return store::reply_to::interrupted;
    default:
      return store::reply_to_verb(ev.command);
  }
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
    personality_ = p_.engine->scenario().personality;
    // The read that follows a full first read must not block the thread (see read_racing).
    socket_.non_blocking(true, ec);
    watch_ = std::make_shared<read_watch>();
    watch_->socket = &socket_;
    watch_->control = p_.control.get();
  }

  asio::awaitable<void> run() {
    if (p_.metrics) p_.metrics->session_opened();
    try {
      p_.store->open_session(id_, client_address_, personality_->name);
      note("connected from " + client_address_ + " to " + p_.listener);
      bool open = true;
      if (p_.implicit_tls) {
        // RFC 8314 3.3: implicit TLS starts with the handshake; the banner comes inside it.
        if (auto failure = co_await handshake()) {
          note("TLS handshake failed: " + *failure);
          spdlog::info("{} event=tls_failed mode=implicit client={} reason={}", id_,
                       client_address_, quote(*failure));
          open = false;
        } else {
          note_tls("implicit");
        }
      }
      conn_.emplace(personality_, connection_options());
      for (; open;) {
        smtp::event ev = conn_->next_event();
        switch (ev.kind) {
          case smtp::event_kind::connect:
          case smtp::event_kind::command:
          case smtp::event_kind::auth_response:
          case smtp::event_kind::message:
          case smtp::event_kind::interrupted:
            co_await answer(ev);
            break;
          case smtp::event_kind::start_tls:
            co_await start_tls();
            break;
          case smtp::event_kind::need_data:
            if (!holding()) co_await flush();
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
    try {
      co_await shutdown_tls();
    } catch (const std::exception& e) {
      spdlog::debug("{} event=tls_shutdown_failed what={}", id_, quote(e.what()));
    }
    close_socket();
    note_noexcept("closed");
    p_.engine->end_session(id_);
    try {
      p_.store->close_session(id_);
    } catch (const std::exception& e) {
      spdlog::error("{} event=error what={}", id_, quote(e.what()));
    }
    const auto lived = std::chrono::steady_clock::now() - started_;
    if (p_.metrics) p_.metrics->session_closed(lived);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(lived).count();
    spdlog::info("{} event=close client={} messages={} duration_ms={}", id_, client_address_,
                 messages_, ms);
  }

 private:
  /// What the core gets from this session and the server.
  smtp::connection_options connection_options() const {
    smtp::connection_options opts;
    opts.session_id = id_;
    opts.client_address = client_address_;
    opts.client_ip = client_ip_;
    opts.new_message_id = &new_message_id;
    opts.tls_available = p_.tls != nullptr;
    opts.hmac_md5 = &hmac_md5_hex;
    if (tls_up_) {
      opts.tls = true;
      opts.tls_version = tls_version_;
      opts.tls_cipher = tls_cipher_;
    }
    return opts;
  }

  /// The TLS handshake, server side, on the session's socket; bounded by the idle timeout and
  /// cut short by shutdown. Returns why it failed, or nullopt once TLS is up.
  asio::awaitable<std::optional<std::string>> handshake() {
    if (!p_.tls) co_return "no TLS certificate";
    const auto& settings = personality_->tls;
    tls_context_ = settings.handshake_fails
                       ? p_.tls->failing()
                       : p_.tls->server(personality_->hostname, settings.certificate);
    tls_ = std::make_unique<tls_stream>(socket_, *tls_context_);
    session_control& ctl = *p_.control;
    if (ctl.stop_requested) co_return "server shutting down";
    arm(ctl.wake);
    auto result = co_await (tls_->async_handshake(asio::ssl::stream_base::server, use_tuple) ||
                            ctl.wake.async_wait(use_tuple));
    if (result.index() == 1) {
      co_return ctl.stop_requested ? "server shutting down" : "timeout";
    }
    auto [ec] = std::get<0>(result);
    if (ec) {
      if (settings.handshake_fails) {
        co_return "refused with a handshake_failure alert (scenario tls.handshake: fail)";
      }
      co_return tls_failure(ec);
    }
    SSL* ssl = tls_->native_handle();
    tls_version_ = SSL_get_version(ssl);
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    tls_cipher_ = cipher != nullptr ? SSL_CIPHER_get_name(cipher) : "";
    tls_up_ = true;
    co_return std::nullopt;
  }

  /// After "220 Ready to start TLS" (RFC 3207 4): that reply (and a starttls_inject quirk's
  /// extra line, in the same write, so in one segment) goes out, then the handshake; the core
  /// starts the session over on success and closes it on failure.
  asio::awaitable<void> start_tls() {
    co_await flush();
    if (broken_) {
      conn_->abandon();
      co_return;
    }
    if (auto failure = co_await handshake()) {
      note("TLS handshake failed: " + *failure);
      spdlog::info("{} event=tls_failed mode=starttls reason={}", id_, quote(*failure));
      conn_->abandon();
      co_return;
    }
    conn_->tls_started(tls_version_, tls_cipher_);
    note_tls("starttls");
  }

  /// Records and logs an established TLS session.
  void note_tls(const char* mode) {
    note("TLS established: " + tls_version_ + " " + tls_cipher_);
    spdlog::info("{} event=tls mode={} version={} cipher={}", id_, mode, tls_version_, tls_cipher_);
  }

  /// Sends close_notify and waits briefly for the client's (RFC 8446 6.1), so a client that
  /// checks for truncation sees a clean end. Skipped when the connection is already gone.
  asio::awaitable<void> shutdown_tls() {
    if (!tls_up_ || broken_ || reset_) co_return;
    write_timer_.expires_after(tls_shutdown_wait);
    co_await (tls_->async_shutdown(use_tuple) || write_timer_.async_wait(use_tuple));
  }

  /// What one read raced against a timer gave.
  struct read_result {
    bool timer_fired = false;
    asio::error_code ec;
    std::string_view data;  ///< valid until this session next suspends
  };

  /// One read from the client, raced against `timer`: through TLS once it is up (into the
  /// session's TLS buffer), else into first_read_ and, when that fills, on into the thread's
  /// buffer. The bytes must be consumed before the next co_await.
  asio::awaitable<read_result> read_racing(asio::steady_timer& timer) {
    read_result out;
    if (tls_up_) {
      if (tls_buffer_.empty()) tls_buffer_.resize(tls_read_buffer_size);
      auto result = co_await (tls_->async_read_some(asio::buffer(tls_buffer_), use_tuple) ||
                              timer.async_wait(use_tuple));
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
    timer.async_wait([watch, generation](const asio::error_code& ec) {
      if (watch->generation != generation) return;  // that read is over
      if (ec == asio::error::operation_aborted && !watch->control->stop_requested) return;
      watch->fired = true;
      asio::error_code ignored;
      watch->socket->cancel(ignored);
    });
    // A small read first (asio reads speculatively and tracks readiness, so no wake-up is
    // lost); when it fills, the rest of what the kernel holds follows without blocking into
    // the thread's buffer.
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(first_read_), use_tuple);
    ++watch->generation;  // the handler, whenever it runs now, leaves the socket alone
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
        socket_.read_some(asio::buffer(buffer.data() + n, buffer.size() - n), more_ec);
    // Nothing more yet is not an error; an EOF or reset now is reported with these bytes.
    if (more_ec != asio::error::would_block && more_ec != asio::error::try_again) out.ec = more_ec;
    out.data = std::string_view(buffer.data(), n + more);
    co_return out;
  }

  /// Between a plain read and its timer's handler: which read is in progress, and whether the
  /// timer ended it. Shared, as the handler may run after the session is gone (it then finds
  /// a newer generation and touches nothing).
  struct read_watch {
    std::uint64_t generation = 0;
    bool fired = false;
    tcp::socket* socket = nullptr;
    const session_control* control = nullptr;
  };

  /// The read buffer of the calling thread, shared by its sessions (see the file comment).
  static std::vector<char>& thread_read_buffer() {
    thread_local std::vector<char> buffer(read_buffer_size);
    return buffer;
  }

  /// Writes all of `data`: through TLS once it is up, else to the socket.
  asio::awaitable<std::tuple<asio::error_code, std::size_t>> write_all(std::string_view data) {
    if (tls_up_)
      co_return co_await asio::async_write(*tls_, asio::buffer(data.data(), data.size()),
                                           use_tuple);
    co_return co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                                         use_tuple);
  }

  /// Server policy before any rule: shutdown and the connection limit answer the banner.
  std::optional<smtp::reply> policy(const smtp::event& ev) const {
    if (ev.kind != smtp::event_kind::connect) return std::nullopt;
    if (p_.control->stop_requested) return smtp::make(smtp::stock::shutting_down);
    if (p_.over_limit) return smtp::make(smtp::stock::too_many_connections);
    return std::nullopt;
  }

  /// What the rules may look at for this event.
  scenario::facts facts_of(const smtp::event& ev, scenario::event_type type) const {
    scenario::facts f;
    f.event = type;
    f.session_id = id_;
    f.client_ip = client_ip_;
    f.transaction = transactions_ + (ev.command == smtp::verb::mail ? 1 : 0);
    f.argument = ev.argument;
    f.sender = ev.sender;
    f.recipient = ev.recipient;
    f.helo = (type == scenario::event_type::helo || type == scenario::event_type::ehlo)
                 ? ev.argument
                 : conn_->current_envelope().helo;
    f.user = ev.user;
    if (ev.message) {
      f.message = &ev.message->data;
      f.size = ev.message->data.size();
    }
    f.now = std::chrono::steady_clock::now();
    return f;
  }

  /// Handles one decision event: policy, then the scenario's rules, then the core's
  /// proposal; performs the rule's effects; stores an accepted message; responds; records.
  asio::awaitable<void> answer(const smtp::event& ev) {
    smtp::reply r = ev.proposed;
    std::optional<scenario::action> act;
    if (auto forced = policy(ev)) {
      r = *forced;
    } else if (auto type = rule_event(ev); type && p_.engine->listens(*type)) {
      act = p_.engine->decide(facts_of(ev, *type));
      if (act && p_.metrics) p_.metrics->rule_hit(act->rule);
    }
    if (ev.kind == smtp::event_kind::message && ev.message != nullptr) {
      // The last BDAT chunk's command line ("BDAT 7 LAST") arrives with the message event.
      if (ev.command == smtp::verb::bdat && !ev.line.empty()) record(store::direction::in, ev.line);
      note("<message " + std::to_string(ev.message->data.size()) + " octets>");
      abort_after_.reset();
    } else if (!ev.line.empty()) {
      record(store::direction::in, ev.line);
    }
    if (ev.kind == smtp::event_kind::command) last_verb_ = ev.command;

    const scenario::effects* fx = act ? &act->then : nullptr;
    std::string rule = act ? act->rule : std::string();
    if (fx) {
      if (fx->delay) {
        note("rule " + rule + ": delay " + std::to_string(fx->delay->count()) + " ms");
        co_await flush();
        co_await pause(*fx->delay);
      }
      if (fx->hang) {
        note("rule " + rule + ": hang");
        spdlog::info("{} event=rule rule={} effect=hang", id_, quote(rule));
        co_await flush();
        co_await hang();
        co_return;
      }
      if (fx->reset || fx->disconnect == scenario::disconnect_mode::before_reply) {
        note("rule " + rule + (fx->reset ? ": reset" : ": disconnect before reply"));
        spdlog::info("{} event=rule rule={} effect={}", id_, quote(rule),
                     fx->reset ? "reset" : "disconnect");
        reset_ = fx->reset;
        conn_->abandon();
        co_return;
      }
      if (fx->reply) {
        smtp::reply custom = conn_->render(*fx->reply);
        if (custom.code != 0) r = std::move(custom);
      }
      if (fx->abort_after_bytes) {
        abort_after_ = *fx->abort_after_bytes;
        data_bytes_ = 0;
      }
    }
    // early_talker: reject — a client that speaks before the banner gets 554 instead of 220.
    if (ev.kind == smtp::event_kind::connect && r.code == 220 &&
        personality_->quirks.early_talker == smtp::early_talker_mode::reject) {
      if (!(fx && fx->delay)) co_await pause(early_talker_wait);
      asio::error_code ec;
      if (socket_.available(ec) > 0 && !ec) {
        note("client spoke before the banner");
        r = smtp::make(smtp::stock::early_talker);
      }
    }
    if (ev.kind == smtp::event_kind::message && ev.message != nullptr && r.klass() == 2) {
      // §4: a message that gets its 2xx is stored before the reply is written.
      try {
        p_.store->add_message(store::stored_message{ev.message->id, id_, store::clock::now(),
                                                    ev.message->env, ev.message->data});
        ++messages_;
        if (p_.metrics) p_.metrics->message_stored(ev.message->data.size());
      } catch (const std::exception& e) {
        spdlog::error("{} event=store_failed id={} what={}", id_, ev.message->id, quote(e.what()));
        r = smtp::make(smtp::stock::storage_failed);
      }
    }
    if (ev.command == smtp::verb::mail && ev.kind == smtp::event_kind::command && r.klass() == 2)
      ++transactions_;
    log_event(ev, r, rule);
    // Replies accumulate and leave in one write before the next read (RFC 2920); only a reply
    // a rule drips or splits is written apart, after the ones before it.
    if (fx && (fx->drip || fx->split)) co_await flush();
    conn_->respond(r);
    if (p_.metrics) p_.metrics->reply(reply_kind(ev), r.code);
    take_output(rule);
    if (fx && (fx->drip || fx->split)) co_await write_shaped(*fx);
    if (fx && fx->disconnect == scenario::disconnect_mode::after_reply) {
      note("rule " + rule + ": disconnect after reply");
      co_await flush();
      conn_->abandon();
    }
    // The next command (or the message after 354) has its own deadline from here.
    phase_started_ = steady::now();
  }

  /// Whether replies are held back (quirk pipelining: hold_until_data answers MAIL and RCPT
  /// only together with the DATA reply).
  bool holding() const {
    return personality_->quirks.pipelining == smtp::pipelining_mode::hold_until_data &&
           !conn_->closing() && pending_.size() < max_held_output &&
           (last_verb_ == smtp::verb::mail || last_verb_ == smtp::verb::rcpt);
  }

  /// Waits `d`, or less if the server is shutting down.
  asio::awaitable<void> pause(std::chrono::milliseconds d) {
    session_control& ctl = *p_.control;
    if (ctl.stop_requested) co_return;
    ctl.wake.expires_at(deadline_after(steady::now(), d));
    co_await ctl.wake.async_wait(use_tuple);
  }

  /// A rule's `hang`: never answer; input is read and ignored until the client leaves
  /// (nothing is sent), the idle timeout (421 4.4.2) or shutdown (421 4.3.2).
  asio::awaitable<void> hang() {
    session_control& ctl = *p_.control;
    for (int reads = 0;; ++reads) {
      if (ctl.stop_requested) break;
      arm(ctl.wake);
      const read_result got = co_await read_racing(ctl.wake);
      if (!got.timer_fired) {
        if (got.ec) {
          conn_->abandon();
          co_return;
        }
        continue;
      }
      if (ctl.stop_requested) break;
      note("timeout while hanging");
      conn_->respond(smtp::make(armed_ == deadline_kind::session ? smtp::stock::session_timeout
                                                                 : smtp::stock::idle_timeout));
      take_output({});
      co_return;
    }
    note("server shutting down");
    conn_->respond(smtp::make(smtp::stock::shutting_down));
    take_output({});
  }

  /// Writes what is pending a few bytes at a time (drip) or in two writes (split).
  asio::awaitable<void> write_shaped(const scenario::effects& fx) {
    std::string data;
    data.swap(pending_);
    std::size_t chunk = fx.drip ? std::max<std::size_t>(1, fx.drip->bytes) : (data.size() + 1) / 2;
    auto gap = fx.drip ? fx.drip->every : split_pause;
    for (std::size_t pos = 0; pos < data.size() && !broken_; pos += chunk) {
      if (pos > 0) co_await pause(gap);
      pending_ = data.substr(pos, chunk);
      co_await flush();
    }
  }

  void log_event(const smtp::event& ev, const smtp::reply& r, const std::string& rule) const {
    // The arguments (quoted lines and replies) cost more than the call: build them only for a
    // level that is on.
    if (!spdlog::should_log(spdlog::level::info)) return;
    const bool debug = spdlog::should_log(spdlog::level::debug);
    if (!rule.empty())
      spdlog::info("{} event=rule rule={} code={} reply={}", id_, quote(rule), r.code,
                   reply_summary(r));
    switch (ev.kind) {
      case smtp::event_kind::connect:
        spdlog::info("{} event=connect client={} listener={} scenario={} code={} reply={}", id_,
                     client_address_, p_.listener, quote(personality_->name), r.code,
                     reply_summary(r));
        break;
      case smtp::event_kind::command:
        if (!debug) break;
        spdlog::debug("{} cmd={} line={} code={} reply={}", id_,
                      smtp::upper(smtp::verb_name(ev.command)), quote(ev.line), r.code,
                      reply_summary(r));
        break;
      case smtp::event_kind::auth_response:
        if (!debug) break;
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
      case smtp::event_kind::start_tls:
      case smtp::event_kind::need_data:
      case smtp::event_kind::closed:
        break;
    }
  }

  /// Moves the core's serialised replies into the write buffer and the transcript.
  void take_output(const std::string& rule = {}) {
    if (!conn_->has_output()) return;
    std::string out = conn_->take_output();
    std::string_view rest(out);
    while (!rest.empty()) {
      auto end = rest.find("\r\n");
      std::string_view line = rest.substr(0, end);
      record(store::direction::out, std::string(line), rule);
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
    if (!tls_up_) {
      // Replies are small and the socket's send buffer is nearly always free: one
      // non-blocking write, and the race against the write timer only for what is left (a
      // failed write fails again there and is handled there).
      asio::error_code ec;
      const std::size_t n = socket_.write_some(asio::buffer(pending_), ec);
      if (p_.metrics && n > 0) p_.metrics->bytes_sent(n);
      pending_.erase(0, n);
      if (pending_.empty()) co_return;
    }
    arm_write();
    auto result = co_await (write_all(pending_) || write_timer_.async_wait(use_tuple));
    pending_.clear();
    if (result.index() == 0) {
      auto [ec, n] = std::get<0>(result);
      if (p_.metrics) p_.metrics->bytes_sent(n);
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
    const read_result got = co_await read_racing(ctl.wake);
    if (!got.timer_fired) {
      const std::size_t n = got.data.size();
      if (n > 0 && abort_after_ && conn_->in_data()) {
        // A rule's abort_after_bytes: the connection drops once that much data arrived.
        data_bytes_ += n;
        if (data_bytes_ >= *abort_after_) {
          note("rule: connection dropped after " + std::to_string(data_bytes_) +
               " octets of message data");
          spdlog::info("{} event=rule effect=abort_after_bytes octets={}", id_, data_bytes_);
          conn_->abandon();
          co_return;
        }
      }
      if (n > 0) {
        if (p_.metrics) p_.metrics->bytes_received(n);
        conn_->receive_data(got.data);
      }
      if (got.ec) {
        spdlog::debug("{} event=eof reason={}", id_, quote(got.ec.message()));
        conn_->receive_eof();
      }
    } else if (ctl.stop_requested) {
      interrupt_for_shutdown();
    } else {
      timed_out();
    }
  }

  /// The armed deadline passed: 421 4.4.2 naming which one (RFC 5321 4.5.3.2).
  void timed_out() {
    const auto ms = armed_for_.count();
    const char* what = "idle";
    auto reply = smtp::stock::idle_timeout;
    if (armed_ == deadline_kind::command) {
      what = conn_->in_data() ? "data" : "command";
      reply = smtp::stock::command_timeout;
    } else if (armed_ == deadline_kind::session) {
      what = "session";
      reply = smtp::stock::session_timeout;
    }
    const bool stress = stressed() && armed_ != deadline_kind::session;
    spdlog::info("{} event=timeout kind={} after_ms={}{}", id_, what, ms,
                 stress ? " stress=yes" : "");
    note(std::string(what) + " timeout after " + std::to_string(ms) + " ms" +
         (stress ? " (server under stress: nearly every connection slot in use)" : ""));
    conn_->interrupt(smtp::make(reply));
  }

  void interrupt_for_shutdown() {
    note("server shutting down");
    conn_->interrupt(smtp::make(smtp::stock::shutting_down));
  }

  /// Whether the server is nearly full of connections (80 % of the limit), as Postfix's
  /// "stress" mode: then every timeout is cut to stress_timeout.
  bool stressed() const {
    return p_.live_connections != nullptr && p_.max_connections > 0 &&
           p_.live_connections->load(std::memory_order_relaxed) * 5 >= p_.max_connections * 4;
  }

  /// `d`, cut to stress_timeout under stress.
  std::chrono::milliseconds under_stress(std::chrono::milliseconds d) const {
    const auto cap = personality_->limits.stress_timeout;
    if (cap.count() > 0 && (d.count() <= 0 || d > cap) && stressed()) return cap;
    return d;
  }

  /// Sets a timer to the earliest deadline of a read now: the idle timeout (since the last
  /// byte), the command or data deadline (since the last reply: a client trickling a byte at
  /// a time still has to finish its command), and the session's total; remembers which.
  void arm(asio::steady_timer& t) {
    const auto& lim = personality_->limits;
    const auto now = steady::now();
    armed_ = deadline_kind::idle;
    armed_for_ = under_stress(lim.idle_timeout);
    auto at = deadline_after(now, armed_for_);
    const auto phase =
        under_stress(conn_ && conn_->in_data() ? lim.data_timeout : lim.command_timeout);
    if (const auto t2 = deadline_after(phase_started_, phase); t2 < at) {
      at = t2;
      armed_ = deadline_kind::command;
      armed_for_ = phase;
    }
    if (const auto t3 = deadline_after(started_, lim.session_timeout); t3 < at) {
      at = t3;
      armed_ = deadline_kind::session;
      armed_for_ = lim.session_timeout;
    }
    t.expires_at(at);
  }

  /// A write may stall at most the idle timeout (cut under stress).
  void arm_write() {
    write_timer_.expires_at(
        deadline_after(steady::now(), under_stress(personality_->limits.idle_timeout)));
  }

  /// Half-closes, discards what the client sent but we never read, then closes. Closing a
  /// socket with unread input makes the kernel send RST, which can destroy our last reply
  /// (the 221 or 421) in the client's receive buffer before it reads it.
  void close_socket() {
    asio::error_code ec;
    if (reset_) {
      // A rule's `reset: true`: linger 0 makes close() send RST instead of FIN.
      socket_.set_option(asio::socket_base::linger(true, 0), ec);
      socket_.close(ec);
      return;
    }
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    std::size_t drained = 0;
    while (drained < max_drain_at_close) {
      std::size_t available = socket_.available(ec);
      if (ec || available == 0) break;
      std::vector<char>& buffer = thread_read_buffer();
      std::size_t n =
          socket_.read_some(asio::buffer(buffer.data(), std::min(available, buffer.size())), ec);
      if (ec || n == 0) break;
      drained += n;
    }
    socket_.close(ec);
  }

  void record(store::direction dir, std::string text, const std::string& rule = {}) {
    p_.store->append(
        id_, store::transcript_line{store::clock::now(), dir, std::move(text), tls_up_, rule});
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
  std::shared_ptr<asio::ssl::context> tls_context_;  ///< outlives tls_, which refers to it
  std::unique_ptr<tls_stream> tls_;  ///< made at the handshake (a plain session has none)
  bool tls_up_ = false;              ///< the handshake succeeded: all I/O goes through tls_
  std::string tls_version_;
  std::string tls_cipher_;
  std::string id_;
  std::string client_ip_;
  std::string client_address_;
  std::optional<smtp::server_connection> conn_;
  asio::steady_timer write_timer_;
  std::vector<char> tls_buffer_;  ///< a TLS session's read buffer (empty until TLS reads)
  std::shared_ptr<read_watch> watch_;
  std::array<char, first_read_size> first_read_{};
  std::string pending_;  ///< serialised replies not yet written
  bool broken_ = false;  ///< a write failed: nothing more can reach the client
  std::size_t messages_ = 0;
  std::shared_ptr<const smtp::personality> personality_;
  std::uint64_t transactions_ = 0;  ///< MAIL commands accepted (for per: transaction)
  smtp::verb last_verb_ = smtp::verb::unknown;
  std::optional<std::size_t> abort_after_;  ///< a rule's abort_after_bytes for this transfer
  std::size_t data_bytes_ = 0;
  bool reset_ = false;  ///< close with RST
  std::chrono::steady_clock::time_point started_;
  steady::time_point phase_started_ = steady::now();  ///< when the last reply was decided
  deadline_kind armed_ = deadline_kind::idle;         ///< what the last arm() chose
  std::chrono::milliseconds armed_for_{0};            ///< and its length
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
