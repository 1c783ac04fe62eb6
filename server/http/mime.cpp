// MIME parsing with GMime; see mime.hpp. Every GObject is owned by a small RAII holder, so an
// early return never leaks. GMime is initialised once per process (g_mime_init is not
// reentrant); after that, parsing separate messages on separate threads is safe.
// Part ids are paths in the MIME tree: the parts of the top-level multipart are "1", "2", ...,
// their children "2.1", "2.2"; a message that is a single part has the part "1".
#include "http/mime.hpp"

#include <gmime/gmime.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "mime/gmime_support.hpp"

namespace smtpmock::http {
namespace {

using mime::gstring;
using mime::init_gmime;
using mime::ref;

std::string str(const char* s) {
  return s ? std::string(s) : std::string();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return std::string(s);
}

/// RFC 5322 2.2.3: unfolding removes the CRLF before folding white space.
std::string unfold(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return trim(out);
}

/// The header section of `raw` as transmitted: in order, unfolded (RFC 5322 2.2.3), values
/// trimmed. GMime would move the Content-* headers to the MIME part; this keeps them all.
std::vector<std::pair<std::string, std::string>> raw_headers(std::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    auto end = raw.find('\n', pos);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) break;  // the end of the header section
    if ((line.front() == ' ' || line.front() == '\t') && !out.empty()) {
      out.back().second += ' ';
      out.back().second += trim(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    out.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return out;
}

/// The message parsed from memory; null when GMime finds no message at all.
GMimeMessage* parse(std::string_view raw) {
  init_gmime();
  ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  return g_mime_parser_construct_message(parser.get(), nullptr);
}

std::vector<std::pair<std::string, std::string>> headers_of(GMimeObject* obj) {
  std::vector<std::pair<std::string, std::string>> out;
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  if (!list) return out;
  const int n = g_mime_header_list_get_count(list);
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    if (!h) continue;
    out.emplace_back(str(g_mime_header_get_name(h)), unfold(str(g_mime_header_get_raw_value(h))));
  }
  return out;
}

void add_addresses(InternetAddressList* list, std::vector<mail_address>& out) {
  if (!list) return;
  const int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      out.push_back({str(internet_address_get_name(ia)),
                     str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)))});
    } else if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      add_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out);
    }
  }
}

std::string bytes_of(GMimeStream* stream) {
  GByteArray* array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
  if (!array || array->len == 0) return {};
  return std::string(reinterpret_cast<const char*>(array->data), array->len);
}

/// A leaf part's content with its transfer encoding undone (charset untouched).
std::string decoded(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return {};
  ref<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, mem.get());
  return bytes_of(mem.get());
}

/// An embedded message (message/rfc822) as bytes.
std::string serialised(GMimeObject* obj) {
  ref<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(obj, nullptr, mem.get());
  return bytes_of(mem.get());
}

std::string hex_digest(const std::string& data, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) return {};
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(digits[out[i] >> 4]);
    hex.push_back(digits[out[i] & 0xf]);
  }
  return hex;
}

std::string mime_type_of(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (!ct) return "text/plain";
  gstring s(g_mime_content_type_get_mime_type(ct));
  return lower(s.str());
}

attachment_info describe(GMimeObject* obj, const std::string& part_id, const std::string& data) {
  attachment_info a;
  a.part_id = part_id;
  a.content_type = mime_type_of(obj);
  a.content_id = str(g_mime_object_get_content_id(obj));
  if (GMIME_IS_PART(obj)) a.file_name = str(g_mime_part_get_filename(GMIME_PART(obj)));
  if (a.file_name.empty())
    a.file_name = str(g_mime_object_get_content_disposition_parameter(obj, "filename"));
  a.size = data.size();
  a.md5 = hex_digest(data, EVP_md5());
  a.sha1 = hex_digest(data, EVP_sha1());
  a.sha256 = hex_digest(data, EVP_sha256());
  return a;
}

/// Visits every leaf (and embedded message) with its part id.
template <typename Visit>
void walk(GMimeObject* obj, const std::string& id, Visit&& visit) {
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    const int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) {
      const std::string child =
          id.empty() ? std::to_string(i + 1) : id + "." + std::to_string(i + 1);
      walk(g_mime_multipart_get_part(mp, i), child, visit);
    }
    return;
  }
  visit(obj, id.empty() ? std::string("1") : id);
}

