// Tests for store::message_store: bounds, ordering, lookup, deletion, transcripts, sessions,
// concurrency, and the atomic spool (exact bytes, parseable JSON, all-or-nothing on failure).
#include "store/message_store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using namespace smtpmock;
using namespace smtpmock::store;

namespace {

stored_message make_message(const std::string& id, const std::string& session = "s1",
                            std::string data = "Subject: hi\r\n\r\nbody\r\n") {
  stored_message m;
  m.id = id;
  m.session_id = session;
  m.received = clock::now();
  m.env.client_address = "127.0.0.1:40000";
  m.env.helo = "client.example";
  m.env.esmtp = true;
  m.env.mail_from = "alice@example.com";
  m.env.mail_params = {"SIZE=100", "BODY=8BITMIME"};
  m.env.recipients = {{"bob@example.com", {"NOTIFY=SUCCESS"}}, {"carol@example.com", {}}};
  m.env.auth_user = "alice";
  m.env.tls_version = "TLSv1.3";
  m.env.tls_cipher = "TLS_AES_256_GCM_SHA384";
  m.data = std::move(data);
  return m;
}

transcript_line make_line(direction d, std::string text, bool tls = false, std::string rule = {}) {
  return transcript_line{clock::now(), d, std::move(text), tls, std::move(rule)};
}

/// A fresh directory under the system temp directory, removed at scope end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("smtpmock-store-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The spool's files, but for the store's lock file.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != ".smtpmock.lock") out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("unit: the bound on messages drops the oldest first") {
  message_store s({.max_messages = 3});
  for (int i = 1; i <= 5; ++i)
    s.add_message(make_message("m" + std::to_string(i)));
  CHECK(s.message_count() == 3);
  CHECK(s.message("m1") == nullptr);
  CHECK(s.message("m2") == nullptr);
  CHECK(s.message("m3") != nullptr);
  CHECK(s.message("m5") != nullptr);
}

TEST_CASE("unit: the bound on message bytes drops the oldest first, and keeps the newest") {
  message_store s({.max_messages = 100, .max_message_bytes = 2500});
  const std::string kilo(1000, 'x');
  for (int i = 1; i <= 5; ++i)
    s.add_message(make_message("m" + std::to_string(i), "s1", kilo));
  CHECK(s.message_count() == 2);  // 3,000 bytes would be over 2,500
  CHECK(s.message_bytes() == 2000);
  CHECK(s.message("m3") == nullptr);
  CHECK(s.message("m4") != nullptr);
  CHECK(s.message("m5") != nullptr);
  s.add_message(make_message("huge", "s1", std::string(10000, 'y')));  // alone over the bound
  CHECK(s.message_count() == 1);
  CHECK(s.message("huge") != nullptr);
  CHECK(s.message_bytes() == 10000);
  s.add_message(make_message("small", "s1", kilo));
  CHECK(s.message_count() == 1);
  CHECK(s.message_bytes() == 1000);
  CHECK(s.delete_messages({"small"}) == 1);
  CHECK(s.message_bytes() == 0);
  s.add_message(make_message("a", "s1", kilo));
  CHECK(s.delete_messages({}) == 1);
  CHECK(s.message_bytes() == 0);
}

TEST_CASE("unit: messages are listed newest first") {
  message_store s;
  for (int i = 1; i <= 4; ++i)
    s.add_message(make_message("m" + std::to_string(i)));
  const auto all = s.messages();
  REQUIRE(all.size() == 4);
  CHECK(all[0]->id == "m4");
  CHECK(all[1]->id == "m3");
  CHECK(all[3]->id == "m1");
}

TEST_CASE("unit: a message is found by id with its envelope and bytes") {
  message_store s;
  s.add_message(make_message("abc", "s9", "X: y\r\n\r\nz\r\n"));
  const auto m = s.message("abc");
  REQUIRE(m != nullptr);
  CHECK(m->session_id == "s9");
  CHECK(m->data == "X: y\r\n\r\nz\r\n");
  CHECK(m->env.recipients.size() == 2);
  CHECK(s.message("nope") == nullptr);
}

TEST_CASE("unit: a reader's copy outlives the message's eviction") {
  message_store s({.max_messages = 1});
  s.add_message(make_message("old"));
  const auto held = s.message("old");
  s.add_message(make_message("new"));
  CHECK(s.message("old") == nullptr);
  REQUIRE(held != nullptr);
  CHECK(held->id == "old");
}

