// The largest values a scenario may give, checked by the loader at the value's file:line:column.
// A value past these is a mistake (a unit typo, a pasted number) and would overflow later:
// a duration becomes a deadline `now() + d` in nanoseconds (UBSan: idle_timeout: 2562048h made
// every session time out at once), a count becomes a buffer the session keeps.
// Must not: be read by the core or net/ as policy; they bound input, they decide nothing.
#pragma once

#include <chrono>
#include <cstddef>

namespace smtpmock::scenario::load_limits {

/// limits.idle_timeout: RFC 5321 4.5.3.2.7 asks for at least 5 minutes; a day is plenty.
inline constexpr std::chrono::milliseconds max_timeout = std::chrono::hours(24);
/// A rule's delay and drip.every: longer than any client waits (RFC 5321 4.5.3.2 timeouts are
/// minutes).
inline constexpr std::chrono::milliseconds max_delay = std::chrono::hours(24);
/// greylist.retry_after: greylisting waits minutes to hours (RFC 6647 2.2); 30 days bounds it.
inline constexpr std::chrono::milliseconds max_retry_after = std::chrono::hours(24 * 30);

/// limits.max_recipients: RFC 5321 4.5.3.1.8 asks for at least 100; each one is kept in memory.
inline constexpr std::size_t max_recipients = 100'000;
/// limits.max_message_size, the SIZE extension's value and abort_after_bytes, in octets: the
/// session holds a message in memory while it arrives.
inline constexpr std::size_t max_message_size = std::size_t{1} << 30;  // 1 GiB
/// when.rate's count: the engine keeps one timestamp per event in the window.
inline constexpr std::size_t max_rate_count = 10'000;
/// drip.bytes: more than a whole reply (RFC 5321 4.5.3.1.5: 512 octets a line) drips nothing.
inline constexpr std::size_t max_drip_bytes = 64 * 1024;

}  // namespace smtpmock::scenario::load_limits
