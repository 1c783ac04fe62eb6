// POST /api/v1/send and the tags API (Mailpit's shapes), without sockets.
#include <doctest/doctest.h>

#include "api_fixture.hpp"
#include "http/thumbnail.hpp"
#include "smtp/base64.hpp"

using namespace api_testing;

namespace {

const char* full_send = R"({
  "From": {"Email": "alice@x.example", "Name": "Alice"},
  "To": [{"Email": "bob+news@y.example", "Name": "Bob"}],
  "Cc": [{"Email": "carol@y.example"}],
  "Bcc": ["dave@z.example"],
  "ReplyTo": [{"Email": "replies@x.example"}],
  "Subject": "Caf\u00e9 order",
  "Text": "plain body",
  "HTML": "<p>html body <img src=\"cid:logo\"></p>",
  "Tags": ["Orders", "orders", "Urgent!"],
  "Headers": {"X-Campaign": "spring"},
  "Attachments": [
    {"Content": "aGVsbG8gd29ybGQ=", "Filename": "note.txt"},
    {"Content": "data:image/png;base64,iVBORw0KGgo=", "Filename": "logo.png",
     "ContentType": "image/png", "ContentID": "logo"}
  ]
})";

}  // namespace

TEST_CASE("api: POST /api/v1/send stores the message Mailpit would build") {
  fixture f;
  auto sent = f.call("POST", "/api/v1/send", full_send);
  REQUIRE(sent.status == 200);
  CHECK(body(sent) == json{{"ID", "sent1"}});
  REQUIRE(f.store->message_count() == 1);
  const auto m = f.store->message("sent1");
  REQUIRE(m);
  CHECK(m->env.mail_from == "alice@x.example");
  REQUIRE(m->env.recipients.size() == 3);
  CHECK(m->env.recipients[2].address == "dave@z.example");
  CHECK(m->data.find("Bcc") == std::string::npos);  // Bcc is the envelope only
  CHECK(m->data.find("\r\nX-Campaign: spring\r\n") != std::string::npos);
  CHECK(m->data.find("\n") == m->data.find("\r\n") + 1);  // CRLF line ends

  auto msg = body(f.call("GET", "/api/v1/message/sent1"));
  CHECK(msg["From"] == json{{"Name", "Alice"}, {"Address", "alice@x.example"}});
  CHECK(msg["To"][0]["Address"] == "bob+news@y.example");
  CHECK(msg["Cc"][0]["Address"] == "carol@y.example");
  CHECK(msg["ReplyTo"][0]["Address"] == "replies@x.example");
  CHECK(msg["Subject"] == "Caf\u00e9 order");
  CHECK(msg["Text"] == "plain body");
  CHECK(msg["HTML"] == "<p>html body <img src=\"cid:logo\"></p>");
  CHECK(msg["MessageID"] == "sent1@smtpmock");
  REQUIRE(msg["Attachments"].size() == 1);
  CHECK(msg["Attachments"][0]["FileName"] == "note.txt");
  CHECK(msg["Attachments"][0]["ContentType"] == "text/plain");
  REQUIRE(msg["Inline"].size() == 1);
  CHECK(msg["Inline"][0]["ContentID"] == "logo");
  CHECK(msg["Inline"][0]["ContentType"] == "image/png");
  // Tags from the request (X-Tags, cleaned, case-insensitive duplicates dropped) and the
  // plus-address, sorted.
  CHECK(msg["Tags"] == json::array({"Orders", "Urgent", "news"}));
  const auto part = f.call(
      "GET", "/api/v1/message/sent1/part/" + msg["Attachments"][0]["PartID"].get<std::string>());
  CHECK(part.body == "hello world");
}

