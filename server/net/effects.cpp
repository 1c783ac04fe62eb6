// A rule's effects, performed; see effects.hpp.
#include "net/effects.hpp"

#include <algorithm>
#include <string_view>

namespace smtpmock::net {
namespace {

/// A rule's `hang`: never answer; input is read and ignored until the client leaves (nothing
/// is sent), a deadline passes (421 4.4.2) or the server shuts down (421 4.3.2).
asio::awaitable<void> hang(effect_host& host) {
  smtp::server_connection& conn = host.core();
  for (;;) {
    const read_end got = co_await host.read_ignoring();
    switch (got) {
      case read_end::data:
        continue;
      case read_end::closed:
        conn.abandon();
        co_return;
      case read_end::timed_out:
      case read_end::session: {
        const bool whole = got == read_end::session;
        host.note("timeout while hanging");
        conn.respond(smtp::make(whole ? smtp::stock::session_timeout : smtp::stock::idle_timeout));
        host.take_output({});
        co_return;
      }
      case read_end::stopped:
        host.note("server shutting down");
        conn.respond(smtp::make(smtp::stock::shutting_down));
        host.take_output({});
        co_return;
    }
  }
}

}  // namespace

asio::awaitable<bool> perform_before_reply(effect_host& host, const std::string& rule,
                                           const scenario::effects& fx, smtp::reply& reply) {
  if (fx.delay) {
    host.note("rule " + rule + ": delay " + std::to_string(fx.delay->count()) + " ms");
    co_await host.flush();
    co_await host.pause(*fx.delay);
  }
  if (fx.hang) {
    host.note("rule " + rule + ": hang");
    host.log_effect(rule, "hang");
    co_await host.flush();
    co_await hang(host);
    co_return false;
  }
  if (fx.reset || fx.disconnect == scenario::disconnect_mode::before_reply) {
    host.note("rule " + rule + (fx.reset ? ": reset" : ": disconnect before reply"));
    host.log_effect(rule, fx.reset ? "reset" : "disconnect");
    if (fx.reset) host.reset_on_close();
    host.core().abandon();
    co_return false;
  }
  if (fx.reply) {
    smtp::reply custom = host.core().render(*fx.reply);
    if (custom.code != 0) reply = std::move(custom);
  }
  if (fx.abort_after_bytes) host.budget().arm(*fx.abort_after_bytes);
  co_return true;
}

bool shapes_reply(const scenario::effects& fx) {
  return fx.drip.has_value() || fx.split;
}

asio::awaitable<void> perform_after_reply(effect_host& host, const std::string& rule,
                                          const scenario::effects& fx) {
  if (shapes_reply(fx)) {
    // A drip writes a few bytes at a time; a split writes the reply in two halves.
    const std::string data = host.take_pending();
    const std::size_t chunk =
        fx.drip ? std::max<std::size_t>(1, fx.drip->bytes) : (data.size() + 1) / 2;
    const auto gap = fx.drip ? fx.drip->every : split_pause;
    for (std::size_t pos = 0; pos < data.size(); pos += chunk) {
      if (pos > 0) co_await host.pause(gap);
      if (!co_await host.write_piece(data.substr(pos, chunk))) break;
    }
  }
  if (fx.disconnect == scenario::disconnect_mode::after_reply) {
    host.note("rule " + rule + ": disconnect after reply");
    co_await host.flush();
    host.core().abandon();
  }
}

}  // namespace smtpmock::net
