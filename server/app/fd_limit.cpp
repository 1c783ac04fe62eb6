// See fd_limit.hpp.
#include "app/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>

namespace smtpmock::app {
namespace {

/// The kernel's ceiling for RLIMIT_NOFILE (Linux fs.nr_open); an unlimited hard limit cannot
/// be set as the soft one past it.
std::uint64_t kernel_ceiling() {
  std::ifstream in("/proc/sys/fs/nr_open");
  std::uint64_t value = 0;
  if (in >> value && value > 0) return value;
  return 1u << 20;
}

}  // namespace

open_file_limit raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
  open_file_limit out{limit.rlim_cur, limit.rlim_cur};
  rlim_t target = limit.rlim_max;
  if (target == RLIM_INFINITY) target = kernel_ceiling();
  if (target > limit.rlim_cur) {
    rlimit raised = limit;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) out.now = target;
  }
  return out;
}

std::size_t default_max_connections(std::uint64_t nofile) {
  const std::uint64_t usable =
      nofile > 2 * reserved_descriptors ? nofile - reserved_descriptors : nofile / 2;
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(usable, 1, 1'000'000));
}

}  // namespace smtpmock::app
