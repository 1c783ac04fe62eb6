// Thumbnails of image parts for Mailpit's GET /api/v1/message/{ID}/part/{PartID}/thumb: the image
// scaled to fill width x height and cropped in the centre (a smaller one is scaled down to fit and
// centred, never enlarged), on white, as a quality-70 JPEG — what Mailpit makes.
// Pure: bytes in, bytes out; no HTTP, no MIME. Only thumbnail.cpp includes stb.
// Untrusted bytes never crash or hang it: only PNG, JPEG and GIF are decoded, and an
// image whose header declares more than thumbnail_max_pixels is refused before its raster exists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpmock::http {

/// Mailpit's thumbnail size.
inline constexpr int thumbnail_width = 180;
inline constexpr int thumbnail_height = 120;
/// Mailpit's maxDecodedPixels: 20 MP is an 80 MB RGBA raster at most per decode.
inline constexpr std::int64_t thumbnail_max_pixels = 20'000'000;

/// An encoded image and its media type ("image/jpeg").
struct thumbnail_image {
  std::string data;
  std::string content_type;
};

/// The thumbnail of an image, or nullopt when the bytes are not a decodable image (of a supported
/// format, within thumbnail_max_pixels) or width/height are outside 1..4096.
std::optional<thumbnail_image> make_thumbnail(std::string_view image_bytes,
                                              int width = thumbnail_width,
                                              int height = thumbnail_height);

/// A white width x height JPEG: what Mailpit answers (200, image/jpeg) for a part that is not an
/// image or does not decode.
thumbnail_image blank_thumbnail(int width = thumbnail_width, int height = thumbnail_height);

/// 8-bit RGBA pixels, row-major without padding.
struct rgba_image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  ///< width * height * 4 bytes
};

/// Decodes with the same decoder, formats and limits as make_thumbnail (for tests and checks).
std::optional<rgba_image> decode_image(std::string_view image_bytes);

/// Encodes pixels as "png" or "jpeg" (for tests); empty on failure.
std::string encode_image(const rgba_image& image, std::string_view format);

}  // namespace smtpmock::http
