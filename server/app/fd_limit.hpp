// The open-file budget: `serve` raises its soft RLIMIT_NOFILE to the hard limit at start (as Go
// and nginx do), so that 10,000 sessions need no `ulimit -n`, and derives the default
// --max-connections from what it got.
#pragma once

#include <cstddef>
#include <cstdint>

namespace smtpmock::app {

/// The soft open-file limit before and after raise_open_file_limit().
struct open_file_limit {
  std::uint64_t before = 0;
  std::uint64_t now = 0;
};

/// Descriptors kept back from SMTP sessions: the HTTP API's connections (256), listeners,
/// spool and log files.
inline constexpr std::uint64_t reserved_descriptors = 320;

/// Raises the soft RLIMIT_NOFILE to the hard limit (bounded by the kernel's fs.nr_open);
/// returns the limits; leaves it as it was when it cannot be raised.
open_file_limit raise_open_file_limit();

/// The default --max-connections for `nofile` descriptors: all but the reserved ones (half when
/// the limit is small), at least 1, at most 1,000,000.
std::size_t default_max_connections(std::uint64_t nofile);

}  // namespace smtpmock::app
