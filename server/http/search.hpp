// Mailpit's search language as a pure parser and matcher: `from:` `to:` `cc:` `bcc:`
// `reply-to:` `addressed:` `subject:` `message-id:` `session:` `is:read` `is:unread`
// `has:attachment(s)` `has:inline(s)` `after:` `before:` `larger:` `smaller:` and free text,
// each term optionally "quoted" and negated with `-` or `!`. All terms must hold (AND); text
// matching is case-insensitive substring search. A term smtpmock cannot honour (`is:flagged`,
// `tag:` while there are no tags, a bad date or size) is an error, never a silent mismatch.
// No I/O and no MIME: the caller hands over the fields of each message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpmock::http {

/// What a query can look at in one message (all text already decoded to UTF-8).
struct search_fields {
  std::string from;      ///< From header names and addresses, and the envelope MAIL FROM
  std::string to;        ///< To header names and addresses, and the envelope recipients
  std::string cc;        ///< Cc header
  std::string bcc;       ///< Bcc header and envelope recipients missing from To/Cc
  std::string reply_to;  ///< Reply-To header names and addresses
  std::string subject;
  std::string message_id;
  std::string session_id;
  std::string listener;  ///< the name of the SMTP listener it came in on, lower-cased
  std::string text;      ///< body text (text part, or the HTML's text)
  bool read = false;
  std::size_t attachments = 0;
  std::size_t inlines = 0;        ///< inline MIME parts (Mailpit's `Inline`)
  std::size_t size = 0;           ///< message size in octets
  std::int64_t received_ms = 0;   ///< when the message was received, Unix milliseconds
  std::vector<std::string> tags;  ///< the message's tags, lower-cased
};

/// One term of a query.
struct search_term {
  enum class field {
    any,
    from,
    to,
    cc,
    bcc,
    reply_to,
    addressed,  ///< from, to, cc, bcc or reply_to
    subject,
    message_id,
    session,
    is_read,
    is_unread,
    is_tagged,  ///< has a tag
    tag,        ///< has the tag `value` (case-insensitive, whole name)
    listener,   ///< came in on the listener named `value` (case-insensitive, whole name)
    has_attachment,
    has_inline,
    after,    ///< received at or after `number` (Unix ms)
    before,   ///< received at or before `number` (Unix ms)
    larger,   ///< size over `number` octets
    smaller,  ///< size under `number` octets
  };
  field on = field::any;
  std::string value;        ///< lower-cased
  std::int64_t number = 0;  ///< the time or size of after/before/larger/smaller
  bool negated = false;
};

/// A parsed query; an empty query matches everything.
class search_query {
 public:
  /// Parses `text`; throws std::invalid_argument (with a message for the client) for a term
  /// smtpmock cannot honour, such as `is:flagged`.
  static search_query parse(std::string_view text);
  bool matches(const search_fields& m) const;
  const std::vector<search_term>& terms() const { return terms_; }

 private:
  std::vector<search_term> terms_;
};

/// ASCII-lower-cases `s` (UTF-8 bytes above 0x7f are kept as they are).
std::string ascii_lower(std::string_view s);

/// A search date as Unix milliseconds: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff]]` (or with
/// `T`), optionally followed by `Z` or `+HH:MM`/`-HH:MM` (RFC 3339); without a zone, UTC.
/// nullopt when `text` is none of these or names no real date.
std::optional<std::int64_t> parse_search_date(std::string_view text);

/// A search size in octets, Mailpit's forms: `100`, `2kb`, `4MB`, `1.5m` (k = 1024,
/// m = 1024 * 1024; case-insensitive; one space allowed before the unit). nullopt otherwise.
std::optional<std::uint64_t> parse_search_size(std::string_view text);

}  // namespace smtpmock::http
