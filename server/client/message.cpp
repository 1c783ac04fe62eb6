// Message composition for `smtpmock send`, step by step as swaks 20201014 does it (its
// process_args, "SMTP DATA"); see message.hpp. The steps' order matters and is swaks': %BODY%
// first, then the header block is cut at the first blank line, --header replaces the last
// header of the same name (exact case, as swaks' hash lookup) or joins --add-header's list,
// %NEW_HEADERS% takes that list, and only then are "\n", %NEWLINE% and the other tokens
// replaced, in the headers and the body alike.
#include "client/message.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <system_error>

namespace smtpmock::client {
namespace {

constexpr std::string_view default_body = "This is a test mailing";

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  std::size_t at = 0;
  while ((at = text.find(what, at)) != std::string::npos) {
    text.replace(at, what.size(), with);
    at += with.size();
  }
}

/// swaks' %DATE%: RFC 5322 date-time in local time, English names ("Wed, 11 May 2011 16:19:57
/// -0400"), whatever the locale.
std::string swaks_date(std::time_t t) {
  static constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed",
                                                      "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  localtime_r(&t, &tm);
  char rest[40];
  std::strftime(rest, sizeof rest, "%Y %H:%M:%S %z", &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02d %s %s", days[static_cast<std::size_t>(tm.tm_wday)],
                tm.tm_mday, months[static_cast<std::size_t>(tm.tm_mon)], rest);
  return text;
}

/// swaks' %MESSAGEID%: "YYYYMMDDHHMMSS.PID@host" (PID six digits); message `index` > 0 of a
/// load run gets ".index" so each is unique.
std::string message_id(std::time_t t, long pid, const std::string& host, std::size_t index) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
  char id[64];
  std::snprintf(id, sizeof id, "%s.%06ld", stamp, pid);
  std::string out = id;
  if (index > 0) out += "." + std::to_string(index);
  return out + "@" + host;
}

/// Splits on literal backslash-n (swaks' split(/\\n/)); empty pieces dropped as Perl does at
/// the end.
std::vector<std::string> split_escaped_newlines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = text.find("\\n", start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 2;
  }
  while (!out.empty() && out.back().empty())
    out.pop_back();
  return out;
}

/// Splits on "\r\n" or "\n" (swaks' split(/\r?\n/)), trailing empty pieces dropped.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r' && nl != std::string::npos) line.pop_back();
    out.push_back(std::move(line));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  while (!out.empty() && out.back().empty())
    out.pop_back();
  return out;
}

/// The name of a header line as swaks' /^(\S[^:]+):/ (for the message) or /^([^:]+):/ (for
/// --header) reads it; "" when it has none.
std::string header_name(const std::string& line, bool message_side) {
  const std::size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0) return {};
  if (message_side && (colon < 2 || std::isspace(static_cast<unsigned char>(line[0])))) return {};
  return line.substr(0, colon);
}

/// `data` without a final "." line typed by the user (swaks' s/\r?\n\.\r?\n?$//); the core
/// adds its own end of data.
std::string strip_final_dot(std::string data) {
  for (std::string_view end : {"\r\n.\r\n", "\n.\r\n", "\r\n.\n", "\n.\n", "\r\n.", "\n."}) {
    if (data.ends_with(end)) {
      data.erase(data.size() - end.size());
      break;
    }
  }
  return data;
}

/// The MIME body and headers, or nothing when the message is not MIME.
std::optional<mime_body> mime_of(const message_spec& spec, long pid) {
  if (spec.body_parts.empty() && spec.attachments.empty()) return std::nullopt;
  std::vector<mime_part> bodies = spec.body_parts;
  if (bodies.empty())
    bodies.push_back({spec.body.value_or(std::string(default_body)), "text/plain", ""});
  return build_mime_body(bodies, spec.attachments, pid);
}

}  // namespace

std::string local_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string local_user(bool force_getpwuid) {
  if (!force_getpwuid) {
    const char* name = std::getenv("LOGNAME");
    if (name != nullptr && *name != '\0') return name;
  }
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr)
    return pw->pw_name;
  return "smtpmock";
}

