// The MIME body of `smtpmock send --attach/--attach-body`, built with GMime (only
// mime_build.cpp includes it) in the shape swaks 20201014 gives it: multipart/mixed, or
// multipart/alternative for body parts alone, a nested multipart/alternative when several body
// parts come with attachments; text/plain without a name as is, every other part base64 with
// swaks' Content-Disposition and Content-Description. Pure: no files, no clock.
#pragma once

#include <string>
#include <vector>

namespace smtpmock::client {

/// One part: its content (bytes as read), MIME type and file name (empty: none).
struct mime_part {
  std::string content;
  std::string type = "application/octet-stream";
  std::string name;
};

/// What the message's headers and body become.
struct mime_body {
  std::string content_type;  ///< the value of the top Content-Type header, boundary included
  std::string body;          ///< from the first boundary line to the closing one, "\n" line ends
};

/// Builds the body of a message with `bodies` first (at least one) and then `attachments`;
/// `pid` goes into swaks' boundaries ("----=_MIME_BOUNDARY_000_<pid>").
mime_body build_mime_body(const std::vector<mime_part>& bodies,
                          const std::vector<mime_part>& attachments, long pid);

}  // namespace smtpmock::client
