// Shared by the fuzz targets: splits a libFuzzer input into a few option bytes, a table of
// chunk sizes and the payload, and hands the payload out in those chunks (cycling the table),
// so one input explores both the bytes and the read boundaries a network would produce.
// No state beyond the input; a violated invariant ends the run with __builtin_trap().
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace smtpmock::fuzz {

/// Reports which invariant failed, then traps (libFuzzer saves the input as a crash).
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  __builtin_trap();
}

/// Traps with `what` unless `ok`.
inline void require(bool ok, const char* what) {
  if (!ok) fail(what);
}

/// The layout of an input: `flags` option bytes, one byte holding the chunk table's length
/// (0..7), the table (chunk sizes 1..256), then the payload.
class fuzz_input {
 public:
  fuzz_input(const std::uint8_t* data, std::size_t size, std::size_t flag_bytes)
      : bytes_(reinterpret_cast<const char*>(data), size) {
    for (std::size_t i = 0; i < flag_bytes && i < sizeof(flags_); ++i)
      flags_[i] = take_byte();
    const std::size_t n = take_byte() % 8;
    for (std::size_t i = 0; i < n; ++i)
      chunks_[chunk_count_++] = std::size_t{take_byte()} + 1;
    if (chunk_count_ == 0)
      chunks_[chunk_count_++] = std::max<std::size_t>(bytes_.size(), 1);  // one read
    payload_ = bytes_;
  }

  /// Option byte `i` (0 when the input was too short to hold it).
  std::uint8_t flag(std::size_t i) const { return i < sizeof(flags_) ? flags_[i] : 0; }
  /// The whole payload (what the chunks hand out).
  std::string_view payload() const { return payload_; }
  /// Whether chunks remain.
  bool more() const { return !bytes_.empty(); }
  /// The next chunk of the payload (empty once it is all handed out).
  std::string_view next_chunk() {
    const std::size_t n = chunks_[next_++ % chunk_count_];
    const std::string_view out = bytes_.substr(0, n);
    bytes_.remove_prefix(out.size());
    return out;
  }
  /// The next chunk size of the table, for splitting a payload the caller holds itself.
  std::size_t next_size() { return chunks_[next_++ % chunk_count_]; }

 private:
  std::uint8_t take_byte() {
    if (bytes_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return b;
  }

  std::string_view bytes_;
  std::string_view payload_;
  std::uint8_t flags_[4] = {};
  std::size_t chunks_[8] = {};
  std::size_t chunk_count_ = 0;
  std::size_t next_ = 0;
};

}  // namespace smtpmock::fuzz
