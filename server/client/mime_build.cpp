// swaks' MIME structure built with GMime; see mime_build.hpp. Each GObject is owned by a small
// holder, so nothing leaks on any path. GMime is initialised once per process.
// swaks (encode_mime_part): text/plain without a name is sent as is; any other part is base64,
// a named one with `name=` on Content-Type, Content-Description and an attachment disposition
// with `filename=`; an unnamed one with `Content-Disposition: attachment` unless it is a text/*
// body part.
#include "client/mime_build.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "mime/gmime_support.hpp"

namespace smtpmock::client {
namespace {

using mime::init_gmime;
using mime::ref;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// `type` without parameters, lower-cased ("text/plain").
std::string bare_type(const std::string& type) {
  std::string t = type.substr(0, type.find(';'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
    t.pop_back();
  return lower(t);
}

/// One leaf part as swaks encodes it; `body_part`: a part of the message body (--attach-body).
GMimeObject* make_part(const mime_part& p, bool body_part) {
  ref<GMimeContentType> type(g_mime_content_type_parse(nullptr, p.type.c_str()));
  GMimePart* part = g_mime_part_new();
  g_mime_object_set_content_type(GMIME_OBJECT(part), type.get());
  ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(p.content.data(), p.content.size()));
  ref<GMimeDataWrapper> content(
      g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, content.get());
  // swaks tests the type as typed (m|^text/plain$|i): "text/plain; charset=utf-8" is base64.
  if (lower(p.type) == "text/plain" && p.name.empty()) return GMIME_OBJECT(part);
  const std::string bare = bare_type(p.type);
  if (!p.name.empty()) {
    g_mime_part_set_content_description(part, p.name.c_str());
    g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_ATTACHMENT);
    g_mime_part_set_filename(part, p.name.c_str());  // also name= on Content-Type
  } else if (!(bare.starts_with("text/") && body_part)) {
    g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_ATTACHMENT);
  }
  g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
  return GMIME_OBJECT(part);
}

void add(GMimeMultipart* to, GMimeObject* part) {
  g_mime_multipart_add(to, part);
  g_object_unref(part);  // the multipart holds its own reference
}

std::string boundary(int n, long pid) {
  return "----=_MIME_BOUNDARY_00" + std::to_string(n) + "_" + std::to_string(pid);
}

}  // namespace

mime_body build_mime_body(const std::vector<mime_part>& bodies,
                          const std::vector<mime_part>& attachments, long pid) {
  init_gmime();
  // swaks: body parts alone are multipart/alternative when there are several; with
  // attachments, several body parts go into a nested multipart/alternative.
  const bool alternative = attachments.empty() && bodies.size() > 1;
  const std::string top_boundary = boundary(0, pid);
  ref<GMimeMultipart> top(g_mime_multipart_new_with_subtype(alternative ? "alternative" : "mixed"));
  g_mime_multipart_set_boundary(top.get(), top_boundary.c_str());
  if (!attachments.empty() && bodies.size() > 1) {
    GMimeMultipart* alt = g_mime_multipart_new_with_subtype("alternative");
    g_mime_multipart_set_boundary(alt, boundary(4, pid).c_str());
    for (const auto& b : bodies)
      add(alt, make_part(b, true));
    add(top.get(), GMIME_OBJECT(alt));
  } else {
    for (const auto& b : bodies)
      add(top.get(), make_part(b, true));
  }
  for (const auto& a : attachments)
    add(top.get(), make_part(a, false));

  ref<GMimeStream> out(g_mime_stream_mem_new());
  g_mime_object_write_content_to_stream(GMIME_OBJECT(top.get()), nullptr, out.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  mime_body result;
  result.content_type = std::string("multipart/") + (alternative ? "alternative" : "mixed") +
                        "; boundary=\"" + top_boundary + "\"";
  result.body.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
  return result;
}

}  // namespace smtpmock::client