TEST_CASE("unit: delete removes all messages or the given ids") {
  message_store s;
  for (int i = 1; i <= 5; ++i)
    s.add_message(make_message("m" + std::to_string(i)));
  CHECK(s.delete_messages({"m2", "m4", "missing"}) == 2);
  CHECK(s.message_count() == 3);
  CHECK(s.message("m2") == nullptr);
  CHECK(s.message("m3") != nullptr);
  CHECK(s.delete_messages() == 3);
  CHECK(s.message_count() == 0);
  CHECK(s.delete_messages() == 0);
}

TEST_CASE("unit: a transcript beyond its bound is truncated but the session is kept") {
  message_store s({.max_transcript_lines = 100});
  s.open_session("s1", "127.0.0.1:1", "default");
  for (int i = 0; i < 200000; ++i)
    s.append("s1", make_line(direction::in, "NOOP"));
  s.append("s1", make_line(direction::out, "221 bye"));
  s.close_session("s1");
  const auto rec = s.session("s1");
  REQUIRE(rec.has_value());
  CHECK(rec->lines.size() == 100);
  CHECK(rec->truncated);
  CHECK(rec->ended.has_value());
}

TEST_CASE("unit: lines for an unknown session are ignored") {
  message_store s;
  s.append("ghost", make_line(direction::in, "EHLO x"));
  s.close_session("ghost");
  CHECK_FALSE(s.session("ghost").has_value());
  CHECK(s.sessions().empty());
}

TEST_CASE("unit: sessions are newest first, bounded, and get a close time") {
  message_store s({.max_sessions = 2});
  s.open_session("a", "127.0.0.1:1", "default");
  s.open_session("b", "127.0.0.1:2", "greylist");
  s.append("b", make_line(direction::out, "220 hi"));
  s.append("b", make_line(direction::in, "EHLO x"));
  {
    const auto b = s.session("b");
    REQUIRE(b.has_value());
    CHECK_FALSE(b->ended.has_value());
    CHECK(b->scenario == "greylist");
    CHECK(b->lines.size() == 2);
    CHECK_FALSE(b->truncated);
  }
  s.close_session("b");
  const auto b = s.session("b");
  REQUIRE(b->ended.has_value());
  CHECK(*b->ended >= b->started);

  s.open_session("c", "127.0.0.1:3", "default");
  const auto all = s.sessions();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == "c");
  CHECK(all[1].id == "b");
  CHECK_FALSE(s.session("a").has_value());
}

TEST_CASE("unit: a session lists the ids of its messages") {
  message_store s;
  s.open_session("s1", "127.0.0.1:1", "default");
  s.add_message(make_message("m1", "s1"));
  s.add_message(make_message("m2", "s1"));
  s.add_message(make_message("m3", "other"));
  const auto rec = s.session("s1");
  REQUIRE(rec.has_value());
  CHECK(rec->message_ids == std::vector<std::string>{"m1", "m2"});
}

TEST_CASE("unit: concurrent writers and readers keep every message and the bounds") {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  message_store s({.max_messages = 100000, .max_sessions = 8, .max_transcript_lines = 50});
  std::atomic<bool> stop{false};
  std::atomic<bool> reader_ok{true};
  std::thread reader([&] {
    while (!stop.load()) {
      for (const auto& m : s.messages()) {
        if (m->id.empty() || m->data.empty()) reader_ok = false;
      }
      if (s.sessions().size() > 8) reader_ok = false;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      const std::string sid = "s" + std::to_string(t);
      s.open_session(sid, "127.0.0.1:" + std::to_string(t), "default");
      for (int i = 0; i < per_thread; ++i) {
        s.append(sid, make_line(direction::in, "MAIL FROM:<a@b>"));
        s.add_message(make_message(sid + "-" + std::to_string(i), sid));
      }
      s.close_session(sid);
    });
  }
  for (auto& w : writers)
    w.join();
  stop = true;
  reader.join();

  CHECK(reader_ok);
  CHECK(s.message_count() == threads * per_thread);
  const auto all = s.sessions();
  CHECK(all.size() == threads);
  for (const auto& rec : all) {
    CHECK(rec.lines.size() == 50);
    CHECK(rec.truncated);
    CHECK(rec.message_ids.size() == per_thread);
    CHECK(rec.ended.has_value());
  }
}

