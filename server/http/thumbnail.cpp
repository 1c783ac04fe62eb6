// Why stb (Debian's libstb0: stb_image, stb_image_resize and stb_image_write in one 0.5 MB shared
// library that depends on libc6 only): the thumbnail needs a PNG/JPEG/GIF decoder that tells the
// dimensions before decoding (stbi_info_from_memory) and a JPEG encoder with a quality setting;
// the shrinking is done here (see shrink()). gdk-pixbuf, used before, did all of it but its runtime
// package added 60 MB to the image (12 packages, mostly libicu72 through libxml2 through
// shared-mime-info); libgd3 would add 64 MB, libvips42 93 packages.
//
// Thread safety (make_thumbnail is called from several I/O threads at once): stb keeps a few
// process-wide settings (stbi_set_flip_vertically_on_load, stbi_set_unpremultiply_on_load,
// stbi_convert_iphone_png_to_rgb, stbi_flip_vertically_on_write, stbi_write_png_compression_level,
// stbi_write_force_png_filter, stbi_write_tga_with_rle): this file never sets any of them, so they
// keep their defaults and are only read. stbi_failure_reason() is thread-local in Debian's build
// (STBI_THREAD_LOCAL), but nothing here relies on it: every failure is a null return. The
// encoders keep no state between calls.
#include "http/thumbnail.hpp"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <new>

namespace smtpmock::http {
namespace {

/// Mailpit's jpeg.Options{Quality: 70}.
constexpr int jpeg_quality = 70;
/// A sane bound on the requested thumbnail size (Mailpit's is fixed at 180x120).
constexpr int max_thumbnail_side = 4096;

struct stbi_free {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};
using stbi_pixels = std::unique_ptr<unsigned char, stbi_free>;

enum class format { png, jpeg, gif };

/// The format the signature names, or nullopt for anything else: stb_image also reads BMP, PSD,
/// TGA, HDR, PIC and PNM, and would try them all in turn, so only bytes with one of these three
/// signatures are ever given to it. stb picks a decoder by its signature test and returns that
/// decoder's answer, and the signature-less TGA (tried last, by stbi_info too) refuses these first
/// bytes, so the bytes reach this format's decoder and no other.
/// NOTE(compat): Mailpit's Go decoders (kovidgoyal/imaging) read more formats, BMP and TIFF among
/// them; stb has no TIFF decoder and its BMP decoder returns a partial image for a truncated
/// file without an error (checked), so those formats get the blank thumbnail here (as before).
std::optional<format> sniff(std::string_view b) {
  auto starts = [&](std::string_view sig) { return b.substr(0, sig.size()) == sig; };
  using namespace std::string_view_literals;
  if (starts("\x89PNG\r\n\x1a\n"sv)) return format::png;
  if (starts("\xff\xd8\xff"sv)) return format::jpeg;
  if (starts("GIF87a"sv) || starts("GIF89a"sv)) return format::gif;
  return std::nullopt;
}

std::size_t byte(std::string_view b, std::size_t at) {
  return static_cast<unsigned char>(b[at]);
}

std::size_t be16(std::string_view b, std::size_t at) {
  return (byte(b, at) << 8) | byte(b, at + 1);
}

std::size_t be32(std::string_view b, std::size_t at) {
  return (be16(b, at) << 16) | be16(b, at + 2);
}

/// Whether a PNG's chunks run, length by length, to an IEND chunk.
bool png_complete(std::string_view b) {
  for (std::size_t at = 8; b.size() - at >= 12;) {
    const std::size_t length = be32(b, at);
    if (b.substr(at + 4, 4) == "IEND") return true;
    if (length > b.size() - at - 12) return false;
    at += 12 + length;
  }
  return false;
}

/// Where the first start-of-scan marker's segment begins, skipping the marker segments before it
/// length by length (APPn may hold an EXIF thumbnail with its own markers); npos when the
/// segments are malformed or end first.
std::size_t jpeg_scan_start(std::string_view b) {
  std::size_t at = 2;  // after SOI
  while (at + 1 < b.size()) {
    if (byte(b, at) != 0xFF) return std::string_view::npos;
    const std::size_t marker = byte(b, at + 1);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xDA) return at;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
      at += 2;
      continue;
    }
    if (b.size() - at < 4) return std::string_view::npos;
    at += 2 + be16(b, at + 2);
  }
  return std::string_view::npos;
}

