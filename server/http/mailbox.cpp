// mailbox; see mailbox.hpp. A parse runs outside the lock: two requests for the same new
// message may both parse it (the results are equal; the last one is kept).
#include "http/mailbox.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_set>

namespace smtpmock::http {
namespace {

void append_addresses(std::string& out, const std::vector<mail_address>& list) {
  for (const auto& a : list) {
    out += a.name;
    out += " <";
    out += a.address;
    out += "> ";
  }
}

}  // namespace

std::vector<std::string> hidden_recipients(const smtp::envelope& env, const parsed_message& p) {
  std::unordered_set<std::string> named;
  for (const auto* list : {&p.to, &p.cc, &p.bcc}) {
    for (const auto& a : *list)
      named.insert(ascii_lower(a.address));
  }
  std::vector<std::string> out;
  for (const auto& r : env.recipients) {
    if (!named.contains(ascii_lower(r.address))) out.push_back(r.address);
  }
  return out;
}

mailbox::mailbox(std::shared_ptr<store::message_store> store) : store_(std::move(store)) {}

message_ptr mailbox::find(const std::string& id) const {
  if (id == "latest") {
    auto list = store_->messages();
    return list.empty() ? nullptr : list.front();
  }
  return store_->message(id);
}

mailbox::entry& mailbox::entry_locked(const message_ptr& m) {
  auto [it, inserted] = entries_.try_emplace(m->id);
  if (inserted) {
    it->second.message = m;
    // Bounded: the store keeps at most max_messages alive; sweep the rest now and then.
    if (entries_.size() > 2 * store_->limits().max_messages + 64) {
      sweep_locked();
      return entries_.try_emplace(m->id).first->second;
    }
  }
  return it->second;
}

void mailbox::sweep_locked() {
  std::erase_if(entries_, [](const auto& kv) { return kv.second.message.expired(); });
}

std::shared_ptr<const parsed_message> mailbox::parsed(const message_ptr& m) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(m->id);
    if (it != entries_.end() && it->second.parsed) return it->second.parsed;
  }
  auto p = std::make_shared<const parsed_message>(parse_message(m->data));
  std::lock_guard lock(mutex_);
  auto& e = entry_locked(m);
  e.message = m;
  e.parsed = p;
  return p;
}

bool mailbox::is_read(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.read;
}

void mailbox::set_read(const std::string& id, bool read) {
  auto m = store_->message(id);
  if (!m) return;
  {
    std::lock_guard lock(mutex_);
    bool& flag = entry_locked(m).read;
    if (flag == read) return;
    flag = read;
  }
  if (read_changed_) read_changed_(m->id, read);
}

search_fields mailbox::fields(const message_ptr& m) {
  const auto p = parsed(m);
  search_fields f;
  if (p->from) {
    f.from = p->from->name + " <" + p->from->address + "> ";
  }
  f.from += m->env.mail_from;
  append_addresses(f.to, p->to);
  for (const auto& r : m->env.recipients) {
    f.to += r.address;
    f.to += ' ';
  }
  append_addresses(f.cc, p->cc);
  append_addresses(f.bcc, p->bcc);
  append_addresses(f.reply_to, p->reply_to);
  for (const auto& r : hidden_recipients(m->env, *p)) {
    f.bcc += r;
    f.bcc += ' ';
  }
  f.subject = p->subject;
  f.message_id = p->message_id;
  f.session_id = m->session_id;
  f.listener = ascii_lower(m->listener.name);
  f.text = p->text.empty() ? html_to_text(p->html) : p->text;
  f.read = is_read(m->id);
  for (const auto& t : tags(m))
    f.tags.push_back(ascii_lower(t));
  f.attachments = p->attachments.size();
  f.inlines = p->inlines.size();
  f.size = m->data.size();
  f.received_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(m->received.time_since_epoch()).count();
  return f;
}

std::size_t mailbox::unread(const std::vector<message_ptr>& messages) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(messages.begin(), messages.end(), [&](const auto& m) {
        auto it = entries_.find(m->id);
        return it == entries_.end() || !it->second.read;
      }));
}

std::size_t mailbox::remove(const std::vector<std::string>& ids) {
  const std::size_t n = store_->delete_messages(ids);
  std::lock_guard lock(mutex_);
  deleted_ += n;
  sweep_locked();
  return n;
}

std::size_t mailbox::deleted() const {
  std::lock_guard lock(mutex_);
  return deleted_;
}