TEST_CASE("unit: the spool holds the exact bytes and parseable JSON, with no temp file left") {
  temp_dir dir;
  const fs::path spool = dir.path / "nested" / "spool";
  message_store s({}, spool);
  CHECK(fs::is_directory(spool));

  using namespace std::string_literals;
  const std::string data = "Subject: bytes\r\n\r\n\x00\xff\x1b[31m\r\n..dot\r\n\0"s;
  REQUIRE(data.size() == 35);
  s.open_session("s1", "127.0.0.1:40000", "default");
  s.append("s1", make_line(direction::out, "220 hello", false, "banner"));
  s.append("s1", make_line(direction::in, "EHLO client.example"));
  s.add_message(make_message("m1", "s1", data));

  CHECK(read_all(spool / "m1.eml") == data);
  const auto j = nlohmann::json::parse(read_all(spool / "m1.json"));
  CHECK(j["ID"] == "m1");
  CHECK(j["SessionID"] == "s1");
  CHECK(j["Size"] == data.size());
  const auto& env = j["Envelope"];
  CHECK(env["ClientAddress"] == "127.0.0.1:40000");
  CHECK(env["Helo"] == "client.example");
  CHECK(env["ESMTP"] == true);
  CHECK(env["MailFrom"] == "alice@example.com");
  CHECK(env["MailParams"] == nlohmann::json::array({"SIZE=100", "BODY=8BITMIME"}));
  REQUIRE(env["Recipients"].size() == 2);
  CHECK(env["Recipients"][0]["Address"] == "bob@example.com");
  CHECK(env["Recipients"][0]["Params"] == nlohmann::json::array({"NOTIFY=SUCCESS"}));
  CHECK(env["AuthUser"] == "alice");
  CHECK(env["TLSVersion"] == "TLSv1.3");
  CHECK(env["TLSCipher"] == "TLS_AES_256_GCM_SHA384");
  CHECK_FALSE(j.contains("Transcript"));
  CHECK(j["TranscriptLines"] == nlohmann::json{{"From", 0}, {"To", 2}});

  s.close_session("s1");
  const auto sj = nlohmann::json::parse(read_all(spool / "session-s1.json"));
  CHECK(sj["ID"] == "s1");
  REQUIRE(sj["Transcript"].size() == 2);
  CHECK(sj["Transcript"][0]["Rule"] == "banner");
  CHECK(sj["Ended"].is_string());
  CHECK(sj["MessageIDs"] == nlohmann::json::array({"m1"}));
  CHECK(s.spool_failures() == 0);

  for (const auto& name : names_in(spool)) {
    CHECK_MESSAGE(name.find(".tmp") == std::string::npos, name);
  }
  CHECK(names_in(spool).size() == 3);
}

TEST_CASE("unit: an id cannot place a spool file outside the spool directory") {
  temp_dir dir;
  const fs::path spool = dir.path / "spool";
  message_store s({}, spool);
  s.add_message(make_message("../escape", "s1"));
  CHECK_FALSE(fs::exists(dir.path / "escape.eml"));
  CHECK(names_in(spool).size() == 2);
  CHECK(s.message("../escape") != nullptr);
}

TEST_CASE("unit: a spool path that is a file fails at construction") {
  temp_dir dir;
  const fs::path file = dir.path / "not-a-dir";
  std::ofstream(file) << "x";
  CHECK_THROWS_AS(message_store({}, file), std::runtime_error);
  CHECK_THROWS_AS(message_store({}, file / "below"), std::runtime_error);
}

TEST_CASE("unit: a failed spool write throws and keeps nothing") {
  temp_dir dir;
  const fs::path spool = dir.path / "spool";
  message_store s({}, spool);
  s.open_session("s1", "127.0.0.1:1", "default");
  s.add_message(make_message("ok", "s1"));

  // The directory disappears under the running server and a file takes its place
  // (permissions would not do: tests may run as root).
  fs::remove_all(spool);
  std::ofstream(spool) << "x";
  CHECK_THROWS_AS(s.add_message(make_message("lost", "s1")), std::runtime_error);
  CHECK(s.message("lost") == nullptr);
  CHECK(s.message_count() == 1);
  CHECK(s.session("s1")->message_ids == std::vector<std::string>{"ok"});
  CHECK(names_in(dir.path) == std::vector<std::string>{"spool"});

  // Closing the session cannot spool either; it still ends and the failure is counted.
  s.close_session("s1");
  CHECK(s.session("s1")->ended.has_value());
  CHECK(s.spool_failures() == 1);
}

