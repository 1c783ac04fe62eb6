// Tests for http::api without sockets: requests in, responses out (h11's sans-I/O idea).
// Covers routing, status codes and {"Error"} bodies, auth, body limits, long-poll decisions,
// chaos and scenario changes reaching the engine, and that rejected requests change nothing.
#include "http/api.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "api_fixture.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"
#include "smtp/base64.hpp"

using namespace smtpmock;
using namespace smtpmock::http;
using api_testing::body;
using api_testing::check_error;
using api_testing::fixture;
using nlohmann::json;

TEST_CASE("api: lists, gets and deletes messages in Mailpit's shapes") {
  fixture f;
  f.add("m1", "first", "a@y.example");
  f.add("m2", "second", "b@y.example");
  auto list = body(f.call("GET", "/api/v1/messages"));
  CHECK(list["total"] == 2);
  CHECK(list["messages"][0]["ID"] == "m2");
  CHECK(list["messages"][0]["From"]["Name"] == "Sender");
  CHECK(list["messages"][0]["SessionID"] == "Sm2");
  CHECK(list["messages"][0]["Envelope"]["MailFrom"] == "sender@x.example");
  CHECK(body(f.call("GET", "/api/v1/message/latest"))["ID"] == "m2");
  CHECK(f.call("GET", "/api/v1/message/m1/raw").body.find("Subject: first") != std::string::npos);
  check_error(f.call("GET", "/api/v1/message/zz"), 404);
  check_error(f.call("DELETE", "/api/v1/messages", "{\"IDs\": 3}"), 400);
  CHECK(f.store->message_count() == 2);
  CHECK(f.call("DELETE", "/api/v1/messages", "{\"IDs\": [\"m1\"]}").status == 200);
  CHECK(f.store->message_count() == 1);
  CHECK(f.call("DELETE", "/api/v1/messages").status == 200);
  CHECK(f.store->message_count() == 0);
}

TEST_CASE("api: routing errors are JSON with the right status") {
  fixture f;
  check_error(f.call("GET", "/nope"), 404);
  check_error(f.call("GET", "/api/v1/nope"), 404);
  auto r = f.call("POST", "/api/v1/info");
  check_error(r, 405);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"Allow", "GET"});
  check_error(f.call("GET", "/api/v1/messages?limit=abc"), 400);
  check_error(f.call("GET", "/api/v1/messages?x=%G0"), 400);
  check_error(f.call("GET", "/api/v1/message/%"), 400);
}

TEST_CASE("api: readiness") {
  fixture f;
  CHECK(f.call("GET", "/readyz").status == 503);
  CHECK(f.call("GET", "/livez").status == 200);
  f.a.set_ready();
  CHECK(f.call("GET", "/readyz").status == 200);
}

TEST_CASE("api: basic auth on everything but health") {
  api_options o;
  o.credentials = "u:p";
  fixture f(o);
  auto denied = f.call("GET", "/api/v1/messages");
  check_error(denied, 401);
  CHECK(denied.headers.at(0).first == "WWW-Authenticate");
  check_error(f.call("GET", "/api/v1/messages", "", "Basic " + smtp::base64_encode("u:x")), 401);
  CHECK(f.call("GET", "/api/v1/messages", "", "Basic " + smtp::base64_encode("u:p")).status == 200);
  CHECK(f.call("GET", "/api/v1/messages", "", "basic  " + smtp::base64_encode("u:p")).status ==
        200);
  CHECK(f.call("GET", "/livez").status == 200);
  CHECK(f.call("GET", "/readyz").status == 503);  // open, and not ready yet
}

TEST_CASE("api: bodies over the limit get 413 and change nothing") {
  api_options o;
  o.max_body = 16;
  fixture f(o);
  check_error(f.call("PUT", "/api/v1/scenario", "name: a-very-long-scenario-name\n"), 413);
  CHECK(f.control->current().base->personality->name == "base");
}

