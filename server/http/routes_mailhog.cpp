// Routes: MailHog's API (v1 message by id, v2 listing and search) and its Jim chaos monkey,
// for suites written against MailHog. See routes.hpp.
#include "http/routes.hpp"
#include "http/views.hpp"

namespace smtpmock::http {

json jim_json(const jim_settings& s) {
  return json{{"DisconnectChance", s.disconnect_chance},
              {"AcceptChance", s.accept_chance},
              {"LinkSpeedAffect", s.link_speed_affect},
              {"LinkSpeedMin", s.link_speed_min},
              {"LinkSpeedMax", s.link_speed_max},
              {"RejectSenderChance", s.reject_sender_chance},
              {"RejectRecipientChance", s.reject_recipient_chance},
              {"RejectAuthChance", s.reject_auth_chance}};
}

namespace {

/// MailHog's Jim JSON over `base`: the fields given replace base's.
jim_settings parse_jim(const json& body, jim_settings base) {
  const json j = canonical_keys(
      body,
      {"DisconnectChance", "AcceptChance", "LinkSpeedAffect", "LinkSpeedMin", "LinkSpeedMax",
       "RejectSenderChance", "RejectRecipientChance", "RejectAuthChance"},
      "jim");
  for (auto [name, slot] : {std::pair{"DisconnectChance", &base.disconnect_chance},
                            std::pair{"AcceptChance", &base.accept_chance},
                            std::pair{"LinkSpeedAffect", &base.link_speed_affect},
                            std::pair{"RejectSenderChance", &base.reject_sender_chance},
                            std::pair{"RejectRecipientChance", &base.reject_recipient_chance},
                            std::pair{"RejectAuthChance", &base.reject_auth_chance}}) {
    if (!j.contains(name)) continue;
    const json& v = j[name];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1)
      fail(400, std::string("jim: ") + name + " must be a number from 0 to 1");
    *slot = v.get<double>();
  }
  for (auto [name, slot] : {std::pair{"LinkSpeedMin", &base.link_speed_min},
                            std::pair{"LinkSpeedMax", &base.link_speed_max}}) {
    if (!j.contains(name)) continue;
    const json& v = j[name];
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1'000'000'000)
      fail(400, std::string("jim: ") + name + " must be a whole number of bytes per second");
    *slot = v.get<long long>();
  }
  if (base.link_speed_min > base.link_speed_max)
    fail(400, "jim: LinkSpeedMin must not exceed LinkSpeedMax");
  return base;
}

http_response get_message_v1(request_context& c) {
  return json_response(mailhog_message_json(c.message_or_404(c.param("id"))));
}

http_response delete_message_v1(request_context& c) {
  const auto msg = c.message_or_404(c.param("id"));
  c.state.box.remove({msg->id});
  return text_response("");
}

http_response list_messages_v2(request_context& c) {
  const auto [start, limit] = c.paging();
  return json_response(mailhog_list_json(c.state.box.all(), start, limit));
}

http_response search_v2(request_context& c) {
  const std::string* kind = c.query("kind");
  const std::string* text = c.query("query");
  if (!kind) fail(400, "missing query parameter 'kind' (from, to or containing)");
  if (!text) fail(400, "missing query parameter 'query'");
  if (*kind != "from" && *kind != "to" && *kind != "containing")
    fail(400, "bad kind '" + *kind + "': expected from, to or containing");
  const auto [start, limit] = c.paging();
  // MailHog's kinds are plain substring searches, not Mailpit's query language.
  const std::string needle = ascii_lower(*text);
  std::vector<message_ptr> matches;
  for (auto& msg : c.state.box.all()) {
    const auto f = c.state.box.fields(msg);
    std::string haystack;
    if (*kind == "from") {
      haystack = ascii_lower(f.from);
    } else if (*kind == "to") {
      haystack = ascii_lower(f.to + " " + f.cc + " " + f.bcc);
    } else {
      haystack = ascii_lower(msg->data);
    }
    if (haystack.find(needle) != std::string::npos) matches.push_back(msg);
  }
  return json_response(mailhog_list_json(matches, start, limit));
}

http_response get_jim(request_context& c) {
  const auto jim = c.scenarios().front()->control->jim();
  if (!jim) fail(404, "Jim is not enabled");
  return json_response(jim_json(*jim));
}

http_response post_jim(request_context& c) {
  const auto targets = c.scenarios();
  const auto settings = parse_jim(body_json(c.request.body),
                                  targets.front()->control->jim().value_or(jim_settings{}));
  for (const auto* b : targets)
    b->control->set_jim(settings);
  announce_scenarios(c, targets);
  return json_response(jim_json(settings), 201);
}

http_response put_jim(request_context& c) {
  const auto targets = c.scenarios();
  const auto current = targets.front()->control->jim();
  if (!current) fail(404, "Jim is not enabled (POST /api/v2/jim enables it)");
  const auto settings = parse_jim(body_json(c.request.body), *current);
  for (const auto* b : targets)
    b->control->set_jim(settings);
  announce_scenarios(c, targets);
  return json_response(jim_json(settings));
}

http_response delete_jim(request_context& c) {
  const auto targets = c.scenarios();
  for (const auto* b : targets)
    b->control->set_jim(std::nullopt);
  announce_scenarios(c, targets);
  return text_response("");
}

const route table[] = {
    {"GET", "/api/v1/messages/:id", get_message_v1},
    {"DELETE", "/api/v1/messages/:id", delete_message_v1},
    {"GET", "/api/v2/messages", list_messages_v2},
    {"GET", "/api/v2/search", search_v2},
    {"GET", "/api/v2/jim", get_jim},
    {"POST", "/api/v2/jim", post_jim},
    {"PUT", "/api/v2/jim", put_jim},
    {"DELETE", "/api/v2/jim", delete_jim},
};

}  // namespace

std::span<const route> mailhog_routes() {
  return table;
}

}  // namespace smtpmock::http
