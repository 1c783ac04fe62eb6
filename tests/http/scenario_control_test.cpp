// Tests for http::scenario_control: overlays, replacing the base, seeds, and failed loads.
#include "http/scenario_control.hpp"

#include <doctest/doctest.h>

#include "scenario/loader.hpp"
#include "scenario/rules.hpp"

using namespace smtpmock;
using namespace smtpmock::http;

namespace {

constexpr const char* base_yaml =
    "name: base\nrules:\n  - name: own\n    on: rcpt\n    reply: \"550 5.1.1 no\"\n";

std::shared_ptr<scenario_control> make() {
  return std::make_shared<scenario_control>(scenario::load_definition_text(base_yaml, "b.yaml"),
                                            base_yaml, "b.yaml", 99);
}

}  // namespace

TEST_CASE("scenario_control: overlays come before the scenario's own rules") {
  auto c = make();
  CHECK(c->engine()->scenario().rules.size() == 1);
  chaos_triggers t;
  t.recipient = {451, 25};
  c->set_chaos(t);
  const auto& rules = c->engine()->scenario().rules;
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].name == "chaos-recipient");
  CHECK(*rules[0].when.probability == doctest::Approx(0.25));
  CHECK(rules[1].name == "own");
  CHECK(c->engine()->seed() == 99);
}

TEST_CASE("scenario_control: Jim's rules") {
  const auto rules = overlay_rules({}, jim_settings{});
  std::vector<std::string> names;
  for (const auto& r : rules)
    names.push_back(r.name);
  CHECK(names == std::vector<std::string>{"jim-reject-connection", "jim-reject-sender",
                                          "jim-reject-recipient", "jim-reject-auth",
                                          "jim-disconnect", "jim-link-speed"});
  CHECK(rules[0].on == scenario::event_type::connect);
  CHECK(*rules[0].when.probability == doctest::Approx(0.01));
  CHECK(rules[4].then.disconnect == scenario::disconnect_mode::before_reply);
  REQUIRE(rules[5].then.drip);
  CHECK(rules[5].then.drip->bytes == 563);
  jim_settings quiet{0, 1, 0, 1024, 10240, 0, 0, 0};
  CHECK(overlay_rules({}, quiet).empty());
}

TEST_CASE("scenario_control: every change is applied; a failed load changes nothing") {
  auto c = make();
  int applied = 0;
  c->set_apply([&](std::shared_ptr<scenario::engine>) { ++applied; });
  CHECK_THROWS_AS(c->replace_text("name: x\nnope: 1\n", "request", "PUT"), scenario::load_error);
  CHECK(applied == 0);
  CHECK(c->current().base->personality->name == "base");
  c->replace_text("name: next\nseed: 5\n", "request", "PUT");
  CHECK(applied == 1);
  CHECK(c->current().source == "name: next\nseed: 5\n");
  CHECK(c->current().origin == "PUT");
  CHECK(c->engine()->seed() == 5);  // the scenario's own seed wins
  c->set_jim(jim_settings{});
  CHECK(applied == 2);
  CHECK(c->jim());
  c->set_jim(std::nullopt);
  CHECK_FALSE(c->jim());
}