TEST_CASE("api: a wait is answered now when satisfied, else handed to the server") {
  fixture f;
  f.add("m1", "wanted", "a@y.example");
  http_request r;
  r.method = "GET";
  r.path = "/api/v1/messages/wait";
  r.query = "query=subject:wanted&count=1&timeout=1";
  auto now = f.a.handle(r);
  REQUIRE(std::holds_alternative<http_response>(now));
  CHECK(body(std::get<http_response>(now))["messages_count"] == 1);

  r.query = "query=subject:wanted&count=2&timeout=2s";
  auto later = f.a.handle(r);
  REQUIRE(std::holds_alternative<wait_request>(later));
  const auto w = std::get<wait_request>(later);
  CHECK(w.count == 2);
  CHECK(w.timeout == std::chrono::seconds(2));
  CHECK_FALSE(f.a.check_wait(w));
  f.add("m2", "also wanted", "b@y.example");
  auto done = f.a.check_wait(w);
  REQUIRE(done);
  CHECK(body(*done)["messages_count"] == 2);
  auto timed_out = f.a.wait_timed_out(w);
  CHECK(timed_out.status == 408);
  CHECK(body(timed_out)["messages_count"] == 2);
}

TEST_CASE("api: chaos and Jim become rules of the engine new sessions get") {
  fixture f;
  auto r = f.call("PUT", "/api/v1/chaos", R"({"Sender": {"ErrorCode": 452, "Probability": 100}})");
  CHECK(r.status == 200);
  REQUIRE(f.applied);
  REQUIRE(f.applied->scenario().rules.size() == 1);
  const auto& rule = f.applied->scenario().rules[0];
  CHECK(rule.name == "chaos-sender");
  CHECK(rule.on == scenario::event_type::mail);
  CHECK_FALSE(rule.when.probability);  // 100 %: always
  CHECK(rule.then.reply->at(0) == "452 4.3.0 Chaos: sender rejected");

  check_error(f.call("PUT", "/api/v1/chaos", R"({"Sender": {"ErrorCode": 99}})"), 400);
  CHECK(f.applied->scenario().rules.size() == 1);  // unchanged

  CHECK(f.call("POST", "/api/v2/jim", R"({"RejectRecipientChance": 0.5})").status == 201);
  CHECK(f.applied->scenario().rules.size() > 1);
  CHECK(f.call("DELETE", "/api/v2/jim").status == 200);
  CHECK(f.applied->scenario().rules.size() == 1);
}

TEST_CASE("api: PUT scenario validates like lint and keeps the old one on error") {
  fixture f;
  auto bad = f.call("PUT", "/api/v1/scenario", "name: x\nlimits:\n  max_recipients: lots\n");
  check_error(bad, 400);
  CHECK(body(bad)["Line"] == 3);
  CHECK(body(bad)["Error"].get<std::string>().rfind("request:3:", 0) == 0);
  CHECK(f.control->current().base->personality->name == "base");
  CHECK_FALSE(f.applied);

  auto good = f.call("PUT", "/api/v1/scenario", "name: next\nhostname: next.example\n");
  CHECK(good.status == 200);
  CHECK(body(good)["Name"] == "next");
  REQUIRE(f.applied);
  CHECK(f.applied->scenario().personality->hostname == "next.example");
  CHECK(f.applied->seed() == 7);
}

TEST_CASE("api: metrics in Prometheus text") {
  fixture f;
  f.metrics->session_opened();
  f.metrics->reply(store::reply_to::mail, 250);
  f.metrics->rule_hit("r1");
  auto r = f.call("GET", "/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(r.body.find("smtpmock_commands_total{code=\"250\",verb=\"mail\"} 1") != std::string::npos);
  CHECK(r.body.find("smtpmock_rule_hits_total{rule=\"r1\"} 1") != std::string::npos);
  CHECK(r.body.find("smtpmock_sessions_active 1") != std::string::npos);
  // One metrics object (no listeners named): no listener label on any series.
  CHECK(r.body.find("listener=") == std::string::npos);
}

