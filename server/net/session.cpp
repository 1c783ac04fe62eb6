// The session coroutine; see session.hpp.
// The loop only: next_event() -> the server's policy, the scenario's decision -> perform its
// effects (net/effects.*) -> respond(); replies flushed before each read. What the protocol
// requires (holding replies, the early-talker verdict, keeping a message before its 2xx,
// transaction numbers) is the core's answer; this file performs it. Expected I/O outcomes
// (eof, timeout, cancellation) arrive as values; anything else is an exception caught once at
// the end of run(), logged, and ends only this session.
// After STARTTLS the core has already dropped any plaintext it had buffered (RFC 3207 6,
// CVE-2011-0411), and bytes still in the kernel go to the TLS engine as records, so none is
// ever run as a command.
#include "net/session.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <variant>

#include "net/effects.hpp"
#include "net/ids.hpp"
#include "net/log_text.hpp"
#include "scenario/session_facts.hpp"
#include "smtp/command.hpp"
#include "smtp/server_connection.hpp"

namespace smtpmock::net {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// How long a session inside TLS waits for the client's close_notify after sending its own.
constexpr std::chrono::milliseconds tls_shutdown_wait{250};

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

/// A handshake failure as text: OpenSSL's reason ("wrong version number"), or asio's.
std::string tls_failure(const asio::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return "the client closed the connection during the handshake";
  }
  return ec.message();
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

/// The text of a retry-too-early finding: which triplet came back when, against what delay.
std::string retry_text(const smtp::event& ev, const scenario::action& act) {
  const auto seconds = [](std::chrono::milliseconds d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
    return std::string(buf);
  };
  std::string what = "RCPT";
  if (ev.command == smtp::verb::mail) what = "MAIL";
  if (ev.kind == smtp::event_kind::message) what = "the message";
  return what + " from <" + ev.sender + "> to <" + ev.recipient + "> came back " +
         seconds(*act.retried_after) + " after it was greylisted; rule '" + act.rule +
         "' asks for " + seconds(act.then.greylist.value_or(std::chrono::milliseconds(0)));
}

/// "code enhanced text" of a reply's first line, for logs.
std::string reply_summary(const smtp::reply& r) {
  std::string out = r.enhanced;
  if (!out.empty()) out += ' ';
  out += r.text();
  return quote(out);
}

class session final : private effect_host {
 public:
  session(std::unique_ptr<session_stream> stream, session_params params)
      : stream_(std::move(stream)),
        p_(std::move(params)),
        id_(new_session_id()),
        write_timer_(stream_->get_executor()),
        started_(std::chrono::steady_clock::now()) {
    if (auto remote = stream_->remote()) {
      client_ip_ = ip_text(remote->address());
      client_address_ = client_ip_.find(':') == std::string::npos
                            ? client_ip_ + ":" + std::to_string(remote->port())
                            : "[" + client_ip_ + "]:" + std::to_string(remote->port());
    } else {
      client_ip_ = "unknown";
      client_address_ = "unknown";
    }
    personality_ = p_.engine->scenario().personality;
  }

