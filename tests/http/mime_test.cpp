// Tests for http::parse_message and friends (GMime): addresses, RFC 2047, bodies, attachments,
// snippets, MailHog's tree, part lookup, and garbage that must not throw.
#include "http/mime.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace smtpmock::http;

namespace {

const std::string message =
    "From: =?utf-8?q?J=C3=BCrgen?= <j@x.example>\r\n"
    "To: \"Doe, Jane\" <jane@y.example>, bob@y.example\r\n"
    "Cc: team: ann@y.example, ben@y.example;\r\n"
    "Subject: =?iso-8859-1?q?Gr=FC=DFe?= und mehr\r\n"
    "Message-ID: <id-1@x.example>\r\n"
    "Date: Tue, 03 Mar 2026 12:30:00 +0100\r\n"
    "Return-Path: <bounce@x.example>\r\n"
    "Content-Type: multipart/mixed; boundary=B\r\n"
    "\r\n"
    "--B\r\n"
    "Content-Type: multipart/alternative; boundary=A\r\n"
    "\r\n"
    "--A\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "SGFsbG8gV2VsdA==\r\n"
    "--A\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>Hallo <i>Welt</i></p>\r\n"
    "--A--\r\n"
    "--B\r\n"
    "Content-Type: text/csv; name=data.csv\r\n"
    "Content-Disposition: attachment; filename=data.csv\r\n"
    "\r\n"
    "a,b\r\n"
    "--B\r\n"
    "Content-Type: image/gif\r\n"
    "Content-ID: <pic@x>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "R0lGODlh\r\n"
    "--B--\r\n";

}  // namespace

TEST_CASE("mime: headers, addresses and subject") {
  const auto p = parse_message(message);
  REQUIRE(p.from);
  CHECK(p.from->name == "Jürgen");
  CHECK(p.from->address == "j@x.example");
  REQUIRE(p.to.size() == 2);
  CHECK(p.to[0].name == "Doe, Jane");
  CHECK(p.to[1].address == "bob@y.example");
  REQUIRE(p.cc.size() == 2);  // group members, flattened
  CHECK(p.cc[1].address == "ben@y.example");
  CHECK(p.subject == "Grüße und mehr");
  CHECK(p.message_id == "id-1@x.example");
  CHECK(p.return_path == "bounce@x.example");
  REQUIRE(p.date_ms);
  CHECK(*p.date_ms == 1772537400000LL);  // 2026-03-03T11:30:00Z
  REQUIRE(p.headers.size() == 8);
  CHECK(p.headers.back().first == "Content-Type");
}

TEST_CASE("mime: bodies, attachments, inline parts and the snippet") {
  const auto p = parse_message(message);
  CHECK(p.text == "Hallo Welt");
  CHECK(p.html == "<p>Hallo <i>Welt</i></p>");
  REQUIRE(p.attachments.size() == 1);
  CHECK(p.attachments[0].file_name == "data.csv");
  CHECK(p.attachments[0].content_type == "text/csv");
  CHECK(p.attachments[0].size == 3);
  CHECK(p.attachments[0].part_id == "2");
  CHECK(p.attachments[0].md5 == "b345e1dc09f20fdefdea469f09167892");
  REQUIRE(p.inlines.size() == 1);
  CHECK(p.inlines[0].content_id == "pic@x");
  CHECK(p.inlines[0].size == 6);
  CHECK(p.snippet == "Hallo Welt");
}

TEST_CASE("mime: parts by id, and MailHog's tree") {
  auto csv = find_part(message, "2");
  REQUIRE(csv);
  CHECK(csv->data == "a,b");
  CHECK(csv->file_name == "data.csv");
  auto text = find_part(message, "1.1");
  REQUIRE(text);
  CHECK(text->data == "Hallo Welt");
  CHECK_FALSE(find_part(message, "7"));

  const auto tree = parse_tree(message);
  CHECK(tree.multipart);
  REQUIRE(tree.parts.size() == 3);
  CHECK(tree.parts[0].multipart);
  CHECK(tree.parts[0].parts.size() == 2);
  CHECK(tree.parts[1].body.find("a,b") == 0);
  CHECK(tree.body.rfind("--B\r\n", 0) == 0);
}

TEST_CASE("mime: a message without MIME structure, and garbage") {
  const auto p = parse_message("Subject: plain\r\n\r\nJust   text\r\nhere.\r\n");
  CHECK(p.subject == "plain");
  CHECK(p.text == "Just   text\r\nhere.\r\n");
  CHECK(p.snippet == "Just text here.");
  CHECK_FALSE(p.from);

  for (const char* junk : {"", "\r\n\r\n", "no colon at all",
                           "Content-Type: multipart/mixed\r\n\r\n--", "\xff\xfe\x00garbage"}) {
    CHECK_NOTHROW(parse_message(junk));
    CHECK_NOTHROW(parse_tree(junk));
    CHECK_NOTHROW(find_part(junk, "1"));
  }
}

TEST_CASE("mime: snippets and HTML text") {
  CHECK(make_snippet("  a \r\n\t b  ") == "a b");
  CHECK(make_snippet(std::string(300, 'x')) == std::string(250, 'x') + "...");
  CHECK(make_snippet("ééé", 2) == "éé...");
  CHECK(html_to_text("<style>p{}</style><p>Fish &amp; chips&#33;</p><!-- x -->") ==
        "  Fish & chips! ");
  CHECK(html_to_text("<script>alert(1)</script>ok") == " ok");
  CHECK(html_to_text("&#x41;&unknown;") == "A&unknown;");
}
