// libFuzzer target: image thumbnails (http/thumbnail.hpp) from arbitrary bytes, as the API's
// GET /api/v1/message/{ID}/part/{PartID}/thumb gets them from any image part of a message.
// The whole input is the image: make_thumbnail and decode_image must never crash, leak or take
// long (run.sh's -timeout=1 and -rss_limit_mb=1024), and they must agree: an input decodes iff
// it has a thumbnail; a decoded image is within thumbnail_max_pixels with width * height * 4
// bytes; a thumbnail is a JPEG (SOI ... EOI, image/jpeg) that decodes to exactly the size asked.
// Seeds (tests/fuzz/corpus/fuzz_thumbnail/, from make_corpus.py): small PNG, GIF and JPEG files,
// one JPEG with an EXIF orientation.
//
// stb's implementation is compiled into this target from the Debian headers that libstb0 is
// built from (same snapshot, no option macros set, as its README.Debian says), so ASan, UBSan and
// the coverage instrumentation see inside the decoders too: the executable's definitions take
// precedence over libstb.so's for thumbnail.cpp's calls. Everything else links as in the server.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fuzz_input.hpp"
#include "http/thumbnail.hpp"

using namespace smtpmock;

namespace {

bool is_jpeg(std::string_view b) {
  return b.size() >= 4 && b.substr(0, 2) == "\xFF\xD8" && b.substr(b.size() - 2) == "\xFF\xD9";
}

}  // namespace

/// The pixels a PNG, GIF or JPEG header declares (0 when not found), read here rather than with
/// stbi_info_from_memory, which must not see bytes thumbnail.cpp has not checked.
double declared_pixels(std::string_view b) {
  auto u8 = [&](std::size_t at) { return std::int64_t{static_cast<unsigned char>(b[at])}; };
  if (b.size() >= 24 && b.substr(0, 4) == "\x89PNG")
    return double(u8(16) << 24 | u8(17) << 16 | u8(18) << 8 | u8(19)) *
           double(u8(20) << 24 | u8(21) << 16 | u8(22) << 8 | u8(23));
  if (b.size() >= 10 && b.substr(0, 3) == "GIF") return (u8(6) | u8(7) << 8) * (u8(8) | u8(9) << 8);
  if (b.size() >= 4 && b.substr(0, 2) == "\xFF\xD8") {
    for (std::size_t at = 2; at + 9 < b.size();) {
      if (u8(at) != 0xFF) return 0;
      const std::int64_t m = u8(at + 1);
      if (m == 0xFF) {
        ++at;
        continue;
      }
      if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
        return double(u8(at + 5) << 8 | u8(at + 6)) * double(u8(at + 7) << 8 | u8(at + 8));
      if (m == 0xDA) return 0;
      at += 2 + static_cast<std::size_t>(u8(at + 2) << 8 | u8(at + 3));
    }
  }
  return 0;
}

/// Inputs whose header declares more than this many pixels, but no more than
/// thumbnail_max_pixels, are skipped: a few dozen bytes can declare such an image (a GIF's
/// logical screen around a 4x4 frame, a 2.5 KB PNG of 20 MP) and decoding it is linear but,
/// fully instrumented and three times per input, longer than run.sh's -timeout=1 (found at
/// 12300x1024). Above thumbnail_max_pixels the refusal path is fuzzed as everything else.
constexpr std::int64_t max_fuzzed_pixels = 1'000'000;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const double pixels = declared_pixels(bytes);
  if (pixels > double(max_fuzzed_pixels) && pixels <= double(http::thumbnail_max_pixels)) return 0;
  const std::optional<http::rgba_image> image = http::decode_image(bytes);
  if (image) {
    fuzz::require(image->width > 0 && image->height > 0, "a decoded image without pixels");
    fuzz::require(
        static_cast<std::int64_t>(image->width) * image->height <= http::thumbnail_max_pixels,
        "a decoded image above thumbnail_max_pixels");
    fuzz::require(image->pixels.size() == static_cast<std::size_t>(image->width) *
                                              static_cast<std::size_t>(image->height) * 4,
                  "a decoded image whose pixels are not width * height * 4 bytes");
  }
  const std::optional<http::thumbnail_image> thumb = http::make_thumbnail(bytes);
  fuzz::require(thumb.has_value() == image.has_value(), "make_thumbnail and decode_image disagree");
  if (thumb) {
    fuzz::require(thumb->content_type == "image/jpeg" && is_jpeg(thumb->data),
                  "a thumbnail that is not a JPEG");
    const std::optional<http::rgba_image> back = http::decode_image(thumb->data);
    fuzz::require(
        back && back->width == http::thumbnail_width && back->height == http::thumbnail_height,
        "a thumbnail that does not decode to 180x120");
  }
  // Another size through the same code (a small odd one: the fit and crop arithmetic).
  const std::optional<http::thumbnail_image> small = http::make_thumbnail(bytes, 7, 3);
  fuzz::require(small.has_value() == image.has_value(), "a 7x3 thumbnail disagrees");
  return 0;
}