TEST_CASE("api: metrics of several listeners, each series under its listener label") {
  fixture f;
  auto yahoo = std::make_shared<store::metrics>();
  auto plain = std::make_shared<store::metrics>();
  api a(f.store, {{"1025", plain}, {"yahoo", yahoo}, {"dead", nullptr}},
        {scenario_binding{f.control, {}}}, {});
  plain->session_opened();
  plain->reply(store::reply_to::mail, 250);
  plain->message_stored(10);
  yahoo->session_opened();
  yahoo->session_opened();
  yahoo->reply(store::reply_to::mail, 250);
  yahoo->rule_hit("r1");
  yahoo->message_stored(5);
  yahoo->session_closed(std::chrono::milliseconds(20));
  auto call = [&](const std::string& path) {
    http_request r;
    r.method = "GET";
    r.path = path;
    auto out = a.handle(r);
    REQUIRE(std::holds_alternative<http_response>(out));
    return std::get<http_response>(out);
  };
  const std::string text = call("/metrics").body;
  auto has = [&](const std::string& line) {
    INFO(line);
    CHECK(text.find(line + "\n") != std::string::npos);
  };
  has("smtpmock_sessions_total{listener=\"1025\"} 1");
  has("smtpmock_sessions_total{listener=\"yahoo\"} 2");
  has("smtpmock_sessions_active{listener=\"yahoo\"} 1");
  has("smtpmock_commands_total{code=\"250\",listener=\"1025\",verb=\"mail\"} 1");
  has("smtpmock_commands_total{code=\"250\",listener=\"yahoo\",verb=\"mail\"} 1");
  has("smtpmock_rule_hits_total{listener=\"yahoo\",rule=\"r1\"} 1");
  has("smtpmock_message_bytes_total{listener=\"1025\"} 10");
  has("smtpmock_session_duration_seconds_count{listener=\"yahoo\"} 1");
  has("smtpmock_session_duration_seconds_bucket{listener=\"yahoo\",le=\"0.05\"} 1");
  // The store's gauges are the process's, unlabelled; every family is declared once.
  has("smtpmock_messages_stored 0");
  CHECK(text.find("listener=\"dead\"") == std::string::npos);
  std::size_t types = 0;
  for (auto at = text.find("# TYPE smtpmock_sessions_total "); at != std::string::npos;
       at = text.find("# TYPE smtpmock_sessions_total ", at + 1))
    ++types;
  CHECK(types == 1);
  // /api/v1/info counts every listener's.
  const auto info = body(call("/api/v1/info"))["RuntimeStats"];
  CHECK(info["SMTPAccepted"] == 2);
  CHECK(info["SMTPAcceptedSize"] == 15);
}

TEST_CASE("api: percent decoding") {
  CHECK(percent_decode("a%20b+c", true) == "a b c");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK_FALSE(percent_decode("%", false));
  CHECK_FALSE(percent_decode("%4", false));
  CHECK_FALSE(percent_decode("%zz", false));
}

TEST_CASE("api: JSON keys match as Go's encoding/json does; empty IDs mean all") {
  fixture f;
  f.add("m1", "first", "a@y.example");
  f.add("m2", "second", "b@y.example");
  f.add("m3", "third", "c@y.example");
  CHECK(f.call("DELETE", "/api/v1/messages", "{\"ids\": [\"m1\"]}").status == 200);
  CHECK(f.store->message_count() == 2);
  auto dup = f.call("DELETE", "/api/v1/messages", "{\"IDs\": [], \"ids\": []}");
  check_error(dup, 400);
  CHECK(body(dup)["Error"].get<std::string>().find("both name IDs") != std::string::npos);
  auto unknown = f.call("DELETE", "/api/v1/messages", "{\"Idz\": []}");
  check_error(unknown, 400);
  CHECK(body(unknown)["Error"].get<std::string>().find("'Idz' (allowed: IDs)") !=
        std::string::npos);
  CHECK(f.store->message_count() == 2);
  CHECK(f.call("PUT", "/api/v1/messages", "{\"iDs\": [], \"read\": true}").status == 200);
  CHECK(body(f.call("GET", "/api/v1/messages"))["unread"] == 0);
  CHECK(f.call("PUT", "/api/v1/messages", "{\"Read\": false, \"search\": \"subject:third\"}")
            .status == 200);
  CHECK(body(f.call("GET", "/api/v1/messages"))["unread"] == 1);
  check_error(f.call("PUT", "/api/v1/messages", "{\"IDs\": [\"m2\"], \"Search\": \"x\"}"), 400);
  check_error(
      f.call("PUT", "/api/v1/chaos", "{\"sender\": {\"errorcode\": 451, \"ErrorCode\": 452}}"),
      400);
  CHECK(f.call("PUT", "/api/v1/chaos", "{\"sender\": {\"errorcode\": 451, \"probability\": 5}}")
            .status == 200);
  CHECK(f.control->chaos().sender.error_code == 451);
  CHECK(f.control->chaos().sender.probability == 5);
  CHECK(f.call("DELETE", "/api/v1/messages", "{\"IDs\": []}").status == 200);
  CHECK(f.store->message_count() == 0);
}