TEST_CASE("api: POST /api/v1/send refuses what Mailpit refuses and stores nothing") {
  fixture f;
  for (
      const char* bad : {
          "",
          "[]",
          R"({"To": [{"Email": "b@y.example"}]})",
          R"({"From": {"Email": "not an address"}})",
          R"({"From": {"Email": "a@x.example"}, "To": [{"Email": "nope"}]})",
          R"({"From": {"Email": "a@x.example"}, "Bcc": [{"Email": "b@y.example"}]})",
          R"({"From": {"Email": "a@x.example"}, "Headers": {"Subject": "x"}})",
          R"({"From": {"Email": "a@x.example"}, "Headers": {"x-tags": "a"}, "Tags": ["b"]})",
          R"({"From": {"Email": "a@x.example"}, "Headers": {"X-Evil": "a\r\nBcc: x@y"}})",
          R"({"From": {"Email": "a@x.example"}, "Attachments": [{"Content": "!!", "Filename": "a"}]})",
          R"({"From": {"Email": "a@x.example"}, "Colour": "red"})",
      }) {
    CAPTURE(bad);
    check_error(f.call("POST", "/api/v1/send", bad), 400);
  }
  CHECK(f.store->message_count() == 0);
  // Keys match as Go's decoder matches them; X-Tags may be set when Tags is not.
  CHECK(f.call("POST", "/api/v1/send",
               R"({"from": {"email": "a@x.example"}, "headers": {"X-Tags": "one"}})")
            .status == 200);
  CHECK(body(f.call("GET", "/api/v1/message/sent1"))["Tags"] == json::array({"one"}));
  check_error(f.call("GET", "/api/v1/send"), 405);
}

TEST_CASE("api: tags are set, listed, searched, renamed and deleted as in Mailpit") {
  fixture f;
  f.add("m1", "first", "a@y.example");
  f.add("m2", "second", "b+promo@y.example");
  CHECK(body(f.call("GET", "/api/v1/tags")) == json::array({"promo"}));
  CHECK(f.call("PUT", "/api/v1/tags", R"({"IDs": ["m1"], "Tags": ["Blue", " red  one ", "BLUE"]})")
            .body == "ok");
  CHECK(body(f.call("GET", "/api/v1/message/m1"))["Tags"] == json::array({"Blue", "red one"}));
  CHECK(body(f.call("GET", "/api/v1/tags")) == json::array({"Blue", "promo", "red one"}));
  auto list = body(f.call("GET", "/api/v1/messages"));
  CHECK(list["tags"] == json::array({"Blue", "promo", "red one"}));
  CHECK(list["messages"][1]["Tags"] == json::array({"Blue", "red one"}));
  CHECK(body(f.call("GET", "/api/v1/info"))["Tags"] ==
        json{{"Blue", 1}, {"promo", 1}, {"red one", 1}});

  // Search: tag: is a whole, case-insensitive name; is:tagged any tag.
  auto ids = [&](const std::string& q) {
    std::vector<std::string> out;
    const json found = body(f.call("GET", "/api/v1/search?query=" + q));
    for (const auto& m : found["messages"])
      out.push_back(m["ID"].get<std::string>());
    return out;
  };
  CHECK(ids("tag:blue") == std::vector<std::string>{"m1"});
  CHECK(ids("tag:%22red%20one%22") == std::vector<std::string>{"m1"});
  CHECK(ids("tag:red").empty());
  CHECK(ids("-tag:blue") == std::vector<std::string>{"m2"});
  CHECK(ids("is:tagged").size() == 2);

  // An unknown id changes nothing.
  check_error(f.call("PUT", "/api/v1/tags", R"({"IDs": ["m2", "zz"], "Tags": ["x"]})"), 404);
  CHECK(body(f.call("GET", "/api/v1/message/m2"))["Tags"] == json::array({"promo"}));
  check_error(f.call("PUT", "/api/v1/tags", R"({"IDs": "m1"})"), 400);

  // Rename and delete.
  CHECK(f.call("PUT", "/api/v1/tags/Blue", R"({"Name": "Green"})").body == "ok");
  CHECK(body(f.call("GET", "/api/v1/message/m1"))["Tags"] == json::array({"Green", "red one"}));
  check_error(f.call("PUT", "/api/v1/tags/Green", R"({"Name": "promo"})"), 400);  // exists
  check_error(f.call("PUT", "/api/v1/tags/Green", R"({"Name": "!!!"})"), 400);    // invalid
  check_error(f.call("PUT", "/api/v1/tags/nope", R"({"Name": "x"})"), 404);
  CHECK(f.call("DELETE", "/api/v1/tags/red%20one").body == "ok");
  check_error(f.call("DELETE", "/api/v1/tags/red%20one"), 404);
  CHECK(body(f.call("GET", "/api/v1/tags")) == json::array({"Green", "promo"}));
  // Empty Tags clears a message's tags.
  CHECK(f.call("PUT", "/api/v1/tags", R"({"ids": ["m1", "m2"], "tags": []})").status == 200);
  CHECK(body(f.call("GET", "/api/v1/tags")) == json::array());
  check_error(f.call("POST", "/api/v1/tags"), 405);
}