TEST_CASE("unit: when only the JSON spool file fails the .eml is removed too") {
  temp_dir dir;
  const fs::path spool = dir.path / "spool";
  message_store s({}, spool);
  // A directory squatting on m1.json makes the rename of the JSON file fail.
  fs::create_directories(spool / "m1.json" / "occupied");
  CHECK_THROWS_AS(s.add_message(make_message("m1", "s1")), std::runtime_error);
  CHECK(s.message_count() == 0);
  CHECK(names_in(spool) == std::vector<std::string>{"m1.json"});
}

TEST_CASE("unit: each message refers to its own lines of the session's transcript") {
  message_store s;
  s.open_session("s1", "127.0.0.1:40000", "default");
  for (int i = 0; i < 3; ++i)
    s.append("s1", make_line(direction::in, "line " + std::to_string(i)));
  s.add_message(make_message("m1", "s1", "a"));
  for (int i = 0; i < 4; ++i)
    s.append("s1", make_line(direction::in, "more " + std::to_string(i)));
  s.add_message(make_message("m2", "s1", "b"));
  s.add_message(make_message("m3", "s1", "c"));
  CHECK(s.message("m1")->transcript_from == 0);
  CHECK(s.message("m1")->transcript_to == 3);
  CHECK(s.message("m2")->transcript_from == 3);
  CHECK(s.message("m2")->transcript_to == 7);
  CHECK(s.message("m3")->transcript_from == 7);
  CHECK(s.message("m3")->transcript_to == 7);
}

TEST_CASE("unit: spool bytes grow linearly with messages on one kept connection") {
  // Each <id>.json used to embed the whole transcript so far: quadratic on a kept connection.
  temp_dir dir;
  message_store s({}, dir.path);
  s.open_session("s1", "127.0.0.1:40000", "default");
  std::vector<std::uintmax_t> json_sizes;
  for (int i = 0; i < 200; ++i) {
    for (int k = 0; k < 8; ++k)
      s.append("s1", make_line(direction::in, std::string(100, 'x')));
    const std::string id = "m" + std::to_string(i);
    s.add_message(make_message(id, "s1", "Subject: x\r\n\r\nbody\r\n"));
    json_sizes.push_back(fs::file_size(dir.path / (id + ".json")));
  }
  // The 200th message's JSON is about as big as the 1st (ids and numbers grow by a few bytes).
  CHECK(json_sizes.back() < json_sizes.front() + 16);
}

