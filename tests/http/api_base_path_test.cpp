// --http-base-path: every route under a prefix, health at the root too.
#include <doctest/doctest.h>

#include "api_fixture.hpp"

using namespace api_testing;

namespace {

std::string header_value(const http_response& r, const std::string& name) {
  for (const auto& [key, value] : r.headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

TEST_CASE("api: --http-base-path serves every route under the prefix") {
  api_options o;
  o.base_path = "/mail";
  fixture f(o);
  f.a.set_ready();
  f.store->add_message([] {
    store::stored_message m;
    m.id = "m1";
    m.received = store::clock::now();
    m.data =
        "From: a@x.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; "
        "boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo\">\r\n--b\r\n"
        "Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Disposition: inline\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n";
    return m;
  }());
  CHECK(body(f.call("GET", "/mail/api/v1/messages"))["total"] == 1);
  CHECK(body(f.call("GET", "/mail/api/v1/message/m1"))["ID"] == "m1");
  CHECK(f.call("GET", "/mail/metrics").status == 200);
  CHECK(f.call("GET", "/mail/").content_type == "text/html; charset=utf-8");
  // The page's links are relative, so they stay under the prefix.
  CHECK(f.call("GET", "/mail/").body.find("\"/api/") == std::string::npos);
  // cid: links in the HTML view carry the prefix.
  CHECK(f.call("GET", "/mail/view/m1.html").body.find("src=\"/mail/api/v1/message/m1/part/") !=
        std::string::npos);
  // The prefix alone redirects to the prefix with a slash, keeping the query.
  const auto bare = f.call("GET", "/mail?x=1");
  CHECK(bare.status == 308);
  CHECK(header_value(bare, "Location") == "/mail/?x=1");
  // Outside the prefix: 404, but health answers at both places.
  check_error(f.call("GET", "/api/v1/messages"), 404);
  check_error(f.call("GET", "/mailx/api/v1/messages"), 404);
  check_error(f.call("GET", "/metrics"), 404);
  CHECK(f.call("GET", "/livez").status == 200);
  CHECK(f.call("GET", "/readyz").status == 200);
  CHECK(f.call("GET", "/mail/readyz").status == 200);
  // Routing errors under the prefix are the API's usual ones.
  check_error(f.call("GET", "/mail/api/v1/nope"), 404);
  check_error(f.call("POST", "/mail/api/v1/info"), 405);
}

TEST_CASE("api: --http-base-path with basic auth and CORS") {
  api_options o;
  o.base_path = "/mail";
  o.credentials = "u:p";
  o.cors_origin = "https://app.example";
  fixture f(o);
  check_error(f.call("GET", "/mail/api/v1/messages"), 401);
  CHECK(f.call("GET", "/mail/api/v1/messages", "", "Basic dTpw").status == 200);
  const auto pre = f.call("OPTIONS", "/mail/api/v1/messages");
  CHECK(pre.status == 204);
  CHECK(header_value(pre, "Access-Control-Allow-Origin") == "https://app.example");
}
