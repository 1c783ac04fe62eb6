// JSON shapes; see views.hpp. The envelope and session objects come from store/json (one
// definition of those shapes for the spool and the API), parsed back into ordered JSON.
#include "http/views.hpp"

#include <algorithm>
#include <map>

#include "http/api.hpp"
#include "store/json.hpp"

namespace smtpmock::http {
namespace {

json address_list(const std::vector<mail_address>& list) {
  json a = json::array();
  for (const auto& x : list)
    a.push_back(address_json(x));
  return a;
}

/// From: the header's first mailbox, else the envelope sender (a message without From).
json from_json(const message_ptr& m, const parsed_message& p) {
  if (p.from) return address_json(*p.from);
  return address_json({"", m->env.mail_from});
}

/// Bcc: the header's, plus envelope recipients no header names (how Mailpit shows them).
json bcc_json(const message_ptr& m, const parsed_message& p) {
  json a = address_list(p.bcc);
  for (const auto& r : hidden_recipients(m->env, p))
    a.push_back(address_json({"", r}));
  return a;
}

std::string date_of(const message_ptr& m, const parsed_message& p) {
  if (p.date_ms) {
    return store::rfc3339(store::clock::time_point(std::chrono::milliseconds(*p.date_ms)));
  }
  return store::rfc3339(m->received);
}

json attachments_json(const std::vector<attachment_info>& list) {
  json a = json::array();
  for (const auto& x : list) {
    a.push_back(json{{"PartID", x.part_id},
                     {"FileName", x.file_name},
                     {"ContentType", x.content_type},
                     {"ContentID", x.content_id},
                     {"Size", x.size},
                     {"Checksums", json{{"MD5", x.md5}, {"SHA1", x.sha1}, {"SHA256", x.sha256}}}});
  }
  return a;
}

/// The links of a List-Unsubscribe header: <mailto:...>, <https://...>.
json unsubscribe_links(const std::string& header) {
  json links = json::array();
  std::size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string::npos) {
    const auto end = header.find('>', pos);
    if (end == std::string::npos) break;
    links.push_back(header.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  return links;
}

/// "alice@example.com" -> MailHog's Path {Relays, Mailbox, Domain, Params}.
json mailhog_path(const std::string& address, const std::string& params) {
  const auto at = address.rfind('@');
  return json{{"Relays", nullptr},
              {"Mailbox", at == std::string::npos ? address : address.substr(0, at)},
              {"Domain", at == std::string::npos ? std::string() : address.substr(at + 1)},
              {"Params", params}};
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

/// MailHog's header map: original names, every value in order.
json mailhog_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
  json h = json::object();
  for (const auto& [name, value] : headers) {
    if (!h.contains(name)) h[name] = json::array();
    h[name].push_back(value);
  }
  return h;
}

json mailhog_mime(const std::vector<mime_node>& parts) {
  json list = json::array();
  for (const auto& p : parts) {
    list.push_back(json{{"Headers", mailhog_headers(p.headers)},
                        {"Body", p.body},
                        {"Size", p.body.size()},
                        {"MIME", p.multipart ? mailhog_mime(p.parts) : json(nullptr)}});
  }
  return json{{"Parts", std::move(list)}};
}

}  // namespace

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json address_json(const mail_address& a) {
  return json{{"Name", a.name}, {"Address", a.address}};
}

json envelope_json(const smtp::envelope& env) {
  return json::parse(store::envelope_json(env));
}

namespace {

json listener_json(const store::listener_ref& l) {
  return json{{"Name", l.name}, {"Address", l.address}};
}

/// The findings of a message's transaction, as GET /api/v1/findings shows them.
json message_findings_json(const store::stored_message& m) {
  json out = json::array();
  for (const auto& f : m.findings)
    out.push_back(finding_json(m.session_id, f));
  return out;
}

}  // namespace

json message_summary_json(mailbox& box, const message_ptr& m) {
  const auto p = box.parsed(m);
  return json{{"ID", m->id},
              {"MessageID", p->message_id},
              {"Read", box.is_read(m->id)},
              {"From", from_json(m, *p)},
              {"To", address_list(p->to)},
              {"Cc", address_list(p->cc)},
              {"Bcc", bcc_json(m, *p)},
              {"ReplyTo", address_list(p->reply_to)},
              {"Subject", p->subject},
              {"Created", store::rfc3339(m->received)},
              {"Username", m->env.auth_user},
              {"Tags", box.tags(m)},
              {"Size", m->data.size()},
              {"Attachments", p->attachments.size()},
              {"Snippet", p->snippet},
              {"SessionID", m->session_id},
              {"Listener", listener_json(m->listener)},
              {"Scenario", m->scenario},
              {"Envelope", envelope_json(m->env)},
              {"Findings", message_findings_json(*m)}};
}

json message_json(mailbox& box, const message_ptr& m) {
  const auto p = box.parsed(m);
  return json{{"ID", m->id},
              {"MessageID", p->message_id},
              {"From", from_json(m, *p)},
              {"To", address_list(p->to)},
              {"Cc", address_list(p->cc)},
              {"Bcc", bcc_json(m, *p)},
              {"ReplyTo", address_list(p->reply_to)},
              {"ReturnPath", p->return_path.empty() ? m->env.mail_from : p->return_path},
              {"Subject", p->subject},
              {"ListUnsubscribe", json{{"Header", p->list_unsubscribe},
                                       {"Links", unsubscribe_links(p->list_unsubscribe)},
                                       {"Errors", ""},
                                       {"HeaderPost", p->list_unsubscribe_post}}},
              {"Date", date_of(m, *p)},
              {"Tags", box.tags(m)},
              {"Username", m->env.auth_user},
              {"Text", p->text},
              {"HTML", p->html},
              {"Size", m->data.size()},
              {"Inline", attachments_json(p->inlines)},
              {"Attachments", attachments_json(p->attachments)},
              {"SessionID", m->session_id},
              {"Listener", listener_json(m->listener)},
              {"Scenario", m->scenario},
              {"Envelope", envelope_json(m->env)},
              {"Findings", message_findings_json(*m)}};
}

json messages_summary_json(mailbox& box, const std::vector<message_ptr>& all,
                           const std::vector<message_ptr>& matches, std::size_t start,
                           std::size_t limit) {
  json items = json::array();
  for (std::size_t i = start; i < matches.size() && i - start < limit; ++i)
    items.push_back(message_summary_json(box, matches[i]));
  const std::size_t count = items.size();
  json tags = json::array();
  for (const auto& [name, n] : box.tag_counts())
    tags.push_back(name);
  return json{{"total", all.size()},
              {"unread", box.unread(all)},
              {"count", count},
              {"messages_count", matches.size()},
              {"messages_unread", box.unread(matches)},
              {"start", start},
              {"tags", std::move(tags)},
              {"messages", std::move(items)}};
}

std::string canonical_header(std::string_view name) {
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    upper = c == '-';
  }
  return out;
}

json headers_json(const parsed_message& p) {
  std::map<std::string, std::vector<std::string>> sorted;
  for (const auto& [name, value] : p.headers)
    sorted[canonical_header(name)].push_back(value);
  json h = json::object();
  for (auto& [name, values] : sorted)
    h[name] = values;
  return h;
}

json mailhog_message_json(const message_ptr& m) {
  const mime_node tree = parse_tree(m->data);
  json to = json::array();
  json raw_to = json::array();
  for (const auto& r : m->env.recipients) {
    to.push_back(mailhog_path(r.address, joined(r.params)));
    raw_to.push_back(r.address);
  }
  const std::string created = store::rfc3339(m->received);
  return json{{"ID", m->id},
              {"From", mailhog_path(m->env.mail_from, joined(m->env.mail_params))},
              {"To", std::move(to)},
              {"Content", json{{"Headers", mailhog_headers(tree.headers)},
                               {"Body", tree.body},
                               {"Size", m->data.size()},
                               {"MIME", nullptr}}},
              {"Created", created},
              {"MIME", tree.multipart ? mailhog_mime(tree.parts) : json(nullptr)},
              {"Raw", json{{"From", m->env.mail_from},
                           {"To", std::move(raw_to)},
                           {"Data", m->data},
                           {"Helo", m->env.helo}}},
              {"SessionID", m->session_id},
              {"Envelope", envelope_json(m->env)}};
}

json mailhog_list_json(const std::vector<message_ptr>& matches, std::size_t start,
                       std::size_t limit) {
  json items = json::array();
  std::size_t bytes = 0;  // each message is in the answer twice (Content.Body and Raw.Data)
  for (std::size_t i = start; i < matches.size() && i - start < limit; ++i) {
    bytes += 2 * matches[i]->data.size();
    if (!items.empty() && bytes > max_listing_bytes) break;
    items.push_back(mailhog_message_json(matches[i]));
  }
  const std::size_t count = items.size();
  return json{
      {"total", matches.size()}, {"count", count}, {"start", start}, {"items", std::move(items)}};
}

json session_summary_json(const store::session_summary& s) {
  json ids = json::array();
  for (const auto& id : s.message_ids)
    ids.push_back(id);
  return json{{"ID", s.id},
              {"ClientAddress", s.client_address},
              {"Scenario", s.scenario},
              {"Listener", listener_json(s.listener)},
              {"Started", store::rfc3339(s.started)},
              {"Ended", s.ended ? json(store::rfc3339(*s.ended)) : json(nullptr)},
              {"Live", !s.ended.has_value()},
              {"Truncated", s.truncated},
              {"Lines", s.line_count},
              {"MessageIDs", std::move(ids)},
              {"FindingCounts", finding_counts_json(s.findings)},
              {"Rules", s.rules},
              {"Closed", s.closed.empty() ? json(nullptr) : json(std::string(s.closed))}};
}

json finding_counts_json(const std::vector<store::finding_record>& findings) {
  std::size_t error = 0, warning = 0, info = 0;
  for (const auto& f : findings) {
    if (f.severity == "error") {
      ++error;
    } else if (f.severity == "warning") {
      ++warning;
    } else {
      ++info;
    }
  }
  return json{{"error", error}, {"warning", warning}, {"info", info}};
}

json finding_json(const std::string& session_id, const store::finding_record& f) {
  return json{
      {"SessionID", session_id}, {"Code", f.code}, {"Severity", f.severity},      {"RFC", f.rfc},
      {"Text", f.text},          {"Line", f.line}, {"Time", store::rfc3339(f.at)}};
}

}  // namespace smtpmock::http
