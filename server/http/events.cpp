// Live events; see events.hpp.
#include "http/events.hpp"

#include "http/mailbox.hpp"
#include "http/views.hpp"
#include "store/json.hpp"

namespace smtpmock::http {

event_hub::event_hub(mailbox& box, std::string version) : box_(box), version_(std::move(version)) {}

void event_hub::attach() {
  std::weak_ptr<event_hub> weak = weak_from_this();
  box_.store().add_watcher([weak](const store::store_change& change) {
    if (auto self = weak.lock()) self->on_change(change);
  });
  box_.on_read_changed([weak](const std::string& id, bool read) {
    auto self = weak.lock();
    if (!self || self->subscribers() == 0) return;
    self->run([self, id, read] {
      self->publish("update", dump(json{{"ID", id}, {"Read", read}}));
      self->stats_soon();
    });
  });
}

void event_hub::set_executor(executor post) {
  std::lock_guard lock(mutex_);
  post_ = std::move(post);
}

void event_hub::stop() {
  executor gone;  // destroyed outside the lock
  std::map<std::uint64_t, sink> sinks;
  std::lock_guard lock(mutex_);
  stopped_ = true;
  gone.swap(post_);
  sinks.swap(sinks_);
  box_.store().set_watched(false);
}

void event_hub::run(std::function<void()> work) {
  executor post;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    post = post_;
  }
  if (post) {
    post(std::move(work));
  } else {
    work();
  }
}

std::uint64_t event_hub::subscribe(sink s) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || sinks_.size() >= max_subscribers) return 0;
    id = next_id_++;
    sinks_.emplace(id, std::move(s));
    box_.store().set_watched(true);
  }
  auto self = shared_from_this();
  run([self, id] {
    sink first;
    {
      std::lock_guard lock(self->mutex_);
      const auto it = self->sinks_.find(id);
      if (it == self->sinks_.end()) return;
      first = it->second;
    }
    first(std::make_shared<const std::string>(
        dump(json{{"Type", "stats"}, {"Data", json::parse(self->stats_json())}})));
  });
  return id;
}

void event_hub::unsubscribe(std::uint64_t id) {
  sink gone;  // destroyed outside the lock (it may own a socket)
  std::lock_guard lock(mutex_);
  const auto it = sinks_.find(id);
  if (it == sinks_.end()) return;
  gone = std::move(it->second);
  sinks_.erase(it);
  if (sinks_.empty()) box_.store().set_watched(false);
}

void event_hub::unsubscribe_all() {
  std::map<std::uint64_t, sink> gone;
  std::lock_guard lock(mutex_);
  gone.swap(sinks_);
  box_.store().set_watched(false);
}

std::size_t event_hub::subscribers() const {
  std::lock_guard lock(mutex_);
  return sinks_.size();
}

void event_hub::scenario_changed(const std::vector<std::string>& listeners) {
  if (subscribers() == 0) return;
  auto self = shared_from_this();
  run([self, data = dump(json{{"Listeners", listeners}})] { self->publish("scenario", data); });
}

void event_hub::on_change(const store::store_change& change) {
  // On the changing (SMTP) thread: copy and go.
  auto self = shared_from_this();
  run([self, change] {
    try {
      self->build(change);
    } catch (const std::exception&) {
      // A message or session that cannot be shown is not shown live; the API still has it.
    }
  });
}

void event_hub::build(const store::store_change& c) {
  using kind = store::store_change::kind;
  switch (c.what) {
    case kind::message_added:
      if (const auto m = box_.store().message(c.message_id)) {
        publish("new", dump(message_summary_json(box_, m)));
        stats_soon();
      }
      break;
    case kind::messages_deleted:
      if (c.all) {
        publish("truncate", "null");
      } else {
        for (const auto& id : c.message_ids)
          publish("delete", dump(json{{"ID", id}}));
      }
      stats_soon();
      break;
    case kind::line_appended: {
      if (!c.line) break;
      const json lines = json::parse(store::shown_lines_json(*c.line));
      std::size_t index = c.index;
      for (const auto& line : lines)
        publish("transcript",
                dump(json{{"Session", c.session_id}, {"Index", index++}, {"Line", line}}));
      break;
    }
    case kind::finding_added:
      if (c.finding) {
        publish("finding", dump(json{{"Session", c.session_id},
                                     {"Finding", finding_json(c.session_id, *c.finding)}}));
      }
      [[fallthrough]];  // its counts changed
    case kind::session_opened:
    case kind::session_closed:
      if (const auto s = box_.store().summary(c.session_id))
        publish("session", dump(session_summary_json(*s)));
      break;
  }
}

void event_hub::publish(std::string_view type, const std::string& data) {
  std::vector<sink> targets;
  {
    std::lock_guard lock(mutex_);
    targets.reserve(sinks_.size());
    for (const auto& [id, s] : sinks_)
      targets.push_back(s);
  }
  if (targets.empty()) return;
  // {"Type":...,"Data":...} around the data's JSON text, which is already serialized.
  auto frame = std::make_shared<std::string>();
  frame->reserve(data.size() + type.size() + 20);
  *frame += "{\"Type\":\"";
  *frame += type;
  *frame += "\",\"Data\":";
  *frame += data;
  *frame += "}";
  const std::shared_ptr<const std::string> shared = std::move(frame);
  for (const auto& s : targets)
    s(shared);
}

void event_hub::stats_soon() {
  if (stats_due_) return;
  stats_due_ = true;
  auto self = shared_from_this();
  run([self] {
    self->stats_due_ = false;
    self->publish("stats", self->stats_json());
  });
}

std::string event_hub::stats_json() const {
  const auto all = box_.all();
  return dump(json{{"Total", all.size()}, {"Unread", box_.unread(all)}, {"Version", version_}});
}

}  // namespace smtpmock::http
