// The load run: sessions from driver.hpp's run_many, statistics gathered from their events on
// the one thread that runs them (so no locks), a summary at the end.
#include "client/load.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace smtpmock::client {
namespace {

using clock = std::chrono::steady_clock;

/// The stages whose reply latency is reported, in session order.
constexpr smtp::client_stage reported_stages[] = {
    smtp::client_stage::banner,   smtp::client_stage::ehlo, smtp::client_stage::helo,
    smtp::client_stage::starttls, smtp::client_stage::auth, smtp::client_stage::mail,
    smtp::client_stage::rcpt,     smtp::client_stage::data, smtp::client_stage::message,
    smtp::client_stage::rset,     smtp::client_stage::quit};

/// Everything measured during the run.
struct load_stats : session_observer {
  std::map<smtp::client_stage, std::vector<double>> latency;
  std::vector<double> connect_ms;
  std::map<int, std::size_t> codes;
  std::map<std::string, std::size_t> failures;  ///< stage name -> messages failed there
  std::size_t messages_done = 0;                ///< accepted or failed, for the progress bar
  std::size_t accepted = 0;
  std::size_t failed = 0;
  std::size_t connect_failures = 0;
  int first_exit = 0;

  void event(const timed_event& t) override {
    if (t.event.kind != smtp::client_event_kind::received) return;
    if (t.event.parsed.code != 0) ++codes[t.event.parsed.code];
    if (t.latency_ms >= 0) latency[t.event.stage].push_back(t.latency_ms);
  }

  void session_done(std::size_t planned, const session_report& r) {
    if (r.connected) {
      connect_ms.push_back(r.connect_ms);
    } else {
      ++connect_failures;
    }
    std::size_t counted = 0;
    for (const auto& t : r.result.transactions) {
      if (counted == planned) break;
      ++counted;
      if (t.accepted) {
        ++accepted;
      } else {
        ++failed;
        ++failures[std::string(smtp::client_stage_name(
            t.failed ? *t.failed : r.result.failed.value_or(smtp::client_stage::closed)))];
      }
    }
    // Messages never attempted (the connection failed or closed) fail at the session's stage.
    if (counted < planned) {
      const auto stage = r.connected ? r.result.failed.value_or(smtp::client_stage::closed)
                                     : smtp::client_stage::connect;
      failures[std::string(smtp::client_stage_name(stage))] += planned - counted;
      failed += planned - counted;
    }
    if (first_exit == 0 && r.exit_code() != 0) first_exit = r.exit_code();
    messages_done += planned;
  }
};

std::string format_ms(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(v < 10 ? 2 : 1) << v;
  return s.str();
}

/// "[=======>       ] 1234/2000  61%  850 msg/s  0 failed", redrawn in place.
void draw_progress(const load_stats& st, std::size_t total, clock::time_point start, bool final) {
  constexpr int width = 30;
  const double fraction = total == 0 ? 1.0 : double(st.messages_done) / double(total);
  const int filled = static_cast<int>(fraction * width);
  const double secs = std::chrono::duration<double>(clock::now() - start).count();
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, ' ');
  std::fprintf(stderr, "\r[%s] %zu/%zu %3d%% %7.0f msg/s %zu failed%s", bar.c_str(),
               st.messages_done, total, static_cast<int>(fraction * 100),
               secs > 0 ? double(st.accepted) / secs : 0.0, st.failed, final ? "\n" : "");
  std::fflush(stderr);
}

