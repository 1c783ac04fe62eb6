// scenario_control; see scenario_control.hpp. Overlay rules are ordinary scenario rules with
// `when: {probability}`; when one does not fire, the engine goes on to the next rule, so a
// chaos trigger and the base scenario's own rules combine as a scenario file's rules would.
#include "http/scenario_control.hpp"

#include <algorithm>
#include <utility>

#include "scenario/loader.hpp"

namespace smtpmock::http {
namespace {

/// "451 4.3.0 Chaos: sender rejected": the enhanced code's class follows the reply code.
std::string chaos_reply(int code, const char* what) {
  return std::to_string(code) + " " + std::to_string(code / 100) + ".3.0 Chaos: " + what;
}

scenario::rule make_rule(std::string name, scenario::event_type on, double probability) {
  scenario::rule r;
  r.name = std::move(name);
  r.on = on;
  if (probability < 1.0) r.when.probability = std::clamp(probability, 0.0, 1.0);
  return r;
}

void add_reply_rule(std::vector<scenario::rule>& rules, std::string name, scenario::event_type on,
                    double probability, std::string reply) {
  if (probability <= 0) return;
  auto r = make_rule(std::move(name), on, probability);
  r.then.reply = std::vector<std::string>{std::move(reply)};
  rules.push_back(std::move(r));
}

}  // namespace

std::vector<scenario::rule> overlay_rules(const chaos_triggers& chaos,
                                          const std::optional<jim_settings>& jim) {
  using scenario::event_type;
  std::vector<scenario::rule> rules;
  add_reply_rule(rules, "chaos-sender", event_type::mail, chaos.sender.probability / 100.0,
                 chaos_reply(chaos.sender.error_code, "sender rejected"));
  add_reply_rule(rules, "chaos-recipient", event_type::rcpt, chaos.recipient.probability / 100.0,
                 chaos_reply(chaos.recipient.error_code, "recipient rejected"));
  add_reply_rule(rules, "chaos-authentication", event_type::auth,
                 chaos.authentication.probability / 100.0,
                 chaos_reply(chaos.authentication.error_code, "authentication rejected"));
  if (!jim) return rules;
  // MailHog's Jim: AcceptChance is the chance a connection is accepted at all.
  add_reply_rule(rules, "jim-reject-connection", event_type::connect, 1.0 - jim->accept_chance,
                 "421 4.3.2 Jim: connection rejected");
  add_reply_rule(rules, "jim-reject-sender", event_type::mail, jim->reject_sender_chance,
                 "550 5.1.0 Jim: sender rejected");
  add_reply_rule(rules, "jim-reject-recipient", event_type::rcpt, jim->reject_recipient_chance,
                 "550 5.1.1 Jim: recipient rejected");
  add_reply_rule(rules, "jim-reject-auth", event_type::auth, jim->reject_auth_chance,
                 "535 5.7.8 Jim: authentication rejected");
  if (jim->disconnect_chance > 0) {
    auto r = make_rule("jim-disconnect", event_type::any, jim->disconnect_chance);
    r.then.disconnect = scenario::disconnect_mode::before_reply;
    rules.push_back(std::move(r));
  }
  if (jim->link_speed_affect > 0) {
    // A fixed rate between the bounds, written in tenths of a second.
    const long long rate = std::max(1LL, (jim->link_speed_min + jim->link_speed_max) / 2);
    auto r = make_rule("jim-link-speed", event_type::any, jim->link_speed_affect);
    r.then.drip = scenario::drip_settings{static_cast<std::size_t>(std::max(1LL, rate / 10)),
                                          std::chrono::milliseconds(100)};
    rules.push_back(std::move(r));
  }
  return rules;
}

scenario_control::scenario_control(std::shared_ptr<const scenario::definition> base,
                                   std::string source, std::string origin,
                                   std::uint64_t server_seed)
    : server_seed_(server_seed) {
  state_.base = std::move(base);
  state_.source = std::move(source);
  state_.origin = std::move(origin);
  std::lock_guard lock(mutex_);
  rebuild_locked();
}

void scenario_control::set_apply(apply_fn apply) {
  std::lock_guard lock(mutex_);
  apply_ = std::move(apply);
}

std::shared_ptr<scenario::engine> scenario_control::engine() const {
  std::lock_guard lock(mutex_);
  return state_.engine;
}

void scenario_control::replace(std::shared_ptr<const scenario::definition> base, std::string source,
                               std::string origin) {
  std::lock_guard lock(mutex_);
  state_.base = std::move(base);
  state_.source = std::move(source);
  state_.origin = std::move(origin);
  rebuild_locked();
}

void scenario_control::replace_text(std::string_view yaml, std::string_view filename,
                                    std::string origin) {
  auto def = scenario::load_definition_text(yaml, filename);  // throws: nothing changed
  replace(std::move(def), std::string(yaml), std::move(origin));
}

chaos_triggers scenario_control::chaos() const {
  std::lock_guard lock(mutex_);
  return state_.chaos;
}

void scenario_control::set_chaos(const chaos_triggers& triggers) {
  std::lock_guard lock(mutex_);
  state_.chaos = triggers;
  rebuild_locked();
}

std::optional<jim_settings> scenario_control::jim() const {
  std::lock_guard lock(mutex_);
  return state_.jim;
}

void scenario_control::set_jim(std::optional<jim_settings> settings) {
  std::lock_guard lock(mutex_);
  state_.jim = settings;
  rebuild_locked();
}

scenario_control::state scenario_control::current() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void scenario_control::rebuild_locked() {
  auto def = std::make_shared<scenario::definition>();
  def->personality = state_.base->personality;
  def->file = state_.base->file;
  def->rules = overlay_rules(state_.chaos, state_.jim);
  def->rules.insert(def->rules.end(), state_.base->rules.begin(), state_.base->rules.end());
  const auto seed = def->personality->seed.value_or(server_seed_);
  state_.engine = std::make_shared<scenario::engine>(std::move(def), seed);
  if (apply_) apply_(state_.engine);
}

}  // namespace smtpmock::http