TEST_CASE("api: X-Tags and plus-addresses give a captured message its first tags") {
  fixture f;
  store::stored_message m;
  m.id = "t1";
  m.received = store::clock::now();
  m.data =
      "From: Shop <shop+billing@x.example>\r\nTo: a+one+two@y.example\r\nX-Tags: alpha, "
      "Beta,alpha\r\nSubject: s\r\n\r\nbody\r\n";
  f.store->add_message(std::move(m));
  CHECK(body(f.call("GET", "/api/v1/message/t1"))["Tags"] ==
        json::array({"Beta", "alpha", "billing", "one", "two"}));
}

TEST_CASE("api: clean_tag follows Mailpit's rule") {
  CHECK(clean_tag("  a  b ") == "a b");
  CHECK(clean_tag("x/y\tz") == "x y z");
  CHECK(clean_tag("ok-_.@") == "ok-_.@");
  CHECK_FALSE(clean_tag("!!!"));
  CHECK_FALSE(clean_tag(""));
  CHECK(clean_tag(std::string(150, 'a'))->size() == 100);
}

TEST_CASE("api: thumbnails of image parts, a blank one for other parts, as Mailpit") {
  fixture f;
  // A 4x2 red PNG, made with the thumbnail module's encoder.
  rgba_image red;
  red.width = 4;
  red.height = 2;
  for (int i = 0; i < 8; ++i)
    red.pixels.insert(red.pixels.end(), {255, 0, 0, 255});
  const std::string png = encode_image(red, "png");
  REQUIRE(!png.empty());
  const std::string send =
      json{{"From", {{"Email", "a@x.example"}}},
           {"Text", "t"},
           {"Attachments",
            json::array({{{"Content", smtp::base64_encode(png)}, {"Filename", "red.png"}},
                         {{"Content", smtp::base64_encode("just text")}, {"Filename", "a.txt"}}})}}
          .dump();
  REQUIRE(f.call("POST", "/api/v1/send", send).status == 200);
  const auto msg = body(f.call("GET", "/api/v1/message/sent1"));
  REQUIRE(msg["Attachments"].size() == 2);
  auto thumb = [&](const json& a) {
    return f.call("GET", "/api/v1/message/sent1/part/" + a["PartID"].get<std::string>() + "/thumb");
  };
  const auto image = thumb(msg["Attachments"][0]);
  CHECK(image.status == 200);
  CHECK(image.content_type == "image/jpeg");
  const auto decoded = decode_image(image.body);
  REQUIRE(decoded);
  CHECK(decoded->width == 180);
  CHECK(decoded->height == 120);
  // A smaller image is centred on white, never enlarged: the corner is white.
  CHECK(decoded->pixels[0] > 200);
  const auto blank = thumb(msg["Attachments"][1]);
  CHECK(blank.status == 200);
  CHECK(blank.content_type == "image/jpeg");
  CHECK(blank.body == blank_thumbnail().data);
  check_error(f.call("GET", "/api/v1/message/sent1/part/9/thumb"), 404);
  check_error(f.call("GET", "/api/v1/message/zz/part/1/thumb"), 404);
}

TEST_CASE("api: GET /api/v1/openapi.json is the document") {
  fixture f;
  const auto r = f.call("GET", "/api/v1/openapi.json");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  const auto doc = body(r);
  CHECK(doc["openapi"].get<std::string>().rfind("3.", 0) == 0);
  CHECK(doc["paths"].contains("/api/v1/send"));
}
