// The live events of GET /api/events (http/events.hpp) without a socket: a sink collects the
// frames the hub sends as the store, the Read flags and the scenario change.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "api_fixture.hpp"
#include "http/events.hpp"
#include "http/mailbox.hpp"

using namespace api_testing;

namespace {

struct recorder {
  std::shared_ptr<std::vector<json>> frames = std::make_shared<std::vector<json>>();
  event_hub::sink sink() {
    return [frames = frames](const std::shared_ptr<const std::string>& f) {
      frames->push_back(json::parse(*f));
    };
  }
  /// The frames' types, in order, and forgets them.
  std::vector<std::string> types() {
    std::vector<std::string> out;
    for (const auto& f : *frames)
      out.push_back(f["Type"].get<std::string>());
    return out;
  }
  const json& last(const std::string& type) const {
    for (auto it = frames->rbegin(); it != frames->rend(); ++it)
      if ((*it)["Type"] == type) return (*it)["Data"];
    FAIL("no frame of type " << type);
    static const json none;
    return none;
  }
};

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("events: nothing is copied or sent while nobody listens") {
  fixture f;
  auto hub = f.a.events();
  CHECK(hub->subscribers() == 0);
  CHECK_FALSE(f.store->watched());
  f.store->open_session("S1", "127.0.0.1:5000", "base");
  f.add("m1", "first", "a@x.example");

  recorder r;
  const auto id = hub->subscribe(r.sink());
  REQUIRE(id != 0);
  CHECK(f.store->watched());
  // A new subscriber is told the mailbox's state first (Mailpit's "stats").
  CHECK(r.types() == strings{"stats"});
  CHECK(r.last("stats") == json{{"Total", 1}, {"Unread", 1}, {"Version", "0.0.0"}});
  hub->unsubscribe(id);
  CHECK_FALSE(f.store->watched());
  f.add("m2", "second", "a@x.example");
  CHECK(r.frames->size() == 1);
}

TEST_CASE("events: a session, its lines, findings, messages, reads and deletes, in order") {
  fixture f;
  auto hub = f.a.events();
  recorder r;
  REQUIRE(hub->subscribe(r.sink()) != 0);
  r.frames->clear();

  f.store->open_session("S1", "127.0.0.1:5000", "base");
  CHECK(r.types() == strings{"session"});
  CHECK(r.last("session")["ID"] == "S1");
  CHECK(r.last("session")["Live"] == true);
  CHECK(r.last("session")["Closed"].is_null());
  r.frames->clear();

  // A multi-line reply is one entry in the store and a line each as shown.
  f.store->append("S1", {store::clock::now(), store::direction::in, "EHLO client.example"});
  f.store->append("S1", {store::clock::now(), store::direction::out, "250-base\r\n250 SIZE 10"});
  store::transcript_line shaped{store::clock::now(), store::direction::out, "550 5.1.1 no"};
  shaped.rule = "reject-blocked";
  f.store->append("S1", shaped);
  REQUIRE(r.types() == strings{"transcript", "transcript", "transcript", "transcript"});
  const auto& frames = *r.frames;
  CHECK(frames[0]["Data"]["Session"] == "S1");
  CHECK(frames[0]["Data"]["Index"] == 0);
  CHECK(frames[0]["Data"]["Line"]["Direction"] == "in");
  CHECK(frames[0]["Data"]["Line"]["Text"] == "EHLO client.example");
  CHECK(frames[1]["Data"]["Index"] == 1);
  CHECK(frames[1]["Data"]["Line"]["Text"] == "250-base");
  CHECK(frames[2]["Data"]["Index"] == 2);
  CHECK(frames[2]["Data"]["Line"]["Text"] == "250 SIZE 10");
  CHECK(frames[3]["Data"]["Index"] == 3);
  CHECK(frames[3]["Data"]["Line"]["Rule"] == "reject-blocked");
  r.frames->clear();

  f.store->add_finding("S1", {"no-quit", "warning", "RFC 5321 4.1.1.10", "no QUIT"});
  CHECK(r.types() == strings{"finding", "session"});
  CHECK(r.last("finding")["Session"] == "S1");
  CHECK(r.last("finding")["Finding"]["Code"] == "no-quit");
  CHECK(r.last("finding")["Finding"]["Line"] == 4);
  CHECK(r.last("session")["FindingCounts"]["warning"] == 1);
  CHECK(r.last("session")["Rules"] == json::array({"reject-blocked"}));
  r.frames->clear();

  f.add("m1", "first", "a@x.example");
  CHECK(r.types() == strings{"new", "stats"});
  CHECK(r.last("new")["ID"] == "m1");
  CHECK(r.last("new")["Subject"] == "first");
  CHECK(r.last("stats")["Unread"] == 1);
  r.frames->clear();

  // Reading marks it read once: a second read changes nothing and says nothing.
  CHECK(f.call("GET", "/api/v1/message/m1").status == 200);
  CHECK(f.call("GET", "/api/v1/message/m1").status == 200);
  CHECK(r.types() == strings{"update", "stats"});
  CHECK(r.last("update") == json{{"ID", "m1"}, {"Read", true}});
  CHECK(r.last("stats")["Unread"] == 0);
  r.frames->clear();

  f.add("m2", "second", "a@x.example");
  f.add("m3", "third", "a@x.example");
  r.frames->clear();
  CHECK(f.call("DELETE", "/api/v1/messages", R"({"IDs":["m2"]})").status == 200);
  CHECK(r.types() == strings{"delete", "stats"});
  CHECK(r.last("delete") == json{{"ID", "m2"}});
  r.frames->clear();
  CHECK(f.call("DELETE", "/api/v1/messages").status == 200);
  CHECK(r.types() == strings{"truncate", "stats"});
  CHECK(r.last("stats")["Total"] == 0);
  r.frames->clear();

  f.store->append("S1", {store::clock::now(), store::direction::out, "221 2.0.0 bye"});
  r.frames->clear();
  f.store->close_session("S1");
  CHECK(r.types() == strings{"session"});
  CHECK(r.last("session")["Live"] == false);
  CHECK(r.last("session")["Closed"] == "quit");
}

TEST_CASE("events: messages the store drops for its bounds are deleted live") {
  store::store_limits limits;
  limits.max_messages = 2;
  fixture f;
  f.store = std::make_shared<store::message_store>(limits);
  api a(f.store, f.metrics, f.control, {});
  recorder r;
  REQUIRE(a.events()->subscribe(r.sink()) != 0);
  for (const char* id : {"m1", "m2", "m3"}) {
    store::stored_message m;
    m.id = id;
    m.data = "Subject: x\r\n\r\nx\r\n";
    f.store->add_message(std::move(m));
  }
  r.frames->clear();
  store::stored_message m;
  m.id = "m4";
  m.data = "Subject: x\r\n\r\nx\r\n";
  f.store->add_message(std::move(m));
  // (With no executor each change's stats follow it; on a strand queued ones share one.)
  CHECK(r.types() == strings{"delete", "stats", "new", "stats"});
  CHECK(r.last("delete")["ID"] == "m2");
}

TEST_CASE("events: scenario changes, and GET /api/events asks for a WebSocket") {
  fixture f;
  recorder r;
  REQUIRE(f.a.events()->subscribe(r.sink()) != 0);
  r.frames->clear();
  CHECK(f.call("PUT", "/api/v1/chaos", R"({"Sender":{"ErrorCode":451,"Probability":50}})").status ==
        200);
  CHECK(r.types() == strings{"scenario"});
  CHECK(r.last("scenario").contains("Listeners"));

  check_error(f.call("GET", "/api/events"), 400);
  CHECK(body(f.call("GET", "/api/events"))["Error"].get<std::string>().find("WebSocket") !=
        std::string::npos);
  http_request upgrade;
  upgrade.method = "GET";
  upgrade.path = "/api/events";
  upgrade.upgrade = "WebSocket";
  CHECK(std::holds_alternative<events_request>(f.a.handle(upgrade)));
  // Auth first, as for every other route.
  fixture locked(api_options{.credentials = "u:p"});
  const auto denied = locked.a.handle(upgrade);
  REQUIRE(std::holds_alternative<http_response>(denied));
  CHECK(std::get<http_response>(denied).status == 401);
  // Bounded: past max_subscribers the upgrade is refused before it happens.
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 1; i < event_hub::max_subscribers; ++i)
    ids.push_back(f.a.events()->subscribe(recorder{}.sink()));
  CHECK(f.a.events()->subscribe(recorder{}.sink()) == 0);
  const auto full = f.a.handle(upgrade);
  REQUIRE(std::holds_alternative<http_response>(full));
  CHECK(std::get<http_response>(full).status == 503);
}

TEST_CASE("events: how a session ended, as its transcript tells") {
  using store::direction;
  const auto line = [](direction d, std::string text) {
    return store::transcript_line{store::clock::now(), d, std::move(text)};
  };
  CHECK(store::closed_by({line(direction::in, "QUIT"), line(direction::out, "221 bye"),
                          line(direction::info, "closed")}) == "quit");
  CHECK(store::closed_by({line(direction::out, "421 4.4.2 idle timeout"),
                          line(direction::info, "closed")}) == "server");
  CHECK(store::closed_by({line(direction::in, "DATA"), line(direction::out, "354 go"),
                          line(direction::info, "rule: connection dropped after 4096 octets"),
                          line(direction::info, "closed")}) == "server");
  CHECK(store::closed_by({line(direction::in, "RCPT TO:<a@x>"),
                          line(direction::info, "rule cut: disconnect before reply")}) == "server");
  CHECK(store::closed_by({line(direction::in, "MAIL FROM:<a@x>"), line(direction::out, "250 ok"),
                          line(direction::info, "closed")}) == "client");
  CHECK(store::closed_by({}) == "client");
}