/// Whether a DHT segment whose length field is at `at` defines only tables of at most 256 codes,
/// read as stb reads them (bytes past the end read as zero).
/// stb (Debian's 2022-09 snapshot) writes a table's code sizes and values into arrays of 257 and
/// 256 entries without checking the 16 counts' sum (up to 4080): a heap buffer overflow that
/// fuzz_thumbnail found in 13 executions (tests/http/thumbnail_test.cpp has the input).
bool dht_ok(std::string_view b, std::size_t at) {
  auto get = [&](std::size_t p) { return p < b.size() ? byte(b, p) : std::size_t{0}; };
  long remaining = static_cast<long>((get(at) << 8) | get(at + 1)) - 2;
  std::size_t p = at + 2;
  while (remaining > 0) {
    std::size_t codes = 0;
    for (std::size_t i = 0; i < 16; ++i)
      codes += get(p + 1 + i);
    if (codes > 256) return false;
    p += 17 + codes;
    remaining -= static_cast<long>(17 + codes);
    if (p > b.size()) return true;  // stb reads zeros from here: empty tables
  }
  return true;
}

/// Whether a JPEG's marker segments reach a start of scan that an end-of-image marker follows,
/// and every Huffman table stb could read is within its arrays: the DHT segments before the
/// first scan (where stb walks the segments as jpeg_scan_start does), and after it every FF C4
/// (stb finds markers in and after entropy-coded data by their FF; in a valid file an FF there
/// is followed by 00 or RSTn, so only real DHT markers are checked).
bool jpeg_complete(std::string_view b) {
  const std::size_t scan = jpeg_scan_start(b);
  if (scan == std::string_view::npos || b.find("\xFF\xD9", scan + 2) == std::string_view::npos)
    return false;
  for (std::size_t at = 2; at < scan;) {
    const std::size_t marker = byte(b, at + 1);
    if (marker == 0xFF) {
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      at += 2;
      continue;
    }
    if (marker == 0xC4 && !dht_ok(b, at + 2)) return false;
    at += 2 + be16(b, at + 2);
  }
  for (std::size_t at = b.find("\xFF\xC4", scan); at != std::string_view::npos;
       at = b.find("\xFF\xC4", at + 1))
    if (!dht_ok(b, at + 2)) return false;
  return true;
}

/// Whether a GIF's blocks, skipped sub-block by sub-block, reach the end of the first image's
/// data (its zero-length block terminator): what Go's image/gif reads before it returns.
bool gif_complete(std::string_view b) {
  if (b.size() < 13) return false;
  std::size_t at = 13;
  auto colour_table = [&](std::size_t packed) {
    if (packed & 0x80) at += 3 * (std::size_t{2} << (packed & 0x07));
  };
  auto sub_blocks = [&] {  // data sub-blocks up to and including the terminator
    while (at < b.size()) {
      const std::size_t n = byte(b, at);
      ++at;
      if (n == 0) return true;
      at += n;
    }
    return false;
  };
  colour_table(byte(b, 10));
  while (at < b.size()) {
    const std::size_t block = byte(b, at);
    if (block == 0x21) {  // extension: label, then sub-blocks
      at += 2;
      if (!sub_blocks()) return false;
    } else if (block == 0x2C) {  // image descriptor, local colour table, LZW code size, data
      if (b.size() - at < 10) return false;
      const std::size_t packed = byte(b, at + 9);
      at += 10;
      colour_table(packed);
      ++at;  // LZW minimum code size
      return sub_blocks();
    } else {
      return false;  // the trailer (0x3B) before any image, or garbage
    }
  }
  return false;
}

