// Reconnect storms; see reconnects.hpp.
#include "net/reconnects.hpp"

#include <cstdio>

namespace smtpmock::net {

void reconnect_watch::answered_421(const std::string& ip, clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (clients_.size() >= max_clients && !clients_.contains(ip)) clients_.clear();
  clients_[ip].last_421 = now;
}

std::optional<std::string> reconnect_watch::connected(const std::string& ip,
                                                      clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = clients_.find(ip);
  if (it == clients_.end()) return std::nullopt;
  client& c = it->second;
  if (now - c.last_421 > after_421) {
    clients_.erase(it);
    return std::nullopt;
  }
  c.recent.push_back(now);
  while (!c.recent.empty() && now - c.recent.front() >= window)
    c.recent.pop_front();
  if (c.recent.size() <= storm_connections) return std::nullopt;
  const std::size_t n = c.recent.size();
  c.recent.clear();
  const double since = std::chrono::duration<double>(now - c.last_421).count();
  char text[160];
  std::snprintf(text, sizeof text,
                "%zu connections within 1 s from %s, %.1f s after the server answered 421", n,
                ip.c_str(), since);
  return std::string(text);
}

}  // namespace smtpmock::net
