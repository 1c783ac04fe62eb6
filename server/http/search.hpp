// Mailpit's search language, the subset smtpmock understands, as a pure parser and matcher:
// `from:` `to:` `cc:` `bcc:` `subject:` `message-id:` `session:` `is:read` `is:unread`
// `has:attachment` and free text, each term optionally "quoted" and negated with `-` or `!`.
// All terms must hold (AND); matching is case-insensitive substring search.
// No I/O and no MIME: the caller hands over the fields of each message.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpmock::http {

/// What a query can look at in one message (all text already decoded to UTF-8).
struct search_fields {
  std::string from;  ///< From header names and addresses, and the envelope MAIL FROM
  std::string to;    ///< To header names and addresses, and the envelope recipients
  std::string cc;    ///< Cc header
  std::string bcc;   ///< Bcc header and envelope recipients missing from To/Cc
  std::string subject;
  std::string message_id;
  std::string session_id;
  std::string text;  ///< body text (text part, or the HTML's text)
  bool read = false;
  std::size_t attachments = 0;
};

/// One term of a query.
struct search_term {
  enum class field {
    any,
    from,
    to,
    cc,
    bcc,
    subject,
    message_id,
    session,
    is_read,
    is_unread,
    has_attachment
  };
  field on = field::any;
  std::string value;  ///< lower-cased
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

}  // namespace smtpmock::http