/// NOTE(compat): stb_image decodes what a truncated JPEG or GIF holds (the rest of a JPEG scan
/// zero, a GIF's missing pixels transparent) and reports success; Mailpit's Go decoders refuse
/// them with io.ErrUnexpectedEOF (and answer the blank thumbnail), so we refuse them too. stb
/// refuses a PNG without IEND itself; the check is kept so that never depends on it.
bool complete(std::string_view b, format f) {
  switch (f) {
    case format::png:
      return png_complete(b);
    case format::jpeg:
      return jpeg_complete(b);
    case format::gif:
      return gif_complete(b);
  }
  return false;
}

/// The EXIF Orientation (1..8) of a JPEG's first APP1 "Exif" segment, 1 when there is none or it
/// is out of range. Every offset is checked against the segment: the bytes are untrusted.
int jpeg_orientation(std::string_view b) {
  std::size_t at = 2;
  while (at + 4 <= b.size() && byte(b, at) == 0xFF) {
    const std::size_t marker = byte(b, at + 1);
    if (marker == 0xDA || marker == 0xD9) break;
    if (marker == 0xFF) {
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      at += 2;
      continue;
    }
    const std::size_t length = be16(b, at + 2);
    if (length < 2 || length > b.size() - at - 2) break;
    const std::string_view segment = b.substr(at + 4, length - 2);
    at += 2 + length;
    if (marker != 0xE1 || segment.substr(0, 6) != std::string_view("Exif\0\0", 6)) continue;

    const std::string_view tiff = segment.substr(6);
    if (tiff.size() < 8) return 1;
    const bool big = tiff.substr(0, 4) == std::string_view("MM\0*", 4);
    if (!big && tiff.substr(0, 4) != std::string_view("II*\0", 4)) return 1;
    auto u16 = [&](std::size_t p) {
      return big ? be16(tiff, p) : byte(tiff, p) | byte(tiff, p + 1) << 8;
    };
    auto u32 = [&](std::size_t p) {
      return big ? (u16(p) << 16) | u16(p + 2) : u16(p) | u16(p + 2) << 16;
    };
    const std::size_t ifd = u32(4);
    if (ifd > tiff.size() || tiff.size() - ifd < 2) return 1;
    const std::size_t entries = u16(ifd);
    for (std::size_t i = 0; i < entries; ++i) {
      const std::size_t entry = ifd + 2 + 12 * i;
      if (entry > tiff.size() || tiff.size() - entry < 12) return 1;
      if (u16(entry) != 0x0112) continue;
      // SHORT, one value, held in the first two bytes of the value field.
      if (u16(entry + 2) != 3 || u32(entry + 4) != 1) return 1;
      const std::size_t value = u16(entry + 8);
      return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
    }
    return 1;  // the first EXIF segment decides, as in gdk-pixbuf and Go's imaging
  }
  return 1;
}

/// The image as shown: the stored one rotated/flipped as an EXIF Orientation says.
rgba_image oriented(rgba_image in, int orientation) {
  if (orientation <= 1 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;
  rgba_image out{swap ? h : w, swap ? w : h, std::vector<std::uint8_t>(in.pixels.size())};
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;  // the stored pixel shown at (x, y)
      // clang-format off
      // 2: mirrored horizontally, 3: rotated 180, 4: mirrored vertically, 5: transposed,
      // 6: rotated 90 clockwise, 7: transversed, 8: rotated 90 counter-clockwise.
      switch (orientation) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x, sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y, sy = x; break;
        case 6: sx = y, sy = h - 1 - x; break;
        case 7: sx = w - 1 - y, sy = h - 1 - x; break;
        case 8: sx = w - 1 - y, sy = x; break;
      }
      // clang-format on
      std::memcpy(&out.pixels[(static_cast<std::size_t>(y) * out.width + x) * 4],
                  &in.pixels[(static_cast<std::size_t>(sy) * w + sx) * 4], 4);
    }
  return out;
}

