// Why gdk-pixbuf (libgdk-pixbuf-2.0-0) and not libgd or libvips, Debian bookworm's three choices:
// - footprint, measured on bookworm-slim with the runtime image's packages and dpkg excludes:
//   gdk-pixbuf adds 12 packages, +60 MB (glib is already there through GMime; most of it is
//   libicu72, through libxml2, through shared-mime-info, a hard dependency we cannot drop),
//   libgd3 33 packages, +64 MB (libheif with its AV1/HEVC codecs, libavif, fontconfig, libXpm),
//   libvips42 93 packages (ImageMagick, poppler, OpenEXR ...).
// - API: a push loader whose "size-prepared" signal reports the header's dimensions before any
//   raster is allocated (answering 0x0 there makes the loader stop, the documented convention of
//   GdkPixbufModuleSizeFunc), loaders picked by name so only formats we allow ever parse our
//   bytes, one composite call that scales, crops, centres and blends alpha onto white, EXIF
//   orientation applied, and a JPEG encoder with a quality option.
#include "http/thumbnail.hpp"

#include <gdk-pixbuf/gdk-pixbuf.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace smtpmock::http {
namespace {

/// Mailpit's jpeg.Options{Quality: 70}.
constexpr const char* jpeg_quality = "70";
/// Bytes handed to the loader per write, so a refusal in "size-prepared" stops feeding it early.
constexpr std::size_t write_chunk = 64 * 1024;
/// A sane bound on the requested thumbnail size (Mailpit's is fixed at 180x120).
constexpr int max_thumbnail_side = 4096;

struct gobject_unref {
  void operator()(void* p) const { g_object_unref(p); }
};
using pixbuf_ptr = std::unique_ptr<GdkPixbuf, gobject_unref>;
using loader_ptr = std::unique_ptr<GdkPixbufLoader, gobject_unref>;

/// The gdk-pixbuf loader for the format the signature names, or nullptr for anything else: the
/// ICO/ANI/TGA/XPM/... loaders (and any SVG loader installed on the host) never see our bytes.
/// NOTE(compat): Mailpit's Go decoders (kovidgoyal/imaging) read more formats, BMP and TIFF among
/// them; gdk-pixbuf's BMP and TIFF loaders return a partial image for a truncated file without an
/// error, so those formats get the blank thumbnail here.
const char* loader_type(std::string_view b) {
  auto starts = [&](std::string_view sig) { return b.substr(0, sig.size()) == sig; };
  using namespace std::string_view_literals;
  if (starts("\x89PNG\r\n\x1a\n"sv)) return "png";
  if (starts("\xff\xd8\xff"sv)) return "jpeg";
  if (starts("GIF87a"sv) || starts("GIF89a"sv)) return "gif";
  return nullptr;
}

std::size_t be16(std::string_view b, std::size_t at) {
  return (std::size_t(static_cast<unsigned char>(b[at])) << 8) |
         static_cast<unsigned char>(b[at + 1]);
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

/// Whether a JPEG's marker segments, skipped length by length (APPn may hold an EXIF thumbnail
/// with its own markers), reach a start of scan that an end-of-image marker follows.
bool jpeg_complete(std::string_view b) {
  std::size_t at = 2;  // after SOI
  while (at + 1 < b.size()) {
    if (static_cast<unsigned char>(b[at]) != 0xFF) return false;
    const unsigned char marker = static_cast<unsigned char>(b[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xDA) return b.find("\xFF\xD9", at + 2) != std::string_view::npos;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
      at += 2;
      continue;
    }
    if (b.size() - at < 4) return false;
    at += 2 + be16(b, at + 2);
  }
  return false;
}

/// NOTE(compat): libpng and libjpeg decode what a truncated file holds (a PNG without IEND, a
/// JPEG cut in its scan, the rest grey) and gdk-pixbuf reports success; Mailpit's Go decoders
/// refuse both with io.ErrUnexpectedEOF (and answer the blank thumbnail), so we refuse them too.
bool complete(std::string_view b, std::string_view type) {
  if (type == "png") return png_complete(b);
  if (type == "jpeg") return jpeg_complete(b);
  return true;  // the GIF loader fails on a truncated file itself
}

struct size_check {
  bool refused = false;
};

/// "size-prepared": the header's dimensions, before the loader allocates the raster.
void on_size_prepared(GdkPixbufLoader* loader, gint width, gint height, gpointer user) {
  auto* check = static_cast<size_check*>(user);
  if (width <= 0 || height <= 0 ||
      static_cast<std::int64_t>(width) * static_cast<std::int64_t>(height) > thumbnail_max_pixels) {
    check->refused = true;
    gdk_pixbuf_loader_set_size(loader, 0, 0);  // 0x0: the loader stops without allocating
  }
}

/// Decoded, EXIF-oriented, 8-bit RGB(A); nullptr for anything else, truncated images included.
pixbuf_ptr decode(std::string_view bytes) {
  const char* type = loader_type(bytes);
  if (type == nullptr || !complete(bytes, type)) return nullptr;
  GError* error = nullptr;
  loader_ptr loader{gdk_pixbuf_loader_new_with_type(type, &error)};
  if (!loader) {  // the module is not installed
    g_clear_error(&error);
    return nullptr;
  }
  size_check check;
  g_signal_connect(loader.get(), "size-prepared", G_CALLBACK(on_size_prepared), &check);

  bool ok = true;
  for (std::size_t at = 0; ok && !check.refused && at < bytes.size(); at += write_chunk) {
    const std::size_t n = std::min(write_chunk, bytes.size() - at);
    ok = gdk_pixbuf_loader_write(loader.get(), reinterpret_cast<const guchar*>(bytes.data() + at),
                                 n, &error) != FALSE;
    g_clear_error(&error);
  }
  // Always closed (a loader finalised unclosed warns); a truncated image fails here, and is
  // refused even when the loader has a partial raster: Mailpit's Go decoders refuse it too.
  ok = gdk_pixbuf_loader_close(loader.get(), &error) != FALSE && ok && !check.refused;
  g_clear_error(&error);
  if (!ok) return nullptr;

  GdkPixbuf* decoded = gdk_pixbuf_loader_get_pixbuf(loader.get());  // owned by the loader
  if (decoded == nullptr) return nullptr;
  // A new reference, rotated/flipped by the EXIF orientation tag when there is one (Mailpit's
  // imaging.AutoOrientation(true)).
  pixbuf_ptr image{gdk_pixbuf_apply_embedded_orientation(decoded)};
  if (!image || gdk_pixbuf_get_colorspace(image.get()) != GDK_COLORSPACE_RGB ||
      gdk_pixbuf_get_bits_per_sample(image.get()) != 8 || gdk_pixbuf_get_width(image.get()) <= 0 ||
      gdk_pixbuf_get_height(image.get()) <= 0)
    return nullptr;
  return image;
}

pixbuf_ptr white_canvas(int width, int height) {
  pixbuf_ptr canvas{gdk_pixbuf_new(GDK_COLORSPACE_RGB, FALSE, 8, width, height)};
  if (canvas) gdk_pixbuf_fill(canvas.get(), 0xffffffffu);
  return canvas;
}

std::string save(GdkPixbuf* pixbuf, const char* format) {
  gchar* buffer = nullptr;
  gsize size = 0;
  GError* error = nullptr;
  gboolean saved = std::strcmp(format, "jpeg") == 0
                       ? gdk_pixbuf_save_to_buffer(pixbuf, &buffer, &size, format, &error,
                                                   "quality", jpeg_quality, nullptr)
                       : gdk_pixbuf_save_to_buffer(pixbuf, &buffer, &size, format, &error, nullptr);
  g_clear_error(&error);
  std::string out;
  if (saved != FALSE && buffer != nullptr) out.assign(buffer, size);
  g_free(buffer);
  return out;
}

bool valid_size(int width, int height) {
  return width >= 1 && height >= 1 && width <= max_thumbnail_side && height <= max_thumbnail_side;
}

}  // namespace

std::optional<thumbnail_image> make_thumbnail(std::string_view image_bytes, int width, int height) {
  if (!valid_size(width, height)) return std::nullopt;
  pixbuf_ptr src = decode(image_bytes);
  if (!src) return std::nullopt;
  pixbuf_ptr dst = white_canvas(width, height);
  if (!dst) return std::nullopt;

  const int sw = gdk_pixbuf_get_width(src.get());
  const int sh = gdk_pixbuf_get_height(src.get());
  // Mailpit: an image narrower or lower than the thumbnail is fitted (imaging.Fit: scaled down
  // only if it is larger in the other direction, never enlarged) and centred on white; any other
  // is filled (scaled to cover, the overflow cropped evenly from both sides: imaging.Center).
  int x = 0, y = 0, w = width, h = height;  // the area of dst the image covers
  double scale_x, scale_y, offset_x, offset_y;
  if (sw < width || sh < height) {
    w = sw;
    h = sh;
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
    x = width / 2 - w / 2;  // imaging.OverlayCenter
    y = height / 2 - h / 2;
    scale_x = static_cast<double>(w) / sw;
    scale_y = static_cast<double>(h) / sh;
    offset_x = x;
    offset_y = y;
  } else {
    const double scale =
        std::max(static_cast<double>(width) / sw, static_cast<double>(height) / sh);
    scale_x = scale_y = scale;
    offset_x = (width - sw * scale) / 2;
    offset_y = (height - sh * scale) / 2;
  }
  // Blends the source's alpha over the white canvas (transparent GIF/PNG become white, not black).
  // BILINEAR: in gdk-pixbuf it averages every covered source pixel when shrinking (HYPER is
  // deprecated as no better); Mailpit uses Lanczos.
  gdk_pixbuf_composite(src.get(), dst.get(), x, y, w, h, offset_x, offset_y, scale_x, scale_y,
                       GDK_INTERP_BILINEAR, 255);
  std::string jpeg = save(dst.get(), "jpeg");
  if (jpeg.empty()) return std::nullopt;
  return thumbnail_image{std::move(jpeg), "image/jpeg"};
}

thumbnail_image blank_thumbnail(int width, int height) {
  if (!valid_size(width, height)) {
    width = thumbnail_width;
    height = thumbnail_height;
  }
  pixbuf_ptr canvas = white_canvas(width, height);
  return thumbnail_image{canvas ? save(canvas.get(), "jpeg") : std::string{}, "image/jpeg"};
}

std::optional<rgba_image> decode_image(std::string_view image_bytes) {
  pixbuf_ptr image = decode(image_bytes);
  if (!image) return std::nullopt;
  // Always four channels, whatever the source had.
  pixbuf_ptr rgba{gdk_pixbuf_add_alpha(image.get(), FALSE, 0, 0, 0)};
  if (!rgba) return std::nullopt;
  rgba_image out;
  out.width = gdk_pixbuf_get_width(rgba.get());
  out.height = gdk_pixbuf_get_height(rgba.get());
  const int stride = gdk_pixbuf_get_rowstride(rgba.get());
  const guint8* pixels = gdk_pixbuf_read_pixels(rgba.get());
  const std::size_t row = static_cast<std::size_t>(out.width) * 4;
  out.pixels.resize(row * static_cast<std::size_t>(out.height));
  for (int r = 0; r < out.height; ++r)
    std::memcpy(out.pixels.data() + row * r, pixels + static_cast<std::size_t>(stride) * r, row);
  return out;
}

std::string encode_image(const rgba_image& image, std::string_view format) {
  if (format != "png" && format != "jpeg") return {};
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 4)
    return {};
  // JPEG has no alpha channel: its encoder takes an opaque copy (the alpha bytes dropped).
  if (format == "jpeg") {
    pixbuf_ptr opaque{gdk_pixbuf_new(GDK_COLORSPACE_RGB, FALSE, 8, image.width, image.height)};
    if (!opaque) return {};
    const int opaque_stride = gdk_pixbuf_get_rowstride(opaque.get());
    guint8* out = gdk_pixbuf_get_pixels(opaque.get());
    const std::size_t row = static_cast<std::size_t>(image.width) * 4;
    for (int r = 0; r < image.height; ++r)
      for (int c = 0; c < image.width; ++c)
        std::memcpy(out + static_cast<std::size_t>(opaque_stride) * r + c * 3,
                    image.pixels.data() + row * r + c * 4, 3);
    return save(opaque.get(), "jpeg");
  }
  pixbuf_ptr pixbuf{gdk_pixbuf_new(GDK_COLORSPACE_RGB, TRUE, 8, image.width, image.height)};
  if (!pixbuf) return {};
  const int stride = gdk_pixbuf_get_rowstride(pixbuf.get());
  guint8* pixels = gdk_pixbuf_get_pixels(pixbuf.get());
  const std::size_t row = static_cast<std::size_t>(image.width) * 4;
  for (int r = 0; r < image.height; ++r)
    std::memcpy(pixels + static_cast<std::size_t>(stride) * r, image.pixels.data() + row * r, row);
  return save(pixbuf.get(), std::string(format).c_str());
}

}  // namespace smtpmock::http