void collect_parts(GMimeMessage* msg, parsed_message& out) {
  GMimeObject* root = g_mime_message_get_mime_part(msg);
  if (!root) return;
  walk(root, "", [&](GMimeObject* obj, const std::string& id) {
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      const std::string data = inner ? serialised(GMIME_OBJECT(inner)) : std::string();
      out.attachments.push_back(describe(obj, id, data));
      return;
    }
    if (!GMIME_IS_PART(obj)) return;
    GMimePart* part = GMIME_PART(obj);
    const std::string disposition = lower(str(g_mime_object_get_disposition(obj)));
    const std::string type = mime_type_of(obj);
    const bool named = g_mime_part_get_filename(part) != nullptr;
    const bool has_cid = g_mime_object_get_content_id(obj) != nullptr;
    if (disposition != "attachment" && !named && GMIME_IS_TEXT_PART(obj)) {
      std::string* slot = type == "text/html"    ? &out.html
                          : type == "text/plain" ? &out.text
                                                 : nullptr;
      if (slot && slot->empty()) {
        gstring text(g_mime_text_part_get_text(GMIME_TEXT_PART(obj)));
        *slot = text.str();
        return;
      }
      if (slot) return;  // a further alternative of a body already found
    }
    const std::string data = decoded(part);
    // enmime's (so Mailpit's) split: "attachment" is an attachment; "inline" or a Content-ID
    // (a part an HTML body refers to) is inline; anything else that is not a body is attached.
    if (disposition != "attachment" && (disposition == "inline" || has_cid)) {
      out.inlines.push_back(describe(obj, id, data));
    } else {
      out.attachments.push_back(describe(obj, id, data));
    }
  });
}

/// Appends one code point as UTF-8.
void append_utf8(std::string& out, unsigned long cp) {
  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool starts_with_ci(std::string_view s, std::size_t pos, std::string_view prefix) {
  if (s.size() - pos < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[pos + i])) != prefix[i]) return false;
  }
  return true;
}

/// Converts a node of the tree; `body` is given for the top level (the raw text after the
/// header section), else the part's content as written by GMime.
mime_node node_of(GMimeObject* obj, GMimeFormatOptions* format) {
  mime_node n;
  n.headers = headers_of(obj);
  ref<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_object_write_content_to_stream(obj, format, mem.get());
  n.body = bytes_of(mem.get());
  if (GMIME_IS_MULTIPART(obj)) {
    n.multipart = true;
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    const int count = g_mime_multipart_get_count(mp);
    for (int i = 0; i < count; ++i)
      n.parts.push_back(node_of(g_mime_multipart_get_part(mp, i), format));
  }
  return n;
}

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  std::size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      if (html.compare(i, 4, "<!--") == 0) {
        const auto end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      for (std::string_view skip : {"script", "style"}) {
        if (starts_with_ci(html, i + 1, skip)) {
          const std::string close = "</" + std::string(skip);
          std::size_t j = i + 1;
          while (j < html.size() && !starts_with_ci(html, j, close))
            ++j;
          i = j;
          break;
        }
      }
      const auto end = html.find('>', i);
      i = end == std::string_view::npos ? html.size() : end + 1;
      out.push_back(' ');
      continue;
    }
    if (c == '&') {
      const auto end = html.find(';', i);
      if (end != std::string_view::npos && end - i <= 10) {
        const std::string_view entity = html.substr(i + 1, end - i - 1);
        bool known = true;
        if (entity == "amp") {
          out.push_back('&');
        } else if (entity == "lt") {
          out.push_back('<');
        } else if (entity == "gt") {
          out.push_back('>');
        } else if (entity == "quot") {
          out.push_back('"');
        } else if (entity == "apos") {
          out.push_back('\'');
        } else if (entity == "nbsp") {
          out.push_back(' ');
        } else if (!entity.empty() && entity[0] == '#') {
          const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
          const std::string digits(entity.substr(hex ? 2 : 1));
          char* stop = nullptr;
          const unsigned long cp = std::strtoul(digits.c_str(), &stop, hex ? 16 : 10);
          known = !digits.empty() && stop && *stop == '\0';
          if (known) append_utf8(out, cp);
        } else {
          known = false;
        }
        if (known) {
          i = end + 1;
          continue;
        }
      }
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

std::string make_snippet(std::string_view text, std::size_t max_chars) {
  std::string out;
  std::size_t chars = 0;
  bool space = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      space = !out.empty();
      ++i;
      continue;
    }
    if (chars >= max_chars) {
      out += "...";
      return out;
    }
    if (space) {
      out.push_back(' ');
      space = false;
      if (++chars >= max_chars) {
        out.pop_back();
        out += "...";
        return out;
      }
    }
    std::size_t len = 1;
    if (c >= 0xf0) {
      len = 4;
    } else if (c >= 0xe0) {
      len = 3;
    } else if (c >= 0xc0) {
      len = 2;
    }
    out.append(text.substr(i, len));
    i += len;
    ++chars;
  }
  return out;
}

