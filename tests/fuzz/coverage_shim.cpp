// Edge coverage for libFuzzer from gcc's -fsanitize-coverage=trace-pc: the project does not
// compile with Debian's clang 14 (C++20 gaps: lambdas capturing structured bindings, asio's
// coroutines, std::optional of a nested struct with member initialisers), so the code under test
// is built with gcc and driven by clang's libFuzzer runtime. gcc calls __sanitizer_cov_trace_pc
// in every basic block; this hashes the caller's address with the previous block's into a table
// of 8-bit counters registered with libFuzzer (AFL's edge idea), which treats it like clang's
// inline 8-bit counters. gcc's -fsanitize-coverage=trace-cmp callbacks are libFuzzer's own.
// This file itself is never instrumented (it would call itself).
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(std::uint8_t* start, std::uint8_t* stop);

namespace {

constexpr std::size_t table_size = std::size_t{1} << 16;  // a power of two
alignas(64) std::uint8_t counters[table_size];
thread_local std::uintptr_t previous = 0;

__attribute__((constructor, no_sanitize_coverage)) void register_counters() {
  __sanitizer_cov_8bit_counters_init(counters, counters + table_size);
}

}  // namespace

extern "C" __attribute__((no_sanitize_coverage, no_sanitize("address", "undefined"))) void
__sanitizer_cov_trace_pc() {
  const auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  const std::uintptr_t here = ((pc ^ (pc >> 15)) * 0x9e3779b97f4a7c15ULL) >> 48;
  ++counters[(here ^ previous) & (table_size - 1)];
  previous = here >> 1;  // shifted, so A->B and B->A are different edges
}

// gcc's trace-cmp also reports floating-point comparisons, which libFuzzer has no hook for.
extern "C" __attribute__((no_sanitize_coverage)) void __sanitizer_cov_trace_cmpf(float, float) {}
extern "C" __attribute__((no_sanitize_coverage)) void __sanitizer_cov_trace_cmpd(double, double) {}
