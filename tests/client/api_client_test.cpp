// The findings request: --api URLs, the default guess, the request bytes, response parsing.
// No socket: http_get itself is exercised by tests/integration/test_send_findings.py.
#include "client/api_client.hpp"

#include <doctest/doctest.h>

using namespace smtpmock::client;

namespace {

api_endpoint url(std::string_view text) {
  std::string error;
  auto api = parse_api_url(text, error);
  INFO(error);
  REQUIRE(api.has_value());
  return *api;
}

std::string url_error(std::string_view text) {
  std::string error;
  CHECK_FALSE(parse_api_url(text, error).has_value());
  return error;
}

std::optional<http_response> parse(std::string_view raw, std::string* error_out = nullptr) {
  std::string error;
  auto r = parse_http_response(raw, error);
  if (error_out != nullptr) *error_out = error;
  return r;
}

}  // namespace

TEST_CASE("unit: api_client: --api URLs") {
  auto a = url("http://127.0.0.1:8025");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 8025);
  CHECK(a.base_path.empty());
  CHECK_FALSE(a.has_credentials);

  a = url("HTTP://h:8025/mail/");
  CHECK(a.host == "h");
  CHECK(a.base_path == "/mail");

  a = url("http://[::1]:9000/x/y");
  CHECK(a.host == "::1");
  CHECK(a.port == 9000);
  CHECK(a.base_path == "/x/y");

  a = url("http://example.test");
  CHECK(a.port == 80);

  a = url("http://al%40ice:p%3Ass@h:1/");
  CHECK(a.has_credentials);
  CHECK(a.user == "al@ice");
  CHECK(a.password == "p:ss");
  CHECK(a.base_path.empty());

  a = url("http://bob@h");
  CHECK(a.has_credentials);
  CHECK(a.user == "bob");
  CHECK(a.password.empty());

  CHECK(url_error("https://h:8025").find("https") != std::string::npos);
  CHECK(url_error("127.0.0.1:8025").find("http://") != std::string::npos);
  CHECK(url_error("http://:8025").find("no host") != std::string::npos);
  CHECK(url_error("http://h:0").find("port") != std::string::npos);
  CHECK(url_error("http://h:99999").find("port") != std::string::npos);
  CHECK(url_error("http://h:80x").find("port") != std::string::npos);
  CHECK(url_error("http://[::1:80").find("]") != std::string::npos);
  CHECK(url_error("http://h?x=1").find("query") != std::string::npos);
  CHECK(url_error("http://a%4@h").find("escape") != std::string::npos);
}

TEST_CASE("unit: api_client: the default guess is for loopback servers only") {
  CHECK(api_text(*guess_api("127.0.0.1")) == "http://127.0.0.1:8025");
  CHECK(api_text(*guess_api("127.1.2.3")) == "http://127.1.2.3:8025");
  CHECK(api_text(*guess_api("::1")) == "http://[::1]:8025");
  CHECK(api_text(*guess_api("localhost")) == "http://localhost:8025");
  CHECK(api_text(*guess_api("LOCALHOST")) == "http://LOCALHOST:8025");
  CHECK(guess_api("::ffff:127.0.0.1").has_value());
  CHECK_FALSE(guess_api("192.0.2.1").has_value());
  CHECK_FALSE(guess_api("128.0.0.1").has_value());
  CHECK_FALSE(guess_api("::2").has_value());
  CHECK_FALSE(guess_api("mail.example.com").has_value());
  CHECK_FALSE(guess_api("localhost.example.com").has_value());
}

