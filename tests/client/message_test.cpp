// compose_message and read_argument: swaks 20201014's DATA, tokens, headers and MIME parts.
#include "client/message.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

using namespace smtpmock::client;

namespace {

message_spec spec() {
  message_spec m;
  m.from = "a@x.example";
  m.to = "b@y.example,c@y.example";
  m.hostname = "host.example";
  m.version = "9.9";
  m.now = 1700000000;  // a fixed time: %DATE% and %MESSAGEID% follow it
  m.pid = 4242;
  return m;
}

/// The header block of `message` (up to the first blank line).
std::string headers_of(const std::string& message) {
  return message.substr(0, message.find("\r\n\r\n") + 2);
}

std::string body_of(const std::string& message) {
  return message.substr(message.find("\r\n\r\n") + 4);
}

/// `text` with every CRLF made LF (the core makes every line end CRLF anyway).
std::string lf(std::string text) {
  for (std::size_t at = 0; (at = text.find("\r\n", at)) != std::string::npos;)
    text.erase(at, 1);
  return text;
}

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
  auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace

TEST_CASE("unit: message: swaks' default template with its tokens") {
  const std::string m = compose_message(spec(), 0);
  const std::string h = headers_of(m);
  CHECK(h.starts_with("Date: "));
  CHECK(h.find("\r\nTo: b@y.example,c@y.example\r\n") != std::string::npos);
  CHECK(h.find("\r\nFrom: a@x.example\r\n") != std::string::npos);
  CHECK(h.find("\r\nSubject: test ") != std::string::npos);
  CHECK(h.find("\r\nMessage-Id: <") != std::string::npos);
  CHECK(h.find(".004242@host.example>\r\n") != std::string::npos);
  CHECK(h.find("\r\nX-Mailer: smtpmock send v9.9 (swaks-compatible)\r\n") != std::string::npos);
  CHECK(h.find('%') == std::string::npos);
  // swaks ends its default body with two empty lines: its %NEW_HEADERS% line, emptied, and the
  // CRLF it writes before the final dot.
  CHECK(body_of(m) == "This is a test mailing\r\n\r\n\r\n");
  // The Date and the Subject carry the same swaks date: "Tue, 14 Nov 2023 22:13:20 +0000".
  const std::size_t date = h.find("Date: ") + 6;
  const std::string when = h.substr(date, h.find("\r\n") - date);
  CHECK(when.size() >= 26);
  CHECK(h.find("Subject: test " + when + "\r\n") != std::string::npos);
  // Each message of a load run has its own Message-Id.
  CHECK(compose_message(spec(), 3).find(".004242.3@host.example>") != std::string::npos);
}

TEST_CASE("unit: message: --header replaces, --add-header adds, \\n splits and makes lines") {
  auto s = spec();
  s.headers = {"Subject: hi %FROM_ADDRESS%", "X-New: 1\\nX-Two: 2"};
  s.add_headers = {"Subject: second"};
  s.body = "line1\\nline2%NEWLINE%line3";
  const std::string m = compose_message(s, 0);
  const std::string h = headers_of(m);
  CHECK(h.find("\r\nSubject: hi a@x.example\r\n") != std::string::npos);
  CHECK(h.find("Subject: test") == std::string::npos);
  // --add-header's come first, then --header's new ones, at %NEW_HEADERS%.
  CHECK(h.ends_with("(swaks-compatible)\r\nSubject: second\r\nX-New: 1\r\nX-Two: 2\r\n"));
  CHECK(body_of(m) == "line1\r\nline2\r\nline3\r\n\r\n\r\n");
  // swaks matches header names exactly (its hash lookup): "subject:" is a new header.
  s.headers = {"subject: lower"};
  s.add_headers.clear();
  const std::string lower = headers_of(compose_message(s, 0));
  CHECK(lower.find("Subject: test") != std::string::npos);
  CHECK(lower.find("\r\nsubject: lower\r\n") != std::string::npos);
}

TEST_CASE("unit: message: --data is the template; tokens, headers and %BODY% apply") {
  auto s = spec();
  s.data = "From me Mon Jan  1\nSubject: %TO_ADDRESS%\nX-Id: %MESSAGEID%\n\n%BODY%\n.\n";
  s.body = "the body";
  s.headers = {"X-Id: replaced", "X-Added: yes"};
  const std::string m = compose_message(s, 0);
  // The mbox "From " line is stripped, a final "." line dropped (the core adds the end).
  CHECK(m ==
        "Subject: b@y.example,c@y.example\r\nX-Id: replaced\r\nX-Added: yes\r\n\r\n"
        "the body\r\n");
  s.no_data_fixup = true;  // as given, but for the final "." line (the core frames the data)
  CHECK(compose_message(s, 0) == s.data->substr(0, s.data->size() - 3));
}

TEST_CASE("unit: message: --attach makes multipart/mixed as swaks does") {
  auto s = spec();
  s.body = "the body";
  s.attachments = {{"hello\n", "application/octet-stream", "a.txt"}, {"<b>x</b>", "text/html", ""}};
  const std::string m = compose_message(s, 0);
  const std::string h = headers_of(m);
  CHECK(h.find("\r\nMIME-Version: 1.0\r\n") != std::string::npos);
  CHECK(
      h.find("\r\nContent-Type: multipart/mixed; boundary=\"----=_MIME_BOUNDARY_000_4242\"\r\n") !=
      std::string::npos);
  const std::string b = lf(body_of(m));
  CHECK(b.starts_with("------=_MIME_BOUNDARY_000_4242\n"));
  CHECK(b.find("Content-Type: text/plain\n\nthe body\n") != std::string::npos);
  CHECK(b.find("Content-Type: application/octet-stream; name=a.txt") != std::string::npos);
  CHECK(b.find("Content-Description: a.txt\n") != std::string::npos);
  CHECK(b.find("Content-Disposition: attachment; filename=a.txt\n") != std::string::npos);
  CHECK(b.find("aGVsbG8K") != std::string::npos);  // base64 of "hello\n"
  CHECK(b.find("Content-Type: text/html\nContent-Disposition: attachment\n"
               "Content-Transfer-Encoding: base64\n\nPGI+eDwvYj4=") != std::string::npos);
  CHECK(b.find("------=_MIME_BOUNDARY_000_4242--") != std::string::npos);
}

TEST_CASE("unit: message: --attach-body parts come first; several are multipart/alternative") {
  auto s = spec();
  s.body_parts = {{"plain", "text/plain", ""}, {"<p>html</p>", "text/html", ""}};
  std::string m = lf(compose_message(s, 0));
  CHECK(m.find("Content-Type: multipart/alternative; boundary=\"----=_MIME_BOUNDARY_"
               "000_4242\"") != std::string::npos);
  // A text/* body part gets no Content-Disposition; a non-plain one is base64.
  CHECK(m.find("Content-Type: text/html\nContent-Transfer-Encoding: base64\n") !=
        std::string::npos);
  CHECK(m.find("This is a test mailing") == std::string::npos);

  s.attachments = {{"x", "application/octet-stream", ""}};
  m = lf(compose_message(s, 0));
  CHECK(m.find("Content-Type: multipart/mixed") != std::string::npos);
  CHECK(m.find("Content-Type: multipart/alternative; boundary=\"----=_MIME_BOUNDARY_004_4242\"") !=
        std::string::npos);
}

TEST_CASE("unit: message: read_argument follows swaks' From-File rules") {
  stdin_cache in;
  std::string error;
  const auto path = temp_file("smtpmock-message-test.txt", "file text\n");
  const std::string p = path.string();
  auto r = read_argument("@" + p, argument_kind::text, in, error);
  REQUIRE(r);
  CHECK(r->content == "file text\n");
  CHECK(r->file_name == "smtpmock-message-test.txt");
  r = read_argument(p, argument_kind::text, in, error);  // swaks' deprecated guess: a file
  REQUIRE(r);
  CHECK(r->content == "file text\n");
  r = read_argument("@@literal", argument_kind::text, in, error);
  REQUIRE(r);
  CHECK(r->content == "@literal");
  CHECK(r->file_name.empty());
  r = read_argument("just text", argument_kind::text, in, error);
  REQUIRE(r);
  CHECK(r->content == "just text");
  CHECK_FALSE(read_argument("@/nonexistent/file", argument_kind::text, in, error));
  CHECK(error.find("/nonexistent/file") != std::string::npos);
  // --data: one line is a file name and must open; with a line break it is the text.
  CHECK_FALSE(read_argument("Subject: x", argument_kind::data, in, error));
  r = read_argument("Subject: x\\n\\nbody", argument_kind::data, in, error);
  REQUIRE(r);
  CHECK(r->content == "Subject: x\\n\\nbody");
  r = read_argument(p, argument_kind::data, in, error);
  REQUIRE(r);
  CHECK(r->content == "file text\n");
  std::filesystem::remove(path);
}