parsed_message parse_message(std::string_view raw) {
  parsed_message out;
  ref<GMimeMessage> msg(parse(raw));
  if (!msg) return out;
  out.headers = raw_headers(raw);

  std::vector<mail_address> from;
  add_addresses(g_mime_message_get_from(msg.get()), from);
  if (!from.empty()) out.from = from.front();
  add_addresses(g_mime_message_get_to(msg.get()), out.to);
  add_addresses(g_mime_message_get_cc(msg.get()), out.cc);
  add_addresses(g_mime_message_get_bcc(msg.get()), out.bcc);
  add_addresses(g_mime_message_get_reply_to(msg.get()), out.reply_to);
  out.subject = trim(str(g_mime_message_get_subject(msg.get())));
  out.message_id = str(g_mime_message_get_message_id(msg.get()));
  if (GDateTime* date = g_mime_message_get_date(msg.get())) {
    out.date_ms = static_cast<std::int64_t>(g_date_time_to_unix(date)) * 1000 +
                  g_date_time_get_microsecond(date) / 1000;
  }
  for (const auto& [name, value] : out.headers) {
    const std::string key = lower(name);
    if (key == "return-path" && out.return_path.empty()) {
      std::string v = trim(value);
      if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
      out.return_path = v;
    } else if (key == "list-unsubscribe" && out.list_unsubscribe.empty()) {
      out.list_unsubscribe = value;
    } else if (key == "list-unsubscribe-post" && out.list_unsubscribe_post.empty()) {
      out.list_unsubscribe_post = value;
    }
  }
  collect_parts(msg.get(), out);
  out.snippet = make_snippet(out.text.empty() ? html_to_text(out.html) : out.text);
  return out;
}

mime_node parse_tree(std::string_view raw) {
  mime_node top;
  ref<GMimeMessage> msg(parse(raw));
  // The top level as transmitted: MailHog splits the raw message at the first empty line.
  auto split = raw.find("\r\n\r\n");
  std::size_t skip = 4;
  if (split == std::string_view::npos) {
    split = raw.find("\n\n");
    skip = 2;
  }
  top.body =
      split == std::string_view::npos ? std::string() : std::string(raw.substr(split + skip));
  if (!msg) return top;
  top.headers = raw_headers(raw);
  GMimeObject* root = g_mime_message_get_mime_part(msg.get());
  if (root && GMIME_IS_MULTIPART(root)) {
    GMimeFormatOptions* format = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
    mime_node tree = node_of(root, format);
    g_mime_format_options_free(format);
    top.multipart = true;
    top.parts = std::move(tree.parts);
  }
  return top;
}

std::optional<part_content> find_part(std::string_view raw, std::string_view part_id) {
  ref<GMimeMessage> msg(parse(raw));
  if (!msg) return std::nullopt;
  GMimeObject* root = g_mime_message_get_mime_part(msg.get());
  if (!root) return std::nullopt;
  std::optional<part_content> found;
  walk(root, "", [&](GMimeObject* obj, const std::string& id) {
    if (found || id != part_id) return;
    part_content p;
    p.content_type = mime_type_of(obj);
    if (GMIME_IS_PART(obj)) {
      p.file_name = str(g_mime_part_get_filename(GMIME_PART(obj)));
      p.data = decoded(GMIME_PART(obj));
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      if (inner) p.data = serialised(GMIME_OBJECT(inner));
    }
    found = std::move(p);
  });
  return found;
}

