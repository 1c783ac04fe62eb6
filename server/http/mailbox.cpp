// mailbox; see mailbox.hpp. A parse runs outside the lock: two requests for the same new
// message may both parse it (the results are equal; the last one is kept).
#include "http/mailbox.hpp"

#include <algorithm>
#include <chrono>
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
  std::lock_guard lock(mutex_);
  entry_locked(m).read = read;
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
  f.text = p->text.empty() ? html_to_text(p->html) : p->text;
  f.read = is_read(m->id);
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