  asio::awaitable<void> run() {
    if (p_.metrics) p_.metrics->session_opened();
    try {
      p_.store->open_session(id_, client_address_, personality_->name,
                             store::listener_ref{p_.listener_name, p_.listener});
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
      if (p_.reconnects) {
        if (auto storm = p_.reconnects->connected(client_ip_, steady::now()))
          conn_->observed("reconnect-storm", std::move(*storm));
      }
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
            if (!conn_->holds_replies(pending_.size())) co_await flush();
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
    stream_->close(reset_);
    try {
      if (conn_) report_findings();  // no-quit comes with the end of input
    } catch (const std::exception& e) {
      spdlog::error("{} event=error what={}", id_, quote(e.what()));
    }
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
    opts.tls_available = p_.tls != nullptr && p_.starttls;
    opts.hmac_md5 = &hmac_md5_hex;
    if (stream_->tls_up()) {
      opts.tls = true;
      opts.tls_version = tls_version_;
      opts.tls_cipher = tls_cipher_;
    }
    return opts;
  }

  /// The TLS handshake, server side; bounded by the idle timeout and cut short by shutdown.
  /// Returns why it failed, or nullopt once TLS is up.
  asio::awaitable<std::optional<std::string>> handshake() {
    if (!p_.tls) co_return "no TLS certificate";
    const auto& settings = personality_->tls;
    tls_context_ = settings.handshake_fails
                       ? p_.tls->failing()
                       : p_.tls->server(personality_->hostname, settings.certificate);
    session_control& ctl = *p_.control;
    if (ctl.stop_requested) co_return "server shutting down";
    arm(ctl.wake);
    auto result = co_await (stream_->handshake(*tls_context_) || ctl.wake.async_wait(use_tuple));
    if (result.index() == 1) {
      co_return ctl.stop_requested ? "server shutting down" : "timeout";
    }
    if (const asio::error_code ec = std::get<0>(result)) {
      if (settings.handshake_fails) {
        co_return "refused with a handshake_failure alert (scenario tls.handshake: fail)";
      }
      co_return tls_failure(ec);
    }
    SSL* ssl = stream_->native_handle();
    tls_version_ = SSL_get_version(ssl);
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    tls_cipher_ = cipher != nullptr ? SSL_CIPHER_get_name(cipher) : "";
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
    if (!stream_->tls_up() || broken_ || reset_) co_return;
    write_timer_.expires_after(tls_shutdown_wait);
    co_await (stream_->shutdown_tls() || write_timer_.async_wait(use_tuple));
  }

  /// Server policy before any rule: shutdown and the connection limit answer the banner.
  std::optional<smtp::reply> policy(const smtp::event& ev) const {
    if (ev.kind != smtp::event_kind::connect) return std::nullopt;
    if (p_.control->stop_requested) return smtp::make(smtp::stock::shutting_down);
    if (p_.over_limit) return smtp::make(smtp::stock::too_many_connections);
    return std::nullopt;
  }

  /// Records the input an event answers in the transcript.
  void record_input(const smtp::event& ev) {
    if (ev.kind == smtp::event_kind::message && ev.message != nullptr) {
      // The last BDAT chunk's command line ("BDAT 7 LAST") arrives with the message event.
      if (ev.command == smtp::verb::bdat && !ev.line.empty()) record(store::direction::in, ev.line);
      note("<message " + std::to_string(ev.message->data.size()) + " octets>");
    } else if (!ev.line.empty()) {
      record(store::direction::in, ev.line);
    }
  }

  /// Stores the findings the core noted since the last call; each follows the transcript line
  /// last recorded (the input it was noted in). Those of the open transaction are kept for
  /// its message too.
  void report_findings() {
    const auto& all = conn_->findings();
    for (; findings_reported_ < all.size(); ++findings_reported_) {
      const smtp::finding& f = all[findings_reported_];
      store::finding_record record{std::string(f.kind->code),
                                   std::string(smtp::severity_name(f.kind->severity)),
                                   std::string(f.kind->rfc),
                                   f.text,
                                   0,
                                   store::clock::now()};
      record.line = p_.store->add_finding(id_, record);
      if (p_.metrics) p_.metrics->client_finding(*f.kind);
      if (f.transaction == 0) continue;
      if (f.transaction != tx_findings_of_) {
        tx_findings_.clear();
        tx_findings_of_ = f.transaction;
      }
      tx_findings_.push_back(std::move(record));
    }
  }

  /// Notes a finding of the driver's at once (it belongs to the last line recorded).
  void observe(std::string_view code, std::string text) {
    conn_->observed(code, std::move(text));
    report_findings();
  }

  /// Stores the message of a message event; a failure turns the 2xx into 451 4.3.0.
  void keep_message(const smtp::event& ev, smtp::reply& r) {
    try {
      store::stored_message m;
      m.id = ev.message->id;
      m.session_id = id_;
      m.listener = store::listener_ref{p_.listener_name, p_.listener};
      m.scenario = personality_->name;
      m.received = store::clock::now();
      m.env = ev.message->env;
      m.data = ev.message->data;
      if (tx_findings_of_ == conn_->transactions()) m.findings = tx_findings_;
      p_.store->add_message(std::move(m));
      ++messages_;
      if (p_.metrics) p_.metrics->message_stored(ev.message->data.size());
    } catch (const std::exception& e) {
      spdlog::error("{} event=store_failed id={} what={}", id_, ev.message->id, quote(e.what()));
      r = smtp::make(smtp::stock::storage_failed);
    }
  }

  /// Handles one decision event: policy, then the scenario's rules, then the core's
  /// proposal; performs the rule's effects; keeps an accepted message; responds; records.
  asio::awaitable<void> answer(const smtp::event& ev) {
    smtp::reply r = ev.proposed;
    std::optional<scenario::action> act;
    if (auto forced = policy(ev)) {
      r = *forced;
    } else if (auto type = scenario::rule_event(ev); type && p_.engine->listens(*type)) {
      act = p_.engine->decide(
          scenario::facts_for(ev, *type, *conn_, id_, client_ip_, &counters_, steady::now()));
      if (act && p_.metrics) p_.metrics->rule_hit(act->rule);
    }
    if (act && act->retried_after) {
      conn_->observed("retry-too-early", retry_text(ev, *act));
    }
    record_input(ev);
    report_findings();
    if (ev.kind == smtp::event_kind::message) budget_.clear();

    const scenario::effects* fx = act ? &act->then : nullptr;
    const std::string rule = act ? act->rule : std::string();
    if (fx && !co_await perform_before_reply(*this, rule, *fx, r)) co_return;
    if (conn_->listens_before_banner(r)) {
      // early_talker: reject — listen before the banner (a rule's delay already did).
      if (!(fx && fx->delay)) co_await pause(smtp::server_connection::early_talker_wait);
      const bool spoke = stream_->available() > 0;
      if (spoke) note("client spoke before the banner");
      r = conn_->banner_verdict(r, spoke);
    }
    if (ev.kind == smtp::event_kind::connect && !stream_->tls_up()) {
      // RFC 5321 4.3.1: the client waits for the greeting. Inside implicit TLS the probe would
      // see TLS records, not commands, so it is made on plain connections only.
      if (const std::size_t n = stream_->available()) {
        conn_->observed("early-talker",
                        "the client sent " + std::to_string(n) + " octets before the banner");
      }
    }
    // §4: a message that gets its 2xx is stored before the reply is written.
    if (ev.message != nullptr && conn_->keeps_message(r)) keep_message(ev, r);
    log_event(ev, r, rule);
    // Replies accumulate and leave in one write before the next read (RFC 2920); only a reply
    // a rule drips or splits is written apart, after the ones before it.
    if (fx && shapes_reply(*fx)) co_await flush();
    conn_->respond(r);
    if (p_.metrics) p_.metrics->reply(reply_kind(ev), r.code);
    report_findings();  // those the reply showed (data-before-354), and the early talker
    if (r.code == 421 && p_.reconnects) p_.reconnects->answered_421(client_ip_, steady::now());
    take_output(rule);
    if (fx) co_await perform_after_reply(*this, rule, *fx);
    // The next command (or the message after 354) has its own deadline from here.
    phase_started_ = steady::now();
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

  // effect_host: what the effects act on.
  smtp::server_connection& core() override { return *conn_; }
  void note(std::string text) override { record(store::direction::info, std::move(text)); }
  void log_effect(const std::string& rule, const char* effect) override {
    spdlog::info("{} event=rule rule={} effect={}", id_, quote(rule), effect);
  }
  std::string take_pending() override {
    std::string out;
    out.swap(pending_);
    return out;
  }
  asio::awaitable<bool> write_piece(std::string bytes) override {
    pending_ = std::move(bytes);
    co_await flush();
    co_return !broken_;
  }
  void reset_on_close() override { reset_ = true; }
  data_budget& budget() override { return budget_; }

  /// Waits `d`, or less if the server is shutting down.
  asio::awaitable<void> pause(std::chrono::milliseconds d) override {
    session_control& ctl = *p_.control;
    if (ctl.stop_requested) co_return;
    ctl.wake.expires_at(deadline_after(steady::now(), d));
    co_await ctl.wake.async_wait(use_tuple);
  }

  asio::awaitable<read_end> read_ignoring() override {
    session_control& ctl = *p_.control;
    if (ctl.stop_requested) co_return read_end::stopped;
    arm(ctl.wake);
    const session_stream::read_result got = co_await stream_->read(ctl);
    if (!got.timer_fired) co_return got.ec ? read_end::closed : read_end::data;
    if (ctl.stop_requested) co_return read_end::stopped;
    co_return armed_ == deadline_kind::session ? read_end::session : read_end::timed_out;
  }

  /// Moves the core's serialised replies into the write buffer and the transcript (one entry
  /// for what one respond() wrote, however many lines: the store shows each line).
  void take_output(const std::string& rule) override {
    if (!conn_->has_output()) return;
    std::string out = conn_->take_output();
    std::string_view text(out);
    if (text.size() >= 2 && text.substr(text.size() - 2) == "\r\n") text.remove_suffix(2);
    record(store::direction::out, std::string(text), rule);
    if (pending_.empty())
      pending_ = std::move(out);  // no copy, and the buffer goes when written (see flush)
    else
      pending_ += out;
  }

  /// Writes every pending reply; a write that fails or stalls past the idle timeout ends the
  /// session (the peer is gone or not reading).
  asio::awaitable<void> flush() override {
    take_output({});
    if (pending_.empty()) co_return;
    if (broken_) {
      pending_.clear();
      co_return;
    }
    // Replies are small and the send buffer is nearly always free: one non-blocking write,
    // and the race against the write timer only for what is left (a failed write fails again
    // there and is handled there).
    const std::size_t n = stream_->try_write(pending_);
    if (p_.metrics && n > 0) p_.metrics->bytes_sent(n);
    if (n == pending_.size()) {
      pending_ = std::string();  // an idle session keeps no write buffer
      co_return;
    }
    pending_.erase(0, n);
    arm_write();
    auto result = co_await (stream_->write_all(pending_) || write_timer_.async_wait(use_tuple));
    pending_ = std::string();
    if (result.index() == 0) {
      auto [ec, written] = std::get<0>(result);
      if (p_.metrics) p_.metrics->bytes_sent(written);
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
    const session_stream::read_result got = co_await stream_->read(ctl);
    if (!got.timer_fired) {
      const std::size_t n = got.data.size();
      if (n > 0 && conn_->in_data() && budget_.spent_by(n)) {
        // A rule's abort_after_bytes: the connection drops once that much data arrived.
        note("rule: connection dropped after " + std::to_string(budget_.seen()) +
             " octets of message data");
        spdlog::info("{} event=rule effect=abort_after_bytes octets={}", id_, budget_.seen());
        conn_->abandon();
        co_return;
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
    observe("idle-timeout", std::string(what) + " timeout: the server closed the session after " +
                                std::to_string(ms) + " ms");
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

  void record(store::direction dir, std::string text, const std::string& rule = {}) {
    p_.store->append(id_, store::transcript_line{store::clock::now(), dir, std::move(text),
                                                 stream_->tls_up(), rule});
  }
  void note_noexcept(std::string text) noexcept {
    try {
      note(std::move(text));
    } catch (...) {
    }
  }

  std::unique_ptr<session_stream> stream_;
  session_params p_;
  std::shared_ptr<asio::ssl::context> tls_context_;  ///< outlives the stream's TLS layer
  std::string tls_version_;
  std::string tls_cipher_;
  std::size_t findings_reported_ = 0;  ///< conn_->findings() already stored
  /// The stored findings of the newest transaction that had any (tx_findings_of_), for its
  /// message.
  std::vector<store::finding_record> tx_findings_;
  std::uint64_t tx_findings_of_ = 0;
  std::string id_;
  std::string client_ip_;
  std::string client_address_;
  std::optional<smtp::server_connection> conn_;
  scenario::session_counters counters_;  ///< the rules counted per session or transaction
  asio::steady_timer write_timer_;
  std::string pending_;  ///< serialised replies not yet written
  bool broken_ = false;  ///< a write failed: nothing more can reach the client
  std::size_t messages_ = 0;
  std::shared_ptr<const smtp::personality> personality_;
  data_budget budget_;  ///< a rule's abort_after_bytes for this transfer
  bool reset_ = false;  ///< close with RST
  std::chrono::steady_clock::time_point started_;
  steady::time_point phase_started_ = steady::now();  ///< when the last reply was decided
  deadline_kind armed_ = deadline_kind::idle;         ///< what the last arm() chose
  std::chrono::milliseconds armed_for_{0};            ///< and its length
};

}  // namespace

asio::awaitable<void> run_session(std::unique_ptr<session_stream> stream, session_params params) {
  std::optional<session> s;
  try {
    s.emplace(std::move(stream), std::move(params));
  } catch (const std::exception& e) {
    spdlog::error("session setup failed: {}", quote(e.what()));
    co_return;
  }
  co_await s->run();
}

std::unique_ptr<session_stream> tcp_session_stream(tcp::socket socket) {
  return std::make_unique<basic_session_stream<tcp::socket>>(std::move(socket));
}

}  // namespace smtpmock::net