TEST_CASE("unit: api_client: the findings request") {
  auto a = url("http://u:p@[::1]:8025/mail");
  const std::string target = findings_target(a, "[::1]:40000", std::chrono::seconds(5));
  CHECK(target == "/mail/api/v1/findings?client=%5B%3A%3A1%5D%3A40000&session_ended=1&timeout=5s");
  CHECK(findings_target(url("http://h:1"), "127.0.0.1:5", std::chrono::seconds(5)) ==
        "/api/v1/findings?client=127.0.0.1%3A5&session_ended=1&timeout=5s");
  const std::string req = build_get_request(a, target);
  CHECK(req.starts_with("GET " + target + " HTTP/1.1\r\n"));
  CHECK(req.find("\r\nHost: [::1]:8025\r\n") != std::string::npos);
  CHECK(req.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(req.find("\r\nAuthorization: Basic dTpw\r\n") != std::string::npos);  // "u:p"
  CHECK(req.ends_with("\r\n\r\n"));
  const std::string plain = build_get_request(url("http://h"), "/x");
  CHECK(plain.find("\r\nHost: h\r\n") != std::string::npos);
  CHECK(plain.find("Authorization") == std::string::npos);
}

TEST_CASE("unit: api_client: responses with Content-Length, chunked, or read to EOF") {
  auto r =
      parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "[]");

  r = parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]trailing junk");
  REQUIRE(r);
  CHECK(r->body == "[]");

  r = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n1;x=y\r\n]\r\n0\r\n\r\n");
  REQUIRE(r);
  CHECK(r->body == "[]");

  r = parse("HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnot here");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body == "not here");

  r = parse("HTTP/1.1 204 No Content\r\n\r\n");
  REQUIRE(r);
  CHECK(r->body.empty());

  std::string error;
  CHECK_FALSE(parse("", &error));
  CHECK(error.find("without a response") != std::string::npos);
  CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[]", &error));
  CHECK(error.find("cut short") != std::string::npos);
  CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[]", &error));
  CHECK(error.find("chunked") != std::string::npos);
  CHECK_FALSE(parse("SSH-2.0-OpenSSH_9.2\r\n\r\n", &error));
  CHECK(error.find("HTTP") != std::string::npos);
  CHECK_FALSE(parse("HTTP/1.1 2x0 OK\r\n\r\n", &error));
  CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", &error));
  CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Type: a", &error));
  CHECK(error.find("headers") != std::string::npos);
}

TEST_CASE("unit: api_client: a findings answer") {
  http_response r{200, R"([{"Code":"helo-not-fqdn","Severity":"info","RFC":"RFC 5321 4.1.1.1",)"
                       R"("Text":"EHLO vm: not a fully qualified domain name","Line":3,)"
                       R"("Time":"2026-01-01T00:00:00Z","SessionID":"S1"}])"};
  auto a = read_findings_response(r);
  REQUIRE(a.ok);
  REQUIRE(a.findings.size() == 1);
  CHECK(a.findings[0].code == "helo-not-fqdn");
  CHECK(a.findings[0].severity == "info");
  CHECK(a.findings[0].rfc == "RFC 5321 4.1.1.1");
  CHECK(a.findings[0].text == "EHLO vm: not a fully qualified domain name");
  CHECK(a.findings[0].line == 3);
  CHECK(a.json.find("\"SessionID\":\"S1\"") != std::string::npos);

  a = read_findings_response({200, " [ ] "});
  CHECK(a.ok);
  CHECK(a.findings.empty());
  CHECK(a.json == "[]");

  a = read_findings_response({408, R"({"Error":"timeout"})"});
  CHECK_FALSE(a.ok);
  CHECK(a.error.find("408") != std::string::npos);
  a = read_findings_response({404, "[]"});
  CHECK_FALSE(a.ok);
  CHECK(a.error == "HTTP 404");
  a = read_findings_response({200, R"({"messages":[]})"});
  CHECK_FALSE(a.ok);
  CHECK(a.error.find("JSON array") != std::string::npos);
  a = read_findings_response({200, "<html>"});
  CHECK_FALSE(a.ok);
  a = read_findings_response({200, R"([{"ID":"x"}])"});
  CHECK_FALSE(a.ok);
  CHECK(a.error.find("findings") != std::string::npos);
}