TEST_CASE("unit: a session's transcript is bounded in bytes as well as lines") {
  store_limits limits;
  limits.max_transcript_bytes = 10'000;
  message_store s(limits);
  s.open_session("s1", "127.0.0.1:40000", "default");
  for (int i = 0; i < 1000; ++i)
    s.append("s1", make_line(direction::in, std::string(500, 'x')));
  const auto rec = s.session("s1");
  REQUIRE(rec);
  CHECK(rec->truncated);
  CHECK(rec->bytes <= 10'000);
  CHECK(rec->lines.size() < 20);
  CHECK(s.transcript_bytes() == rec->bytes);
}

TEST_CASE("unit: all transcripts together stay under their bound; ended sessions go first") {
  store_limits limits;
  limits.max_total_transcript_bytes = 50'000;
  message_store s(limits);
  s.open_session("live", "127.0.0.1:1", "default");
  s.append("live", make_line(direction::in, std::string(1000, 'l')));
  for (int i = 0; i < 200; ++i) {
    const std::string id = "s" + std::to_string(i);
    s.open_session(id, "127.0.0.1:2", "default");
    s.append(id, make_line(direction::in, std::string(1000, 'x')));
    s.close_session(id);
  }
  CHECK(s.transcript_bytes() <= 50'000);
  CHECK(s.session("live"));      // live sessions are never dropped for bytes
  CHECK(s.session("s199"));      // the newest ended one stays
  CHECK_FALSE(s.session("s0"));  // the oldest ended ones went
  CHECK(s.session_count() < 60);
}

TEST_CASE("unit: session summaries carry counts, not transcripts") {
  message_store s;
  s.open_session("s1", "127.0.0.1:40000", "default");
  s.append("s1", make_line(direction::in, "EHLO x"));
  s.append("s1", make_line(direction::out, "250 ok"));
  s.add_message(make_message("m1", "s1", "a"));
  s.open_session("s2", "127.0.0.1:40001", "yahoo");
  const auto list = s.session_summaries();
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == "s2");  // newest first
  CHECK(list[0].scenario == "yahoo");
  CHECK(list[1].line_count == 2);
  CHECK(list[1].message_ids == std::vector<std::string>{"m1"});
  CHECK_FALSE(list[1].ended);
}

TEST_CASE("unit: a store on a spool loads back its messages and ended sessions") {
  temp_dir dir;
  using namespace std::string_literals;
  const std::string raw = "Subject: again\r\n\r\n\x00\xff body\r\n"s;
  {
    message_store first({}, dir.path);
    first.open_session("s1", "127.0.0.1:40000", "yahoo");
    first.append("s1", make_line(direction::out, "220 hello", false, "banner"));
    first.append("s1", make_line(direction::in, "EHLO client.example", true));
    first.add_message(make_message("m1", "s1", raw));
    first.add_message(make_message("m2", "s1", "b"));
    first.close_session("s1");
    first.open_session("live", "127.0.0.1:40001", "default");  // never ended: not spooled
  }
  message_store second({}, dir.path);
  CHECK(second.spool_warnings().empty());
  REQUIRE(second.message_count() == 2);
  const auto m1 = second.message("m1");
  REQUIRE(m1);
  CHECK(m1->data == raw);
  CHECK(m1->session_id == "s1");
  CHECK(m1->env.mail_from == "alice@example.com");
  REQUIRE(m1->env.recipients.size() == 2);
  CHECK(m1->env.recipients[0].params == std::vector<std::string>{"NOTIFY=SUCCESS"});
  CHECK(m1->env.tls_cipher == "TLS_AES_256_GCM_SHA384");
  CHECK(m1->transcript_to == 2);
  CHECK(second.messages().front()->id == "m2");  // newest first, as before the restart
  const auto s1 = second.session("s1");
  REQUIRE(s1);
  CHECK(s1->scenario == "yahoo");
  CHECK(s1->ended.has_value());
  CHECK(s1->message_ids == std::vector<std::string>{"m1", "m2"});
  REQUIRE(s1->lines.size() == 2);
  CHECK(s1->lines[0].rule == "banner");
  CHECK(s1->lines[1].tls);
  CHECK(s1->lines[1].dir == direction::in);
  CHECK_FALSE(second.session("live"));
}

TEST_CASE("unit: loading back keeps only the newest max_messages") {
  temp_dir dir;
  {
    message_store first({}, dir.path);
    for (int i = 0; i < 5; ++i) {
      auto m = make_message("m" + std::to_string(i), "s1", "x");
      m.received = store::clock::now() + std::chrono::seconds(i);
      first.add_message(std::move(m));
    }
  }
  message_store second({.max_messages = 2}, dir.path);
  REQUIRE(second.message_count() == 2);
  CHECK(second.messages()[0]->id == "m4");
  CHECK(second.messages()[1]->id == "m3");
}

TEST_CASE("unit: a corrupt or half-written spool file is skipped with a warning naming it") {
  temp_dir dir;
  {
    message_store first({}, dir.path);
    first.add_message(make_message("good", "s1", "data"));
    first.add_message(make_message("torn", "s1", "more data"));
  }
  {
    std::ofstream(dir.path / "half.json") << "{\"ID\": \"half\", \"Sess";
    std::ofstream(dir.path / "half.eml") << "x";
    std::ofstream(dir.path / "session-bad.json") << "[1, 2";
    std::ofstream(dir.path / "torn.eml", std::ios::trunc) << "more";  // shorter than its Size
  }
  message_store second({}, dir.path);
  CHECK(second.message_count() == 1);
  CHECK(second.message("good"));
  const auto warnings = second.spool_warnings();
  REQUIRE(warnings.size() == 3);
  std::string all;
  for (const auto& w : warnings)
    all += w + "\n";
  CHECK(all.find("half.json") != std::string::npos);
  CHECK(all.find("session-bad.json") != std::string::npos);
  CHECK(all.find("torn.json") != std::string::npos);
}

TEST_CASE("unit: a second store on the same spool is refused while the first lives") {
  temp_dir dir;
  auto first = std::make_unique<message_store>(store_limits{}, dir.path);
  CHECK_THROWS_AS(message_store({}, dir.path), spool_error);
  try {
    message_store again({}, dir.path);
  } catch (const spool_error& e) {
    CHECK(std::string(e.what()).find("in use by another smtpmock") != std::string::npos);
  }
  first.reset();
  CHECK_NOTHROW(message_store({}, dir.path));
}

TEST_CASE("unit: sessions are found by id after evictions from the front and the middle") {
  store_limits limits;
  limits.max_sessions = 4;
  limits.max_total_transcript_bytes = 2 * (sizeof(transcript_line) + 1000);  // two lines
  message_store s(limits);
  const std::string kilo(1000, 'x');
  for (const char* id : {"a", "b", "c", "d"})
    s.open_session(id, "127.0.0.1:1", "t");
  s.append("a", make_line(direction::in, kilo));
  s.close_session("a");
  s.append("c", make_line(direction::in, kilo));
  s.close_session("c");
  s.append("b", make_line(direction::in, kilo));  // live; over the bound: a goes (the front)
  CHECK_FALSE(s.session("a"));
  REQUIRE(s.session("c"));
  s.append("d", make_line(direction::in, kilo));  // over again: c goes, between b and d
  CHECK_FALSE(s.session("a"));
  CHECK_FALSE(s.session("c"));
  REQUIRE(s.session("b"));
  REQUIRE(s.session("d"));
  s.append("b", make_line(direction::out, "250 b"));
  s.append("d", make_line(direction::out, "250 d"));
  CHECK(s.session("b")->lines.back().text == "250 b");
  CHECK(s.session("d")->lines.back().text == "250 d");
  // Past max_sessions the oldest goes from the front, and the rest stay reachable.
  for (const char* id : {"e", "f", "g"})
    s.open_session(id, "127.0.0.1:1", "t");
  CHECK_FALSE(s.session("b"));
  for (const char* id : {"d", "e", "f", "g"}) {
    s.append(id, make_line(direction::in, std::string("NOOP ") + id));
    REQUIRE(s.session(id));
    CHECK(s.session(id)->lines.back().text == std::string("NOOP ") + id);
  }
  s.append("a", make_line(direction::in, "gone"));  // an evicted session is ignored
  CHECK_FALSE(s.session("a"));
}

TEST_CASE("unit: a multi-line reply is one entry, shown and counted as its lines") {
  message_store s({.max_transcript_lines = 6});
  s.open_session("s1", "127.0.0.1:40000", "default");
  s.append("s1", make_line(direction::in, "EHLO c"));
  s.append("s1", make_line(direction::out, "250-mx\r\n250-PIPELINING\r\n250 SIZE 100", false, "r"));
  auto rec = s.session("s1");
  REQUIRE(rec);
  CHECK(rec->lines.size() == 2);  // two entries in memory
  CHECK(rec->shown == 4);         // four lines shown
  CHECK(shown_lines(rec->lines[1]) == 3);
  std::vector<std::string> shown;
  for_each_shown(rec->lines[1], [&](const transcript_line& l, std::string_view text) {
    CHECK(l.rule == "r");
    shown.emplace_back(text);
  });
  CHECK(shown == std::vector<std::string>{"250-mx", "250-PIPELINING", "250 SIZE 100"});
  // A message's transcript range counts shown lines, as the JSON transcript lists them.
  s.add_message(make_message("m1", "s1", "a"));
  CHECK(s.message("m1")->transcript_to == 4);
  // The line bound counts shown lines too: 4 + 3 would pass 6, so the reply is dropped.
  s.append("s1", make_line(direction::out, "250-a\r\n250-b\r\n250 c"));
  s.append("s1", make_line(direction::in, "QUIT"));
  rec = s.session("s1");
  CHECK(rec->shown == 5);
  CHECK(rec->truncated);
}