namespace {

/// A leaf part holding `bytes`, base64 unless it is text that fits 7bit or quoted-printable.
GMimePart* leaf_part(const std::string& type, std::string_view bytes) {
  GMimeContentType* ct = g_mime_content_type_parse(nullptr, type.c_str());
  GMimePart* part = g_mime_part_new_with_type(g_mime_content_type_get_media_type(ct),
                                              g_mime_content_type_get_media_subtype(ct));
  g_mime_object_set_content_type(GMIME_OBJECT(part), ct);
  g_object_unref(ct);
  ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  ref<GMimeDataWrapper> content(
      g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, content.get());
  return part;
}

GMimeObject* text_part(const char* subtype, const std::string& text) {
  GMimeTextPart* part = g_mime_text_part_new_with_subtype(subtype);
  g_mime_text_part_set_text(part, text.c_str());  // sets charset=utf-8 when not ASCII
  if (!g_mime_text_part_get_charset(part)) g_mime_text_part_set_charset(part, "utf-8");
  g_mime_part_set_content_encoding(
      GMIME_PART(part),
      g_mime_part_get_best_content_encoding(GMIME_PART(part), GMIME_ENCODING_CONSTRAINT_7BIT));
  return GMIME_OBJECT(part);
}

/// `type` as given, else what GLib's content-type database guesses from the name and bytes.
std::string attachment_type(const compose_request::attachment& a) {
  if (!a.content_type.empty()) return a.content_type;
  gboolean uncertain = FALSE;
  gstring guessed(g_content_type_guess(a.file_name.empty() ? nullptr : a.file_name.c_str(),
                                       reinterpret_cast<const guchar*>(a.content.data()),
                                       a.content.size(), &uncertain));
  gstring mime(guessed.p ? g_content_type_get_mime_type(guessed.p) : nullptr);
  const std::string out = mime.str();
  return out.empty() ? "application/octet-stream" : out;
}

GMimeObject* attachment_part(const compose_request::attachment& a, bool inline_part) {
  GMimePart* part = leaf_part(attachment_type(a), a.content);
  g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
  g_mime_object_set_disposition(GMIME_OBJECT(part), inline_part ? "inline" : "attachment");
  if (!a.file_name.empty()) g_mime_part_set_filename(part, a.file_name.c_str());
  if (inline_part) g_mime_object_set_content_id(GMIME_OBJECT(part), a.content_id.c_str());
  return GMIME_OBJECT(part);
}

/// `first` and `rest` under a new multipart/`subtype` (takes the references).
GMimeObject* wrap(const char* subtype, GMimeObject* first, const std::vector<GMimeObject*>& rest) {
  if (rest.empty()) return first;
  GMimeMultipart* mp = g_mime_multipart_new_with_subtype(subtype);
  for (GMimeObject* o : {first}) {
    g_mime_multipart_add(mp, o);
    g_object_unref(o);
  }
  for (GMimeObject* o : rest) {
    g_mime_multipart_add(mp, o);
    g_object_unref(o);
  }
  return GMIME_OBJECT(mp);
}

}  // namespace

std::string compose_message(const compose_request& r) {
  init_gmime();
  ref<GMimeMessage> msg(g_mime_message_new(TRUE));
  g_mime_message_add_mailbox(msg.get(), GMIME_ADDRESS_TYPE_FROM, r.from.name.c_str(),
                             r.from.address.c_str());
  for (auto [type, list] :
       {std::pair{GMIME_ADDRESS_TYPE_TO, &r.to}, std::pair{GMIME_ADDRESS_TYPE_CC, &r.cc},
        std::pair{GMIME_ADDRESS_TYPE_REPLY_TO, &r.reply_to}}) {
    for (const auto& a : *list)
      g_mime_message_add_mailbox(msg.get(), type, a.name.c_str(), a.address.c_str());
  }
  g_mime_message_set_subject(msg.get(), r.subject.c_str(), "utf-8");
  GDateTime* date = g_date_time_new_from_unix_utc(r.date_unix);
  g_mime_message_set_date(msg.get(), date);
  g_date_time_unref(date);
  if (!r.message_id.empty()) g_mime_message_set_message_id(msg.get(), r.message_id.c_str());
  for (const auto& [name, value] : r.headers)
    g_mime_object_append_header(GMIME_OBJECT(msg.get()), name.c_str(), value.c_str(), "utf-8");

  GMimeObject* body = text_part("plain", r.text);
  if (!r.html.empty()) body = wrap("alternative", body, {text_part("html", r.html)});
  std::vector<GMimeObject*> inlines, attachments;
  for (const auto& a : r.attachments) {
    if (a.content_id.empty()) {
      attachments.push_back(attachment_part(a, false));
    } else {
      inlines.push_back(attachment_part(a, true));
    }
  }
  body = wrap("related", body, inlines);
  body = wrap("mixed", body, attachments);
  g_mime_message_set_mime_part(msg.get(), body);
  g_object_unref(body);

  GMimeFormatOptions* format = g_mime_format_options_clone(nullptr);
  g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
  gstring text(g_mime_object_to_string(GMIME_OBJECT(msg.get()), format));
  g_mime_format_options_free(format);
  return text.str();
}

}  // namespace smtpmock::http
