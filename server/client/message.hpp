// The message `smtpmock send` sends, built as swaks 20201014 builds it: its default DATA
// template (or --data) with %TOKENS% replaced, --header replacing a header of the same name,
// --add-header adding one, --body at %BODY%, and with --attach/--attach-body a MIME message
// (mime_build.hpp). Pure string work once the arguments are read; reading them (a file, "@FILE",
// "-" for stdin) is read_argument's. Line ends are the core's business (encode_message_data
// makes them CRLF and dot-stuffs), so the result may mix "\n" and "\r\n".
#pragma once

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "client/mime_build.hpp"

namespace smtpmock::client {

/// What composes a message (every argument already read).
struct message_spec {
  std::string from;  ///< %FROM_ADDRESS%: the envelope sender ("" for the null sender)
  std::string to;    ///< %TO_ADDRESS%: the --to arguments as typed, joined by ","
  std::vector<std::string> headers;      ///< --header "Name: value": replaces, else adds
  std::vector<std::string> add_headers;  ///< --add-header: always added
  std::optional<std::string> body;       ///< --body; default "This is a test mailing"
  std::optional<std::string> data;       ///< --data: the template instead of swaks' default
  /// --attach-body parts (the body: first, stacked into multipart/alternative) and --attach
  /// parts; either makes the message MIME.
  std::vector<mime_part> body_parts;
  std::vector<mime_part> attachments;
  bool no_data_fixup = false;          ///< --no-data-fixup: --data exactly as given
  bool no_strip_from = false;          ///< --no-strip-from: keep a leading mbox "From " line
  std::string hostname = "localhost";  ///< for %MESSAGEID%
  std::string version = "0";           ///< %SWAKS_VERSION%: smtpmock's version
  std::time_t now = 0;                 ///< for %DATE% and %MESSAGEID%; 0: the current time
  long pid = 0;                        ///< for %MESSAGEID% and the MIME boundaries; 0: getpid()
};

/// The message for transaction `index` of a run (the Message-Id differs per message).
std::string compose_message(const message_spec& spec, std::size_t index);

/// How an option reads its argument (swaks' "From-File").
enum class argument_kind {
  data,  ///< --data: "-", "@FILE", "@@text"; a value without a line break must be a file
  text,  ///< --body, --attach, --attach-body: "-", "@FILE", "@@text", an existing file, or text
};

/// An argument after read_argument.
struct read_result {
  std::string content;
  /// The file it came from, for an attachment's name (swaks: the last path component of the
  /// argument as typed, so "@dir/a.txt" is "a.txt"); empty for stdin and literal text.
  std::string file_name;
};

/// Reads standard input once; every "-" argument gets the same content (as in swaks).
class stdin_cache {
 public:
  const std::string& get();

 private:
  std::optional<std::string> text_;
};

/// Reads an argument as swaks does; nullopt and `error` set when a named file cannot be read.
std::optional<read_result> read_argument(const std::string& arg, argument_kind kind,
                                         stdin_cache& in, std::string& error);

/// The local host name (for EHLO and the default sender), "localhost" when unknown.
std::string local_hostname();

/// The default sender's local part as swaks finds it: $LOGNAME, else (or with
/// `force_getpwuid`) the user name of getpwuid(getuid()); "smtpmock" when neither is known.
std::string local_user(bool force_getpwuid);

}  // namespace smtpmock::client
