// libFuzzer target: the HTTP API without sockets.
// 1. The whole input as a Mailpit search query: http::search_query::parse either throws
//    std::invalid_argument or gives a query that can be matched (against a fixed message and
//    against one whose every field is the input itself).
// 2. The input as a request: "METHOD TARGET" on the first line, then "Accept:" and
//    "Authorization:" header lines up to an empty line, then the body; api::handle answers it
//    on a fresh in-memory store holding two messages. An Authorization line turns basic auth on.
//    handle() must never throw, and every answer has a status from 200 to 599.
// A PUT to a scenario path is not sent: it runs the scenario loader, which fuzz_scenario_loader
// covers (and whose yaml-cpp hangs would otherwise hide everything else here).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_input.hpp"
#include "http/api.hpp"
#include "scenario/loader.hpp"
#include "scenario/rules.hpp"

using namespace smtpmock;

namespace {

void fuzz_query(std::string_view text) {
  http::search_query q;
  try {
    q = http::search_query::parse(text);
  } catch (const std::invalid_argument&) {
    return;
  }
  http::search_fields fixed;
  fixed.from = "Sender <sender@x.example>";
  fixed.to = "a@y.example";
  fixed.subject = "Hello there";
  fixed.text = "body text";
  fixed.attachments = 1;
  fixed.reply_to = "Replies <r@x.example>";
  fixed.inlines = 1;
  fixed.size = 2048;
  fixed.received_ms = 1'764'547'200'000;  // 2025-12-01T00:00:00Z
  fixed.tags = {"orders", "red one"};
  (void)q.matches(fixed);
  http::search_fields self;
  self.from = self.to = self.cc = self.bcc = self.subject = self.message_id = self.session_id =
      self.text = self.reply_to = std::string(text);
  self.size = text.size();
  self.tags = {http::ascii_lower(text)};
  (void)q.matches(self);
  (void)http::ascii_lower(text);
}

std::string_view take_line(std::string_view& rest) {
  const auto lf = rest.find('\n');
  std::string_view line = rest.substr(0, lf);
  rest.remove_prefix(lf == std::string_view::npos ? rest.size() : lf + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char a = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] + 32) : s[i];
    if (a != prefix[i]) return false;
  }
  return true;
}

std::shared_ptr<const scenario::definition> base_definition() {
  static const auto def = scenario::load_definition_text("name: base\n", "base.yaml");
  return def;
}

void add_message(store::message_store& s, const std::string& id, const std::string& subject) {
  store::stored_message m;
  m.id = id;
  m.session_id = "S" + id;
  m.received = store::clock::now();
  m.env.mail_from = "sender@x.example";
  m.env.recipients = {{"a@y.example", {}}};
  m.data = "From: Sender <sender@x.example>\r\nTo: a@y.example\r\nSubject: " + subject +
           "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           "Content-Type: text/plain\r\n\r\nbody of " +
           subject +
           "\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: "
           "attachment; filename=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
           "--b--\r\n";
  s.add_message(std::move(m));
}

void fuzz_request(std::string_view input) {
  std::string_view rest = input;
  const std::string_view request_line = take_line(rest);
  http::http_request r;
  const auto space = request_line.find(' ');
  r.method = std::string(request_line.substr(0, space));
  const std::string_view target =
      space == std::string_view::npos ? std::string_view() : request_line.substr(space + 1);
  const auto q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  http::api_options options;
  options.new_message_id = [n = 0]() mutable { return "sent" + std::to_string(++n); };
  while (!rest.empty()) {
    const std::string_view line = take_line(rest);
    if (line.empty()) break;
    if (starts_with_nocase(line, "accept:")) r.accept = std::string(line.substr(7));
    if (starts_with_nocase(line, "upgrade:")) r.upgrade = std::string(line.substr(8));
    if (starts_with_nocase(line, "authorization:")) {
      r.authorization = std::string(line.substr(14));
      options.credentials = "user:secret";
    }
  }
  r.body = std::string(rest);
  if (r.method == "PUT") {
    const auto decoded = http::percent_decode(r.path, false);
    if (!decoded || decoded->find("scenario") != std::string::npos) return;
  }

  auto messages = std::make_shared<store::message_store>();
  add_message(*messages, "m1", "first");
  add_message(*messages, "m2", "second");
  auto metrics = std::make_shared<store::metrics>();
  auto control =
      std::make_shared<http::scenario_control>(base_definition(), "name: base\n", "base.yaml", 7);
  control->set_apply([](std::shared_ptr<scenario::engine>) {});
  http::api a(messages, metrics, control, options);
  const http::outcome out = a.handle(r);
  if (const auto* resp = std::get_if<http::http_response>(&out)) {
    fuzz::require(resp->status >= 200 && resp->status <= 599, "HTTP status outside 200..599");
  } else if (const auto* w_ptr = std::get_if<http::wait_request>(&out)) {
    const auto& w = *w_ptr;
    if (auto now = a.check_wait(w)) fuzz::require(now->status == 200, "a satisfied wait not 200");
    const http::http_response late = a.wait_timed_out(w);
    fuzz::require(late.status >= 400 && late.status <= 599, "a timed-out wait not an error");
  } else {
    fuzz::require(http::ascii_lower(r.upgrade) == "websocket",
                  "an upgrade without Upgrade: websocket");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz_query(text);
  fuzz_request(text);
  return 0;
}