/// `jpeg` with a DHT segment right after its SOI that defines all eight Huffman tables (one
/// one-bit code each, for symbol 0). stb allocates its decoder state without clearing it, so a
/// scan that selects a table no DHT defined decodes with uninitialised tables: an index far
/// out of the table's arrays (fuzz_thumbnail found one, index 718 of 257). With every table
/// defined first, such a file decodes deterministically (to garbage pixels, as the file is
/// garbage); a file's own DHT segments replace these before any scan that uses them, so a
/// valid JPEG decodes exactly as before.
std::string with_default_huffman_tables(std::string_view jpeg) {
  constexpr std::size_t tables = 8;                // DC and AC, ids 0-3
  constexpr std::size_t length = 2 + tables * 18;  // Tc/Th, 16 counts, one value each
  std::string out;
  out.reserve(jpeg.size() + 2 + length);
  out.append(jpeg.substr(0, 2));  // SOI
  out += '\xFF';
  out += '\xC4';
  out += static_cast<char>(length >> 8);
  out += static_cast<char>(length & 0xFF);
  for (std::size_t t = 0; t < tables; ++t) {
    out += static_cast<char>(((t / 4) << 4) | (t % 4));  // Tc (0 DC, 1 AC), Th
    out += '\x01';                                       // one code of length 1...
    out.append(15, '\0');
    out += '\0';  // ...for symbol 0 (DC: difference 0; AC: end of block)
  }
  out.append(jpeg.substr(2));
  return out;
}

/// Decoded to 8-bit RGBA, EXIF-oriented; nullopt for anything else, truncated images included,
/// and for a header declaring more than thumbnail_max_pixels, which is refused from
/// stbi_info_from_memory's header parse before any raster is allocated.
std::optional<rgba_image> decode(std::string_view bytes) {
  const std::optional<format> f = sniff(bytes);
  if (!f || bytes.size() > static_cast<std::size_t>(INT_MAX) || !complete(bytes, *f))
    return std::nullopt;
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  int width = 0, height = 0, channels = 0;
  if (stbi_info_from_memory(data, size, &width, &height, &channels) == 0 || width <= 0 ||
      height <= 0 ||
      static_cast<std::int64_t>(width) * static_cast<std::int64_t>(height) > thumbnail_max_pixels)
    return std::nullopt;
  if (*f == format::jpeg) {
    // stb decodes a scan shorter than its frame as if the rest were zero, so a few hundred bytes
    // declaring 20 MP would cost a full decode (0.2 s, 80 MB). Every 8x8 block of a component
    // takes at least one bit (its DC code) in the first scan, baseline or progressive, and the
    // full-resolution component has at least half of the frame's blocks in every sampling an
    // encoder writes (4:4:4, 4:2:2, 4:2:0, 4:4:0: all of them), so scan data shorter than one
    // byte per 16 blocks is a truncated scan: refused like one, before decoding.
    // NOTE(compat): a new refusal (gdk-pixbuf decoded such a file grey); no complete JPEG is
    // that small.
    const std::size_t scan = jpeg_scan_start(bytes);
    const std::int64_t blocks =
        static_cast<std::int64_t>((width + 7) / 8) * static_cast<std::int64_t>((height + 7) / 8);
    if (static_cast<std::int64_t>(bytes.size() - scan) < blocks / 16) return std::nullopt;
  }
  std::string patched;
  if (*f == format::jpeg) {
    try {
      patched = with_default_huffman_tables(bytes);
    } catch (const std::bad_alloc&) {
      return std::nullopt;
    }
    if (patched.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  }
  const auto* pixels_from =
      patched.empty() ? data : reinterpret_cast<const stbi_uc*>(patched.data());
  const int pixels_size = patched.empty() ? size : static_cast<int>(patched.size());
  int w = 0, h = 0, n = 0;
  stbi_pixels pixels{stbi_load_from_memory(pixels_from, pixels_size, &w, &h, &n, 4)};
  if (!pixels || w != width || h != height) return std::nullopt;
  rgba_image image;
  image.width = w;
  image.height = h;
  try {
    image.pixels.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(w) * h * 4);
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
  pixels.reset();
  // Mailpit's imaging.AutoOrientation(true): only JPEGs carry EXIF here.
  if (*f == format::jpeg) return oriented(std::move(image), jpeg_orientation(bytes));
  return image;
}

/// The RGBA pixels blended over white into packed RGB, in place (the vector shrinks to 3/4).
void flatten_on_white(rgba_image& image) {
  std::uint8_t* p = image.pixels.data();
  const std::size_t count = static_cast<std::size_t>(image.width) * image.height;
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned a = p[i * 4 + 3];
    for (int c = 0; c < 3; ++c)
      p[i * 3 + c] =
          static_cast<std::uint8_t>((p[i * 4 + c] * a + 255u * (255u - a) + 127u) / 255u);
  }
  image.pixels.resize(count * 3);
}

