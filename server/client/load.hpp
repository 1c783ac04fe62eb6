// `smtpmock send --count N --concurrency C [--per-connection M]`: a load run. N messages over
// ceil(N/M) connections, C at a time, on one thread; a progress bar on stderr when it is a
// terminal; then a summary (messages/s, latency percentiles per stage, reply-code histogram,
// failures by stage) on stdout, or --json. Exit 0 when every message was accepted.
#pragma once

#include <cstddef>
#include <vector>

#include "client/send.hpp"

namespace smtpmock::client {

/// Runs the load described by `s` (s.count > 0); returns the process exit code.
int run_load(const send_settings& s);

/// The nearest-rank percentile `p` (0..100) of `sorted` (ascending); 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

}  // namespace smtpmock::client
