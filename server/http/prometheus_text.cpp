// GET /metrics: the only translation unit that includes prometheus-cpp (its core library and
// text serializer; no exposer, no civetweb). Each scrape builds a fresh registry from a
// snapshot of store::metrics' atomics, so the SMTP path never touches prometheus-cpp.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <vector>

#include "http/api.hpp"

namespace smtpmock::http {

std::string prometheus_text(const store::metrics::snapshot& s, std::size_t messages_stored,
                            std::size_t sessions_stored, const std::string& version,
                            const std::string& commit) {
  using namespace prometheus;
  Registry registry;
  // The usual build-info gauge: always 1, the facts are in the labels.
  BuildGauge()
      .Name("smtpmock_build_info")
      .Help("The running smtpmock's version and git commit")
      .Register(registry)
      .Add({{"version", version}, {"commit", commit}})
      .Set(1);
  auto counter = [&](const char* name, const char* help, double value) {
    BuildCounter().Name(name).Help(help).Register(registry).Add({}).Increment(value);
  };
  auto gauge = [&](const char* name, const char* help, double value) {
    BuildGauge().Name(name).Help(help).Register(registry).Add({}).Set(value);
  };

  counter("smtpmock_sessions_total", "SMTP sessions accepted",
          static_cast<double>(s.sessions_total));
  gauge("smtpmock_sessions_active", "SMTP sessions open now",
        static_cast<double>(s.sessions_active));
  counter("smtpmock_messages_total", "Messages accepted (final 2xx) and stored",
          static_cast<double>(s.messages_total));
  counter("smtpmock_message_bytes_total", "Octets of accepted messages",
          static_cast<double>(s.message_bytes_total));
  counter("smtpmock_smtp_received_bytes_total", "Octets read from SMTP clients",
          static_cast<double>(s.bytes_received));
  counter("smtpmock_smtp_sent_bytes_total", "Octets written to SMTP clients",
          static_cast<double>(s.bytes_sent));
  gauge("smtpmock_messages_stored", "Messages held in memory now",
        static_cast<double>(messages_stored));
  gauge("smtpmock_sessions_stored", "Session transcripts held in memory now",
        static_cast<double>(sessions_stored));

  auto& commands = BuildCounter()
                       .Name("smtpmock_commands_total")
                       .Help(
                           "Replies sent, by what they answered (SMTP verb, connect, message, "
                           "auth_response, interrupted) and reply code")
                       .Register(registry);
  for (const auto& r : s.replies) {
    commands.Add({{"verb", std::string(r.verb)}, {"code", std::to_string(r.code)}})
        .Increment(static_cast<double>(r.count));
  }
  auto& rules = BuildCounter()
                    .Name("smtpmock_rule_hits_total")
                    .Help("Scenario rules that fired, by rule name")
                    .Register(registry);
  for (const auto& [name, count] : s.rule_hits)
    rules.Add({{"rule", name}}).Increment(static_cast<double>(count));
  auto& findings = BuildCounter()
                       .Name("smtpmock_client_findings_total")
                       .Help("Findings about SMTP clients (RFC departures), by code and severity")
                       .Register(registry);
  for (const auto& f : s.findings) {
    findings.Add({{"code", std::string(f.code)}, {"severity", std::string(f.severity)}})
        .Increment(static_cast<double>(f.count));
  }

  const Histogram::BucketBoundaries bounds(store::metrics::duration_buckets.begin(),
                                           store::metrics::duration_buckets.end());
  std::vector<double> increments;
  for (auto n : s.duration_counts)
    increments.push_back(static_cast<double>(n));
  BuildHistogram()
      .Name("smtpmock_session_duration_seconds")
      .Help("SMTP session duration from accept to close")
      .Register(registry)
      .Add({}, bounds)
      .ObserveMultiple(increments, s.duration_sum);

  return TextSerializer().Serialize(registry.Collect());
}

}  // namespace smtpmock::http