struct jpeg_sink {
  std::string out;
  bool failed = false;
};

void append(void* context, void* data, int size) {
  auto* sink = static_cast<jpeg_sink*>(context);
  try {  // never throws through stb's C frames
    sink->out.append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    sink->failed = true;
  }
}

/// width x height pixels of `channels` (3: RGB, 4: RGBA) as PNG or a quality-70 JPEG (whose
/// encoder ignores an alpha channel); empty on failure.
std::string encode(const std::uint8_t* pixels, int width, int height, int channels, format f) {
  jpeg_sink sink;
  const int ok = f == format::jpeg ? stbi_write_jpg_to_func(append, &sink, width, height, channels,
                                                            pixels, jpeg_quality)
                                   : stbi_write_png_to_func(append, &sink, width, height, channels,
                                                            pixels, width * channels);
  if (ok == 0 || sink.failed) return {};
  return std::move(sink.out);
}

std::string white_jpeg(int width, int height) {
  const std::vector<std::uint8_t> white(static_cast<std::size_t>(width) * height * 3, 0xFF);
  return encode(white.data(), width, height, 3, format::jpeg);
}

bool valid_size(int width, int height) {
  return width >= 1 && height >= 1 && width <= max_thumbnail_side && height <= max_thumbnail_side;
}

/// One source pixel's share of one output pixel along an axis.
struct tap {
  int out;
  int src;
  float weight;
};

/// The area-average taps mapping [start, start + length) of src_n source pixels (fractional,
/// length >= out_n: only ever shrinking) onto out_n output pixels, sorted by output: each output
/// pixel averages the source pixels it covers, weighted by coverage. At most src_n + out_n taps.
std::vector<tap> area_taps(double start, double length, int out_n, int src_n) {
  std::vector<tap> taps;
  taps.reserve(static_cast<std::size_t>(std::min(length + 1, double(src_n))) + out_n + 1);
  const double step = length / out_n;
  for (int o = 0; o < out_n; ++o) {
    const double a = start + o * step, b = std::min(start + (o + 1) * step, double(src_n));
    for (int i = std::max(0, static_cast<int>(a)); i < src_n && i < b; ++i) {
      const double overlap = std::min(b, i + 1.0) - std::max(a, double(i));
      if (overlap > 0) taps.push_back({o, i, static_cast<float>(overlap / step)});
    }
  }
  return taps;
}

/// Shrinks the [x0, x0 + rw) x [y0, y0 + rh) part of src (RGB; source pixels, fractional, at
/// least w x h of them) to w x h pixels at (x, y) of dst (RGB, dst_width wide) by area
/// averaging, row by row: O(source pixels + output pixels) time and two output rows of memory
/// whatever the ratio. gdk-pixbuf's BILINEAR, used before, also averaged every covered source
/// pixel when shrinking; Mailpit uses Lanczos. (stb_image_resize is not used: its filter set-up
/// costs source width x ratio, which fuzz_thumbnail found taking seconds for a 28933x3 GIF.)
void shrink(const rgba_image& src, double x0, double y0, double rw, double rh, std::uint8_t* dst,
            int dst_width, int x, int y, int w, int h) {
  const std::vector<tap> columns = area_taps(x0, rw, w, src.width);
  const std::vector<tap> rows = area_taps(y0, rh, h, src.height);
  std::vector<float> row(static_cast<std::size_t>(w) * 3), acc(row.size());
  int cached = -1;  // the source row `row` holds
  std::size_t r = 0;
  for (int o = 0; o < h; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (; r < rows.size() && rows[r].out == o; ++r) {
      if (rows[r].src != cached) {
        cached = rows[r].src;
        std::fill(row.begin(), row.end(), 0.0f);
        const std::uint8_t* line =
            src.pixels.data() + static_cast<std::size_t>(cached) * src.width * 3;
        for (const tap& t : columns)
          for (int c = 0; c < 3; ++c)
            row[static_cast<std::size_t>(t.out) * 3 + c] +=
                line[static_cast<std::size_t>(t.src) * 3 + c] * t.weight;
      }
      for (std::size_t i = 0; i < acc.size(); ++i)
        acc[i] += row[i] * rows[r].weight;
    }
    std::uint8_t* out = dst + (static_cast<std::size_t>(y + o) * dst_width + x) * 3;
    for (std::size_t i = 0; i < acc.size(); ++i)
      out[i] = static_cast<std::uint8_t>(std::clamp(acc[i] + 0.5f, 0.0f, 255.0f));
  }
}

}  // namespace

