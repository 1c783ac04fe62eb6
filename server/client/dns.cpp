// c-ares behind dns.hpp: one channel, each query driven to completion with select() until its
// callback ran or the deadline passed.
#include "client/dns.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/select.h>

#include <algorithm>
#include <cstring>

namespace smtpmock::client {
namespace {

/// RFC 1035 3.2.2: the TYPE values asked for, and the IN class.
constexpr int class_in = 1;
constexpr int type_mx = 15;

struct pending {
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<std::string> values;
  std::vector<mx_record> mx;
};

void on_hostent(void* arg, int status, int /*timeouts*/, hostent* host) {
  auto* p = static_cast<pending*>(arg);
  p->done = true;
  p->status = status;
  if (status != ARES_SUCCESS || host == nullptr) return;
  if (host->h_addr_list != nullptr && host->h_addrtype == AF_INET) {
    for (char** a = host->h_addr_list; *a != nullptr; ++a) {
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(host->h_addrtype, *a, text, sizeof text);
      p->values.emplace_back(text);
    }
  }
}

void on_ptr(void* arg, int status, int /*timeouts*/, hostent* host) {
  auto* p = static_cast<pending*>(arg);
  p->done = true;
  p->status = status;
  if (status != ARES_SUCCESS || host == nullptr) return;
  if (host->h_name != nullptr) p->values.emplace_back(host->h_name);
  if (host->h_aliases != nullptr)
    for (char** a = host->h_aliases; *a != nullptr; ++a)
      p->values.emplace_back(*a);
}

void on_mx(void* arg, int status, int /*timeouts*/, unsigned char* answer, int length) {
  auto* p = static_cast<pending*>(arg);
  p->done = true;
  p->status = status;
  if (status != ARES_SUCCESS) return;
  ares_mx_reply* reply = nullptr;
  p->status = ares_parse_mx_reply(answer, length, &reply);
  if (p->status != ARES_SUCCESS) return;
  for (ares_mx_reply* r = reply; r != nullptr; r = r->next)
    p->mx.push_back({r->host, r->priority});
  ares_free_data(reply);
}

std::string strip_dot(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

}  // namespace

struct dns_resolver::impl {
  ares_channel channel = nullptr;
  std::chrono::milliseconds timeout;

  /// Runs the channel until `p` completes or the deadline passes (then cancels).
  void wait(pending& p) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!p.done) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::milliseconds(0)) {
        ares_cancel(channel);  // runs the callback with ARES_ECANCELLED
        if (!p.done) {
          p.done = true;
          p.status = ARES_ETIMEOUT;
        }
        p.status = ARES_ETIMEOUT;
        return;
      }
      fd_set readers, writers;
      FD_ZERO(&readers);
      FD_ZERO(&writers);
      const int nfds = ares_fds(channel, &readers, &writers);
      if (nfds == 0) {
        // Nothing in flight and no callback yet: c-ares answered from its own state.
        ares_process(channel, &readers, &writers);
        if (!p.done) {
          p.done = true;
          p.status = ARES_ECONNREFUSED;
        }
        return;
      }
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
      timeval max{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
      timeval tv{};
      timeval* t = ares_timeout(channel, &max, &tv);
      select(nfds, &readers, &writers, nullptr, t);
      ares_process(channel, &readers, &writers);
    }
  }
};

dns_resolver::dns_resolver(const std::string& server, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->timeout = timeout;
  static const int init = ares_library_init(ARES_LIB_INIT_ALL);
  if (init != ARES_SUCCESS) {
    error_ = std::string("c-ares: ") + ares_strerror(init);
    return;
  }
  ares_options options{};
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  options.timeout = static_cast<int>(std::max<long long>(100, timeout.count() / 2));
  options.tries = 2;
  char dns_only[] = "b";
  if (!server.empty()) {
    options.lookups = dns_only;  // a chosen server is asked alone, not the hosts file
    mask |= ARES_OPT_LOOKUPS;
  }
  int status = ares_init_options(&impl_->channel, &options, mask);
  if (status != ARES_SUCCESS) {
    error_ = std::string("c-ares: ") + ares_strerror(status);
    impl_->channel = nullptr;
    return;
  }
  if (!server.empty()) {
    status = ares_set_servers_ports_csv(impl_->channel, server.c_str());
    if (status != ARES_SUCCESS) error_ = "--dns-server " + server + ": " + ares_strerror(status);
  }
}

dns_resolver::~dns_resolver() {
  if (impl_ && impl_->channel != nullptr) ares_destroy(impl_->channel);
}

mx_lookup dns_resolver::mx(const std::string& domain) {
  mx_lookup out;
  if (!error_.empty()) {
    out.error = error_;
    return out;
  }
  pending p;
  ares_query(impl_->channel, domain.c_str(), class_in, type_mx, &on_mx, &p);
  impl_->wait(p);
  if (p.status != ARES_SUCCESS) {
    out.error = "MX " + domain + ": " + ares_strerror(p.status);
    return out;
  }
  for (auto& r : p.mx)
    r.host = strip_dot(r.host);
  std::stable_sort(p.mx.begin(), p.mx.end(),
                   [](const mx_record& a, const mx_record& b) { return a.priority < b.priority; });
  out.records = std::move(p.mx);
  return out;
}

name_lookup dns_resolver::addresses(const std::string& host) {
  name_lookup out;
  if (!error_.empty()) {
    out.error = error_;
    return out;
  }
  pending p;
  ares_gethostbyname(impl_->channel, host.c_str(), AF_INET, &on_hostent, &p);
  impl_->wait(p);
  if (p.status != ARES_SUCCESS) {
    out.error = "A " + host + ": " + ares_strerror(p.status);
    return out;
  }
  out.values = std::move(p.values);
  return out;
}

name_lookup dns_resolver::ptr(const std::string& ip) {
  name_lookup out;
  if (!error_.empty()) {
    out.error = error_;
    return out;
  }
  unsigned char addr[16] = {};
  int family = AF_INET;
  int length = 4;
  if (inet_pton(AF_INET, ip.c_str(), addr) != 1) {
    if (inet_pton(AF_INET6, ip.c_str(), addr) != 1) {
      out.error = "not an IP address: " + ip;
      return out;
    }
    family = AF_INET6;
    length = 16;
  }
  pending p;
  ares_gethostbyaddr(impl_->channel, addr, length, family, &on_ptr, &p);
  impl_->wait(p);
  if (p.status != ARES_SUCCESS) {
    out.error = "PTR " + ip + ": " + ares_strerror(p.status);
    return out;
  }
  for (auto& v : p.values) {
    std::string name = strip_dot(v);
    if (std::find(out.values.begin(), out.values.end(), name) == out.values.end())
      out.values.push_back(std::move(name));
  }
  return out;
}

}  // namespace smtpmock::client
