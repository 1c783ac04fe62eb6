// The API under test without sockets: a store, a scenario control and helpers to call it.
#pragma once

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "http/api.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"

namespace api_testing {

using namespace smtpmock;
using namespace smtpmock::http;
using nlohmann::json;

struct fixture {
  std::shared_ptr<store::message_store> store = std::make_shared<store::message_store>();
  std::shared_ptr<store::metrics> metrics = std::make_shared<store::metrics>();
  std::shared_ptr<scenario_control> control = std::make_shared<scenario_control>(
      scenario::load_definition_text("name: base\nhostname: base.example\n", "base.yaml"),
      "name: base\nhostname: base.example\n", "base.yaml", 7);
  std::shared_ptr<scenario::engine> applied;
  api a;

  /// Message ids for POST /api/v1/send: "sent1", "sent2", ...
  static api_options with_ids(api_options o) {
    if (!o.new_message_id) {
      o.new_message_id = [n = std::make_shared<int>(0)] { return "sent" + std::to_string(++*n); };
    }
    return o;
  }

  explicit fixture(api_options o = {}) : a(store, metrics, control, with_ids(std::move(o))) {
    control->set_apply([this](std::shared_ptr<scenario::engine> e) { applied = std::move(e); });
  }

  void add(const std::string& id, const std::string& subject, const std::string& to) {
    store::stored_message m;
    m.id = id;
    m.session_id = "S" + id;
    m.received = store::clock::now();
    m.env.mail_from = "sender@x.example";
    m.env.recipients = {{to, {}}};
    m.data = "From: Sender <sender@x.example>\r\nTo: " + to + "\r\nSubject: " + subject +
             "\r\n\r\nbody of " + subject + "\r\n";
    store->add_message(std::move(m));
  }

  http_response call(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& auth = "") {
    http_request r;
    r.method = method;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = body;
    r.authorization = auth;
    auto out = a.handle(r);
    REQUIRE(std::holds_alternative<http_response>(out));
    return std::get<http_response>(out);
  }
};

inline json body(const http_response& r) {
  return json::parse(r.body);
}

inline void check_error(const http_response& r, int status) {
  CHECK(r.status == status);
  CHECK(r.content_type == "application/json");
  CHECK(body(r)["Error"].is_string());
}

}  // namespace api_testing