std::optional<thumbnail_image> make_thumbnail(std::string_view image_bytes, int width, int height) {
  if (!valid_size(width, height)) return std::nullopt;
  std::optional<rgba_image> src = decode(image_bytes);
  if (!src) return std::nullopt;
  // Blends the source's alpha over white (transparent GIF/PNG become white, not black); as
  // resampling is linear, this is the same as resampling with alpha and compositing after.
  flatten_on_white(*src);
  std::vector<std::uint8_t> dst(static_cast<std::size_t>(width) * height * 3, 0xFF);

  const int sw = src->width;
  const int sh = src->height;
  // Mailpit: an image narrower or lower than the thumbnail is fitted (imaging.Fit: scaled down
  // only if it is larger in the other direction, never enlarged) and centred on white; any other
  // is filled (scaled to cover, the overflow cropped evenly from both sides: imaging.Center).
  if (sw < width || sh < height) {
    int w = sw, h = sh;
    if (sw > width || sh > height) {  // imaging.Fit's arithmetic, truncating as Go's int() does
      const double src_aspect = static_cast<double>(sw) / sh;
      if (src_aspect > static_cast<double>(width) / height) {
        w = width;
        h = std::max(1, static_cast<int>(width / src_aspect));
      } else {
        h = height;
        w = std::max(1, static_cast<int>(height * src_aspect));
      }
    }
    const int x = width / 2 - w / 2;  // imaging.OverlayCenter
    const int y = height / 2 - h / 2;
    shrink(*src, 0, 0, sw, sh, dst.data(), width, x, y, w, h);
  } else {
    // Scaled by the larger ratio (at most 1: the image covers the thumbnail), the part of the
    // source that lands on the thumbnail is centred.
    const double scale =
        std::max(static_cast<double>(width) / sw, static_cast<double>(height) / sh);
    const double rw = std::min(width / scale, double(sw)),
                 rh = std::min(height / scale, double(sh));
    shrink(*src, (sw - rw) / 2, (sh - rh) / 2, rw, rh, dst.data(), width, 0, 0, width, height);
  }
  std::string jpeg = encode(dst.data(), width, height, 3, format::jpeg);
  if (jpeg.empty()) return std::nullopt;
  return thumbnail_image{std::move(jpeg), "image/jpeg"};
}

thumbnail_image blank_thumbnail(int width, int height) {
  if (!valid_size(width, height)) {
    width = thumbnail_width;
    height = thumbnail_height;
  }
  return thumbnail_image{white_jpeg(width, height), "image/jpeg"};
}

std::optional<rgba_image> decode_image(std::string_view image_bytes) {
  return decode(image_bytes);
}

std::string encode_image(const rgba_image& image, std::string_view format_name) {
  if (format_name != "png" && format_name != "jpeg") return {};
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 4)
    return {};
  // JPEG has no alpha channel: stb's encoder drops the alpha bytes.
  return encode(image.pixels.data(), image.width, image.height, 4,
                format_name == "jpeg" ? format::jpeg : format::png);
}

}  // namespace smtpmock::http
