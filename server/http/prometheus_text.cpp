// GET /metrics: the only translation unit that includes prometheus-cpp (its core library and
// text serializer; no exposer, no civetweb). Each scrape builds a fresh registry from a
// snapshot of each listener's store::metrics atomics, so the SMTP path never touches
// prometheus-cpp; every family is registered once and holds a series per listener.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <vector>

#include "http/api.hpp"

namespace smtpmock::http {

std::string prometheus_text(const std::vector<labelled_snapshot>& listeners,
                            std::size_t messages_stored, std::size_t sessions_stored,
                            const std::string& version, const std::string& commit) {
  using namespace prometheus;
  Registry registry;
  // The usual build-info gauge: always 1, the facts are in the labels.
  BuildGauge()
      .Name("smtpmock_build_info")
      .Help("The running smtpmock's version and git commit")
      .Register(registry)
      .Add({{"version", version}, {"commit", commit}})
      .Set(1);
  // The store is shared by every listener: its gauges carry no listener label.
  BuildGauge()
      .Name("smtpmock_messages_stored")
      .Help("Messages held in memory now")
      .Register(registry)
      .Add({})
      .Set(static_cast<double>(messages_stored));
  BuildGauge()
      .Name("smtpmock_sessions_stored")
      .Help("Session transcripts held in memory now")
      .Register(registry)
      .Add({})
      .Set(static_cast<double>(sessions_stored));

  // Every SMTP-side family once; a series per listener in each.
  auto counter = [&](const char* name, const char* help) -> Family<Counter>& {
    return BuildCounter().Name(name).Help(help).Register(registry);
  };
  auto& sessions = counter("smtpmock_sessions_total", "SMTP sessions accepted");
  auto& active = BuildGauge()
                     .Name("smtpmock_sessions_active")
                     .Help("SMTP sessions open now")
                     .Register(registry);
  auto& messages = counter("smtpmock_messages_total", "Messages accepted (final 2xx) and stored");
  auto& message_bytes = counter("smtpmock_message_bytes_total", "Octets of accepted messages");
  auto& received = counter("smtpmock_smtp_received_bytes_total", "Octets read from SMTP clients");
  auto& sent = counter("smtpmock_smtp_sent_bytes_total", "Octets written to SMTP clients");
  auto& commands = counter("smtpmock_commands_total",
                           "Replies sent, by what they answered (SMTP verb, connect, message, "
                           "auth_response, interrupted) and reply code");
  auto& rules = counter("smtpmock_rule_hits_total", "Scenario rules that fired, by rule name");
  auto& findings = counter("smtpmock_client_findings_total",
                           "Findings about SMTP clients (RFC departures), by code and severity");
  auto& durations = BuildHistogram()
                        .Name("smtpmock_session_duration_seconds")
                        .Help("SMTP session duration from accept to close")
                        .Register(registry);
  const Histogram::BucketBoundaries bounds(store::metrics::duration_buckets.begin(),
                                           store::metrics::duration_buckets.end());

  for (const auto& [listener, s] : listeners) {
    // `labels` plus the listener's; an API given one metrics object adds none.
    auto with = [&l = listener](Labels labels) {
      if (!l.empty()) labels.emplace("listener", l);
      return labels;
    };
    sessions.Add(with({})).Increment(static_cast<double>(s.sessions_total));
    active.Add(with({})).Set(static_cast<double>(s.sessions_active));
    messages.Add(with({})).Increment(static_cast<double>(s.messages_total));
    message_bytes.Add(with({})).Increment(static_cast<double>(s.message_bytes_total));
    received.Add(with({})).Increment(static_cast<double>(s.bytes_received));
    sent.Add(with({})).Increment(static_cast<double>(s.bytes_sent));
    for (const auto& r : s.replies) {
      commands.Add(with({{"verb", std::string(r.verb)}, {"code", std::to_string(r.code)}}))
          .Increment(static_cast<double>(r.count));
    }
    for (const auto& [name, count] : s.rule_hits)
      rules.Add(with({{"rule", name}})).Increment(static_cast<double>(count));
    for (const auto& f : s.findings) {
      findings.Add(with({{"code", std::string(f.code)}, {"severity", std::string(f.severity)}}))
          .Increment(static_cast<double>(f.count));
    }
    std::vector<double> increments;
    for (auto n : s.duration_counts)
      increments.push_back(static_cast<double>(n));
    durations.Add(with({}), bounds).ObserveMultiple(increments, s.duration_sum);
  }

  return TextSerializer().Serialize(registry.Collect());
}

}  // namespace smtpmock::http