namespace {

/// A multipart/alternative message (text and HTML) with an inline image referenced by cid:.
void add_multipart(fixture& f, const std::string& id) {
  store::stored_message m;
  m.id = id;
  m.session_id = "S" + id;
  m.received = store::clock::now();
  m.env.mail_from = "sender@x.example";
  m.env.recipients = {{"a@y.example", {}}};
  m.data =
      "From: sender@x.example\r\nTo: a@y.example\r\nSubject: views\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/related; boundary=\"R\"\r\n\r\n"
      "--R\r\nContent-Type: multipart/alternative; boundary=\"A\"\r\n\r\n"
      "--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain caf\xc3\xa9\r\n"
      "--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
      "<p>rich <b>caf\xc3\xa9</b><img src=\"cid:logo@x\"></p>\r\n--A--\r\n"
      "--R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
      "Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "iVBORw0KGgo=\r\n--R--\r\n";
  f.store->add_message(std::move(m));
}

std::optional<std::string> header(const http_response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("api: /view/{ID}.html, .txt and .raw, and latest") {
  fixture f;
  add_multipart(f, "m1");
  f.add("m2", "plain only", "b@y.example");

  auto html = f.call("GET", "/view/m1.html");
  CHECK(html.status == 200);
  CHECK(html.content_type == "text/html; charset=utf-8");
  CHECK(html.body.find("<b>caf\xc3\xa9</b>") != std::string::npos);
  CHECK(html.body.find("plain caf") == std::string::npos);
  // The inline image points at its part in the API, as Mailpit links it.
  CHECK(html.body.find("src=\"/api/v1/message/m1/part/") != std::string::npos);
  CHECK(html.body.find("cid:") == std::string::npos);
  // Sandboxed without scripts; nothing remote loads unless ?remote=1 asks.
  const std::string policy = header(html, "Content-Security-Policy").value_or("");
  CHECK(policy.rfind("sandbox allow-popups allow-popups-to-escape-sandbox;", 0) == 0);
  CHECK(policy.find("allow-scripts") == std::string::npos);
  CHECK(policy.find("script-src") == std::string::npos);
  CHECK(policy.find("default-src 'none'") != std::string::npos);
  CHECK(policy.find("img-src 'self' data:") != std::string::npos);
  const std::string remote =
      header(f.call("GET", "/view/m1.html?remote=1"), "Content-Security-Policy").value_or("");
  CHECK(remote.find("img-src * data:") != std::string::npos);
  CHECK(remote.find("allow-scripts") == std::string::npos);
  CHECK(remote.find("default-src 'none'") != std::string::npos);

  auto txt = f.call("GET", "/view/m1.txt");
  CHECK(txt.status == 200);
  CHECK(txt.content_type == "text/plain; charset=utf-8");
  CHECK(txt.body.find("plain caf\xc3\xa9") != std::string::npos);
  CHECK(txt.body.find("<b>") == std::string::npos);

  auto raw = f.call("GET", "/view/m1.raw");
  CHECK(raw.status == 200);
  CHECK(raw.content_type == "text/plain");
  CHECK(raw.body == f.store->message("m1")->data);

  // latest is the newest message (m2, which has no HTML part: a 404 in plain text, as Mailpit).
  CHECK(f.call("GET", "/view/latest.txt").body.find("body of plain only") != std::string::npos);
  CHECK(f.call("GET", "/view/latest.raw").body.find("Subject: plain only") != std::string::npos);
  auto no_html = f.call("GET", "/view/latest.html");
  CHECK(no_html.status == 404);
  CHECK(no_html.content_type == "text/plain; charset=utf-8");
  CHECK(no_html.body.find("does not contain an HTML part") != std::string::npos);
  // latest?query= is the newest match (Mailpit's LatestID).
  auto matched = f.call("GET", "/view/latest.html?query=subject:views");
  CHECK(matched.status == 200);
  CHECK(matched.body.find("rich") != std::string::npos);
  CHECK(f.call("GET", "/view/latest.txt?query=subject:nothing").status == 404);
  CHECK(f.call("GET", "/view/latest.txt?query=is:flagged").status == 400);

  // Viewing is not reading (Mailpit's views leave Read alone).
  CHECK(body(f.call("GET", "/api/v1/messages"))["unread"] == 2);
}

TEST_CASE("api: /view/ errors") {
  fixture f;
  CHECK(f.call("GET", "/view/latest.html").status == 404);  // empty store
  CHECK(f.call("GET", "/view/latest.txt").body.find("not found") != std::string::npos);
  f.add("m1", "one", "a@y.example");
  for (const char* target :
       {"/view/zz.html", "/view/zz.txt", "/view/zz.raw", "/view/m1.pdf", "/view/m1", "/view/m1.",
        "/view/.html", "/view/m1.html/x", "/view", "/view/m1.HTML"}) {
    CAPTURE(target);
    auto r = f.call("GET", target);
    CHECK(r.status == 404);
    CHECK(r.content_type == "text/plain; charset=utf-8");
  }
  auto post = f.call("POST", "/view/m1.txt");
  check_error(post, 405);
  CHECK(header(post, "Allow") == "GET");
  CHECK(f.call("HEAD", "/view/m1.raw").status == 200);
}

TEST_CASE("api: /view/ needs the same basic auth as the API") {
  api_options o;
  o.credentials = "u:p";
  fixture f(o);
  f.add("m1", "one", "a@y.example");
  check_error(f.call("GET", "/view/m1.txt"), 401);
  check_error(f.call("GET", "/view/latest.raw"), 401);
  CHECK(f.call("GET", "/view/m1.txt", "", "Basic " + smtp::base64_encode("u:p")).status == 200);
}

TEST_CASE("api: without --http-cors there are no CORS headers and OPTIONS is a 405") {
  fixture f;
  f.add("m1", "one", "a@y.example");
  auto r = f.call("GET", "/api/v1/messages");
  CHECK(!header(r, "Access-Control-Allow-Origin"));
  auto options = f.call("OPTIONS", "/api/v1/messages");
  check_error(options, 405);
  CHECK(!header(options, "Access-Control-Allow-Origin"));
  CHECK(!header(options, "Access-Control-Allow-Methods"));
  CHECK(f.call("OPTIONS", "/view/m1.txt").status == 405);
}

TEST_CASE("api: --http-cors adds Access-Control-Allow-Origin and answers preflights") {
  for (const char* origin : {"https://app.example", "*"}) {
    CAPTURE(origin);
    api_options o;
    o.cors_origin = origin;
    o.credentials = "u:p";
    fixture f(o);
    f.add("m1", "secret subject", "a@y.example");
    const std::string good = "Basic " + smtp::base64_encode("u:p");

    auto list = f.call("GET", "/api/v1/messages", "", good);
    CHECK(list.status == 200);
    CHECK(header(list, "Access-Control-Allow-Origin") == origin);
    CHECK(header(f.call("GET", "/view/m1.txt", "", good), "Access-Control-Allow-Origin") == origin);
    // Errors carry it too, so a page can read why (a 401 included).
    CHECK(header(f.call("GET", "/api/v1/message/zz", "", good), "Access-Control-Allow-Origin") ==
          origin);
    auto denied = f.call("GET", "/api/v1/messages");
    check_error(denied, 401);
    CHECK(header(denied, "Access-Control-Allow-Origin") == origin);
    // Only the API: the page, health and metrics are not opened to other origins.
    CHECK(!header(f.call("GET", "/livez"), "Access-Control-Allow-Origin"));
    CHECK(!header(f.call("GET", "/metrics", "", good), "Access-Control-Allow-Origin"));

    // A preflight needs no credentials and says nothing about the data: the same answer for
    // an existing message, an unknown one and an unknown route.
    for (const char* target : {"/api/v1/messages", "/api/v1/message/m1", "/api/v1/message/zz",
                               "/api/v1/nope", "/view/latest.html"}) {
      CAPTURE(target);
      auto pre = f.call("OPTIONS", target);
      CHECK(pre.status == 204);
      CHECK(pre.body.empty());
      CHECK(header(pre, "Access-Control-Allow-Origin") == origin);
      CHECK(header(pre, "Access-Control-Allow-Methods") == "GET, POST, PUT, DELETE, OPTIONS");
      CHECK(header(pre, "Access-Control-Allow-Headers") == "Content-Type, Authorization");
      CHECK(!header(pre, "WWW-Authenticate"));
    }
    // OPTIONS outside the API is not a preflight.
    CHECK(f.call("OPTIONS", "/metrics", "", good).status == 405);
    CHECK(f.store->message_count() == 1);
  }
}

TEST_CASE("api: long-poll answers carry the CORS header") {
  api_options o;
  o.cors_origin = "https://app.example";
  o.max_wait = std::chrono::milliseconds(1000);
  fixture f(o);
  http_request r;
  r.method = "GET";
  r.path = "/api/v1/messages/wait";
  r.query = "timeout=1";
  auto out = f.a.handle(r);
  REQUIRE(std::holds_alternative<wait_request>(out));
  const auto& w = std::get<wait_request>(out);
  CHECK(header(f.a.wait_timed_out(w), "Access-Control-Allow-Origin") == "https://app.example");
  f.add("m1", "one", "a@y.example");
  auto now = f.a.check_wait(w);
  REQUIRE(now);
  CHECK(header(*now, "Access-Control-Allow-Origin") == "https://app.example");
}

TEST_CASE("api: the web UI's files are embedded and served with a strict policy") {
  fixture f;
  auto page = f.call("GET", "/");
  REQUIRE(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  // Relative references only: the page works under --http-base-path.
  CHECK(page.body.find("ui/app.js") != std::string::npos);
  CHECK(page.body.find("src=\"/") == std::string::npos);
  CHECK(page.body.find("href=\"/") == std::string::npos);
  const std::string policy = header(page, "Content-Security-Policy").value_or("");
  CHECK(policy.find("script-src 'self';") != std::string::npos);
  CHECK(policy.find("unsafe-inline") == std::string::npos);
  CHECK(policy.find("object-src 'none'") != std::string::npos);

  auto script = f.call("GET", "/ui/app.js");
  CHECK(script.status == 200);
  CHECK(script.content_type == "text/javascript; charset=utf-8");
  CHECK(!script.body.empty());
  CHECK(f.call("GET", "/ui/app.css").content_type == "text/css; charset=utf-8");
  // Only plain file names of the UI: no hidden files, no way out of it.
  CHECK(f.call("GET", "/ui/missing.js").status == 404);
  CHECK(f.call("GET", "/ui/.hidden").status == 404);
  CHECK(f.call("GET", "/ui/%2e%2e%2fCMakeLists.txt").status == 404);
  CHECK(f.call("POST", "/ui/app.js").status == 405);
}