nlohmann::json latency_json(const std::vector<double>& sorted) {
  double sum = 0;
  for (double v : sorted)
    sum += v;
  return {
      {"count", sorted.size()},        {"mean", sorted.empty() ? 0.0 : sum / double(sorted.size())},
      {"p50", percentile(sorted, 50)}, {"p95", percentile(sorted, 95)},
      {"p99", percentile(sorted, 99)}, {"max", sorted.empty() ? 0.0 : sorted.back()}};
}

}  // namespace

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  const double rank = std::ceil(p / 100.0 * double(sorted.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

int run_load(const send_settings& s) {
  auto prepared = prepare_send(s);
  if (!prepared) return exit_usage;
  const prepared_send& p = *prepared;
  const std::size_t per = std::max<std::size_t>(1, s.per_connection);
  const std::size_t sessions = (s.count + per - 1) / per;
  const std::size_t concurrency = std::max<std::size_t>(1, s.concurrency);

  load_stats st;
  auto planned = [&](std::size_t session) { return std::min(per, s.count - session * per); };
  auto options_for = [&](std::size_t session) {
    smtp::client_options o = p.options;
    o.transactions = planned(session);
    o.continue_after_failure = true;
    o.report_message_lines = false;
    const std::size_t first = session * per;
    const message_spec* spec = &p.message;
    o.make_message = [spec, first](std::size_t i) { return compose_message(*spec, first + i); };
    return o;
  };
  const bool show_progress = s.progress && !s.json && isatty(STDERR_FILENO) == 1;
  const auto start = clock::now();
  run_many(
      p.where, sessions, concurrency, options_for, st,
      [&](std::size_t index, session_report&& r) { st.session_done(planned(index), r); },
      show_progress ? std::function<void()>([&] { draw_progress(st, s.count, start, false); })
                    : std::function<void()>(),
      std::chrono::milliseconds(100));
  const double secs = std::chrono::duration<double>(clock::now() - start).count();
  if (show_progress) draw_progress(st, s.count, start, true);

  std::sort(st.connect_ms.begin(), st.connect_ms.end());
  for (auto& [stage, values] : st.latency)
    std::sort(values.begin(), values.end());
  const double rate = secs > 0 ? double(st.accepted) / secs : 0;
  const int exit_code = st.failed == 0 ? 0 : (st.first_exit != 0 ? st.first_exit : 1);

  if (s.json) {
    nlohmann::json out;
    out["server"] = p.server_text;
    out["messages"] = s.count;
    out["accepted"] = st.accepted;
    out["failed"] = st.failed;
    out["connections"] = sessions;
    out["connect_failures"] = st.connect_failures;
    out["concurrency"] = concurrency;
    out["per_connection"] = per;
    out["pipelining"] = s.pipeline;
    out["elapsed_s"] = secs;
    out["messages_per_second"] = rate;
    nlohmann::json lat;
    lat["connect"] = latency_json(st.connect_ms);
    for (auto stage : reported_stages) {
      auto it = st.latency.find(stage);
      if (it != st.latency.end())
        lat[std::string(smtp::client_stage_name(stage))] = latency_json(it->second);
    }
    out["latency_ms"] = std::move(lat);
    nlohmann::json codes = nlohmann::json::object();
    for (const auto& [code, n] : st.codes)
      codes[std::to_string(code)] = n;
    out["reply_codes"] = std::move(codes);
    out["failures_by_stage"] = st.failures;
    out["exit_code"] = exit_code;
    std::cout << out.dump(2) << '\n';
    return exit_code;
  }

  std::cout << "=== " << s.count << " messages to " << p.server_text << " over " << sessions
            << " connections (" << concurrency << " at a time, up to " << per << " per connection"
            << (s.pipeline ? ", pipelining" : "") << ")\n";
  std::cout << "messages:    " << st.accepted << " accepted, " << st.failed << " failed in "
            << std::fixed << std::setprecision(3) << secs << " s (" << std::setprecision(1) << rate
            << " messages/s)\n";
  std::cout << "connections: " << sessions << " (" << st.connect_failures
            << " failed to connect)\n";
  std::cout << "latency (ms)     count       p50       p95       p99       max\n";
  auto row = [](std::string_view name, const std::vector<double>& v) {
    std::cout << "  " << std::left << std::setw(12) << name << std::right << std::setw(8)
              << v.size() << std::setw(10) << format_ms(percentile(v, 50)) << std::setw(10)
              << format_ms(percentile(v, 95)) << std::setw(10) << format_ms(percentile(v, 99))
              << std::setw(10) << format_ms(v.empty() ? 0 : v.back()) << '\n';
  };
  row("connect", st.connect_ms);
  for (auto stage : reported_stages) {
    auto it = st.latency.find(stage);
    if (it != st.latency.end()) row(smtp::client_stage_name(stage), it->second);
  }
  std::cout << "reply codes:";
  for (const auto& [code, n] : st.codes)
    std::cout << ' ' << code << " x" << n;
  std::cout << '\n' << "failures by stage:";
  if (st.failures.empty()) std::cout << " none";
  for (const auto& [stage, n] : st.failures)
    std::cout << ' ' << stage << ": " << n;
  std::cout << '\n';
  return exit_code;
}

}  // namespace smtpmock::client
