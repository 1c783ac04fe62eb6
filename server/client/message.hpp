// The message `smtpmock send` sends: swaks' default headers and body, --header additions and
// replacements, --body, or a whole message from --data (a file, "-" for stdin, or literal text).
// Pure string work, no I/O except reading the --data source; line ends are the core's business
// (encode_message_data makes them CRLF), so this file writes plain "\n".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace smtpmock::client {

/// What composes a message.
struct message_spec {
  std::string from;
  std::vector<std::string> to;
  std::vector<std::string> headers;  ///< "Name: value": replaces a header of that name, or adds
  std::optional<std::string> body;   ///< the body text; default "This is a test mailing"
  std::string data;                  ///< the whole message, already read (wins over the above)
  bool has_data = false;
  std::string hostname = "localhost";  ///< for the Message-Id
};

/// The message for transaction `index` of a run (the Message-Id differs per message).
std::string compose_message(const message_spec& spec, std::size_t index);

/// Reads --data: "-" is standard input, an existing file is read whole, anything else is the
/// message text itself with "\n" escapes turned into line ends (as swaks does). nullopt and
/// `error` set when a file cannot be read.
std::optional<std::string> read_data_argument(const std::string& arg, std::string& error);

/// The local host name (for EHLO and the default sender), "localhost" when unknown.
std::string local_hostname();

}  // namespace smtpmock::client