std::string compose_message(const message_spec& spec, std::size_t index) {
  const std::time_t now = spec.now != 0 ? spec.now : std::time(nullptr);
  const long pid = spec.pid != 0 ? spec.pid : static_cast<long>(getpid());
  const auto mime = mime_of(spec, pid);
  // swaks' default DATA, its "\n" escapes included (replaced below with the user's).
  std::string data = spec.data.value_or(
      "Date: %DATE%\\nTo: %TO_ADDRESS%\\nFrom: %FROM_ADDRESS%\\nSubject: test %DATE%\\n"
      "Message-Id: <%MESSAGEID%>\n"
      "X-Mailer: smtpmock send v%SWAKS_VERSION% (swaks-compatible)\\n" +
      (mime ? "MIME-Version: 1.0\\nContent-Type: " + mime->content_type + "\\n" : std::string()) +
      "%NEW_HEADERS%\\n%BODY%\\n");
  // NOTE(compat): swaks --no-data-fixup writes the bytes as they are (the user types the final
  // "."); the core always frames the data (CRLF, dot-stuffing, the end), so a typed final "."
  // line goes and the rest is sent as given.
  if (spec.no_data_fixup) return strip_final_dot(data);

  replace_all(data, "%BODY%", mime ? mime->body : spec.body.value_or(std::string(default_body)));
  replace_all(data, "\\n", "\r\n");

  // The header block: up to the first blank line, or everything when there is none.
  std::string header_text;
  std::string rest;
  const std::size_t blank = [&] {
    for (std::size_t i = data.find('\n'); i != std::string::npos; i = data.find('\n', i + 1)) {
      std::size_t j = i + 1;
      if (j < data.size() && data[j] == '\r') ++j;
      if (j < data.size() && data[j] == '\n') return i;
    }
    return std::string::npos;
  }();
  if (blank != std::string::npos) {
    header_text = data.substr(0, blank > 0 && data[blank - 1] == '\r' ? blank - 1 : blank);
    std::size_t after = blank + 1;
    if (data[after] == '\r') ++after;
    rest = data.substr(after + 1);
  } else {
    header_text = data;
  }
  // Each header is its lines (continuations included); `last` maps a name to its last header.
  std::vector<std::vector<std::string>> headers;
  std::map<std::string, std::size_t> last;
  for (auto& line : split_lines(header_text)) {
    if (!line.empty() && std::isspace(static_cast<unsigned char>(line[0])) && !headers.empty()) {
      headers.back().push_back(line);
      continue;
    }
    std::string name = header_name(line, true);
    headers.push_back({line});
    last[name.empty() ? line : name] = headers.size() - 1;
  }
  std::vector<std::string> added = spec.add_headers;
  for (const auto& option : spec.headers) {
    for (auto& line : split_escaped_newlines(option)) {
      const std::string name = header_name(line, false);
      auto found = name.empty() ? last.end() : last.find(name);
      if (found != last.end()) {
        headers[found->second] = {line};
      } else {
        added.push_back(line);
      }
    }
  }
  std::string header_out;
  for (const auto& h : headers)
    for (const auto& line : h)
      header_out += line + "\r\n";
  if (header_out.find("%NEW_HEADERS%") != std::string::npos) {
    std::string joined;
    for (const auto& a : added)
      joined += (joined.empty() ? "" : "\r\n") + a;
    replace_all(header_out, "%NEW_HEADERS%", added.empty() ? "" : joined + "\r\n");
  } else {
    for (const auto& a : added)
      header_out += a + "\r\n";
  }
  data = header_out + "\r\n" + rest;

  replace_all(data, "\\n", "\r\n");
  replace_all(data, "%NEWLINE%", "\r\n");
  replace_all(data, "%FROM_ADDRESS%", spec.from);
  replace_all(data, "%TO_ADDRESS%", spec.to);
  replace_all(data, "%MESSAGEID%", message_id(now, pid, spec.hostname, index));
  replace_all(data, "%SWAKS_VERSION%", spec.version);
  replace_all(data, "%DATE%", swaks_date(now));
  // An mbox "From " line at the very start goes (swaks, unless --no-strip-from).
  if (!spec.no_strip_from && data.starts_with("From ")) {
    const std::size_t nl = data.find('\n');
    data.erase(0, nl == std::string::npos ? data.size() : nl + 1);
  }
  data = strip_final_dot(data);
  // swaks ends the data with "\r\n." (its own line end before the dot, so a message that ends
  // with a line end gets one empty line more); the core adds "." after this CRLF.
  return data + "\r\n";
}

const std::string& stdin_cache::get() {
  if (!text_)
    text_.emplace(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  return *text_;
}

std::optional<read_result> read_argument(const std::string& arg, argument_kind kind,
                                         stdin_cache& in, std::string& error) {
  auto read_file = [&](const std::string& path) -> std::optional<std::string> {
    std::error_code ec;
    std::ifstream f(path, std::ios::binary);
    if (!f || std::filesystem::is_directory(path, ec)) return std::nullopt;
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
  };
  // swaks names an attachment after the last path component of the argument as typed (its
  // m|/?([^/]+)$|), so "@dir/a.txt" is "a.txt".
  // NOTE(compat): and "@a.txt" (no slash) is "@a.txt", as swaks 20201014 names it.
  auto base = [](const std::string& typed) {
    const std::size_t slash = typed.rfind('/');
    return slash == std::string::npos ? typed : typed.substr(slash + 1);
  };
  if (arg == "-") return read_result{in.get(), ""};
  if (arg.starts_with("@@")) return read_result{arg.substr(1), ""};
  if (arg.starts_with("@")) {
    auto content = read_file(arg.substr(1));
    if (!content) {
      error = "cannot read " + arg.substr(1);
      return std::nullopt;
    }
    return read_result{std::move(*content), base(arg)};
  }
  // swaks' deprecated guess: a --data argument without a line break ("\n" typed, a real one or
  // %NEWLINE%) is a file name and must open; other options read a file when one opens.
  const bool one_line = arg.find("\\n") == std::string::npos &&
                        arg.find('\n') == std::string::npos &&
                        arg.find("%NEWLINE%") == std::string::npos;
  std::error_code ec;
  if (kind == argument_kind::data && one_line) {
    auto content = read_file(arg);
    if (!content) {
      error = "cannot read " + arg +
              " (a --data argument without a line break is a file name; "
              "give text with \\n in it, @FILE, or - for stdin)";
      return std::nullopt;
    }
    return read_result{std::move(*content), base(arg)};
  }
  if (kind == argument_kind::text && std::filesystem::is_regular_file(arg, ec)) {
    if (auto content = read_file(arg)) return read_result{std::move(*content), base(arg)};
  }
  return read_result{arg, ""};
}

}  // namespace smtpmock::client