std::optional<std::string> clean_tag(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '@';
    if (ok) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != ' ') {
      out.push_back(' ');
    }
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  if (out.size() > 100) out.resize(100);
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  if (out.empty()) return std::nullopt;
  return out;
}

namespace {

/// Cleaned, without case-insensitive duplicates (the first spelling wins), sorted.
std::vector<std::string> tag_set(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& n : names) {
    auto t = clean_tag(n);
    if (t && seen.insert(ascii_lower(*t)).second) out.push_back(std::move(*t));
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Mailpit's first tags of a message: X-Tags (comma-separated) and plus-address tags.
std::vector<std::string> initial_tags(const parsed_message& p) {
  std::vector<std::string> names;
  for (const auto& [name, value] : p.headers) {
    if (ascii_lower(name) != "x-tags") continue;
    std::string_view rest(value);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      names.emplace_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    break;  // the first X-Tags header, as Mailpit reads it
  }
  auto plus_tags = [&](const mail_address& a) {
    // "bob+one+two@example.com" tags "one" and "two".
    const auto at = a.address.rfind('@');
    const auto plus = a.address.find('+');
    if (at == std::string::npos || plus == std::string::npos || plus > at) return;
    std::string_view rest = std::string_view(a.address).substr(plus + 1, at - plus - 1);
    while (true) {
      const auto next = rest.find('+');
      names.emplace_back(rest.substr(0, next));
      if (next == std::string_view::npos) break;
      rest.remove_prefix(next + 1);
    }
  };
  for (const auto* list : {&p.to, &p.cc, &p.bcc}) {
    for (const auto& a : *list)
      plus_tags(a);
  }
  if (p.from) plus_tags(*p.from);
  return tag_set(names);
}

}  // namespace

std::vector<std::string> mailbox::tags(const message_ptr& m) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(m->id);
    if (it != entries_.end() && it->second.tags) return *it->second.tags;
  }
  auto first = initial_tags(*parsed(m));
  std::lock_guard lock(mutex_);
  auto& e = entry_locked(m);
  if (!e.tags) e.tags = std::move(first);  // another thread may have set them meanwhile
  return *e.tags;
}

void mailbox::set_tags(const message_ptr& m, const std::vector<std::string>& names) {
  auto set = tag_set(names);
  std::lock_guard lock(mutex_);
  entry_locked(m).tags = std::move(set);
}

std::vector<std::pair<std::string, std::size_t>> mailbox::tag_counts() {
  std::map<std::string, std::size_t> counts;
  for (const auto& m : all()) {
    for (auto& t : tags(m))
      ++counts[std::move(t)];
  }
  return {counts.begin(), counts.end()};
}

mailbox::tag_change mailbox::rename_tag(const std::string& from, const std::string& to) {
  const auto name = clean_tag(to);
  if (!name) return tag_change::invalid;
  const auto messages = all();
  for (const auto& m : messages)
    tags(m);  // read every message's first tags before changing any
  std::lock_guard lock(mutex_);
  bool found = false;
  for (const auto& m : messages) {
    auto& list = *entry_locked(m).tags;
    found = found || std::find(list.begin(), list.end(), from) != list.end();
    if (*name != from && std::find(list.begin(), list.end(), *name) != list.end())
      return tag_change::exists;
  }
  if (!found) return tag_change::not_found;
  for (const auto& m : messages) {
    auto& list = *entry_locked(m).tags;
    auto it = std::find(list.begin(), list.end(), from);
    if (it == list.end()) continue;
    *it = *name;
    list = tag_set(list);
  }
  return tag_change::done;
}

bool mailbox::delete_tag(const std::string& name) {
  const auto messages = all();
  for (const auto& m : messages)
    tags(m);
  std::lock_guard lock(mutex_);
  bool found = false;
  for (const auto& m : messages) {
    auto& list = *entry_locked(m).tags;
    const auto before = list.size();
    std::erase(list, name);
    found = found || list.size() != before;
  }
  return found;
}

std::vector<message_ptr> mailbox::matching(const search_query& query,
                                           const std::vector<message_ptr>& among, std::size_t max) {
  if (query.terms().empty())
    return {among.begin(),
            among.begin() + static_cast<std::ptrdiff_t>(std::min(max, among.size()))};
  std::vector<message_ptr> out;
  for (const auto& msg : among) {
    if (out.size() >= max) break;
    if (query.matches(fields(msg))) out.push_back(msg);
  }
  return out;
}

}  // namespace smtpmock::http
