// MIME parsing of captured messages for the HTTP API (the only component that includes GMime):
// addresses with display names, RFC 2047 subjects, text and HTML bodies (decoded to UTF-8),
// attachments with sizes and checksums, a snippet, and MailHog's part tree.
// Pure functions of the message bytes: no I/O, no shared state besides GMime's one-time init.
// Never throws for bad input: whatever GMime cannot parse comes out empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpmock::http {

/// A mailbox from a header: "Alice <alice@example.com>" -> {"Alice", "alice@example.com"}.
struct mail_address {
  std::string name;
  std::string address;
};

/// An attachment or inline part, as Mailpit describes it.
struct attachment_info {
  std::string part_id;  ///< "2", "2.1": the path of the part in the MIME tree (1-based)
  std::string file_name;
  std::string content_type;
  std::string content_id;
  std::size_t size = 0;  ///< decoded octets
  std::string md5, sha1, sha256;
};

/// Everything the Mailpit views need from one message.
struct parsed_message {
  std::vector<std::pair<std::string, std::string>> headers;  ///< in order, unfolded raw values
  std::optional<mail_address> from;
  std::vector<mail_address> to, cc, bcc, reply_to;
  std::string subject;  ///< RFC 2047 decoded
  std::string message_id;
  std::string return_path;
  std::optional<std::int64_t> date_ms;  ///< the Date header, as Unix milliseconds
  std::string text;                     ///< the first text/plain body, UTF-8
  std::string html;                     ///< the first text/html body, UTF-8
  std::vector<attachment_info> attachments;
  std::vector<attachment_info> inlines;
  std::string snippet;  ///< up to 250 characters of the text (or the HTML's text)
  std::string list_unsubscribe, list_unsubscribe_post;
};

/// Parses an RFC 5322 message.
parsed_message parse_message(std::string_view raw);

/// One part for MailHog's `Content` / `MIME.Parts` shapes: headers, the body as transmitted
/// (still transfer-encoded) and, for a multipart, its parts.
struct mime_node {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<mime_node> parts;
  bool multipart = false;
};

/// The message as MailHog shows it: top-level headers and body, and the part tree.
mime_node parse_tree(std::string_view raw);

/// A part's decoded content and type, by Mailpit part id; nullopt when there is no such part.
struct part_content {
  std::string content_type;
  std::string file_name;
  std::string data;
};
std::optional<part_content> find_part(std::string_view raw, std::string_view part_id);

/// Up to `max_chars` UTF-8 characters of `text` with whitespace runs collapsed to one space,
/// with "..." appended when cut (Mailpit's snippet rule).
std::string make_snippet(std::string_view text, std::size_t max_chars = 250);

/// The text of an HTML document: tags, comments, <style> and <script> dropped, a few entities
/// decoded. Good enough for snippets and free-text search, not a renderer.
std::string html_to_text(std::string_view html);

/// A message to build (Mailpit's POST /api/v1/send). Strings are UTF-8.
struct compose_request {
  mail_address from;
  std::vector<mail_address> to, cc, reply_to;  ///< headers (Bcc makes none)
  std::string subject;
  std::string text;
  std::string html;
  struct attachment {
    std::string content;  ///< decoded bytes
    std::string file_name;
    std::string content_type;  ///< empty: guessed from the name and the bytes
    std::string content_id;    ///< set: an inline part (multipart/related with the HTML)
  };
  std::vector<attachment> attachments;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers, in order
  std::string message_id;                                    ///< without angle brackets
  std::int64_t date_unix = 0;                                ///< the Date header
};

/// The RFC 5322 message (CRLF line ends), built with GMime: text/plain, text/html or
/// multipart/alternative of both; inline parts make a multipart/related around the body, and
/// attachments a multipart/mixed around that.
std::string compose_message(const compose_request& r);

}  // namespace smtpmock::http
