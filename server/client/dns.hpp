// DNS look-ups for `smtpmock check` through c-ares: MX records in preference order, A records
// and PTR names, from the system's resolvers or one chosen with --dns-server ADDR[:PORT].
// Blocking calls, each bounded by the timeout; failures are values (an error text), never
// exceptions. Only dns.cpp includes c-ares. Not thread-safe: one resolver per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace smtpmock::client {

/// One MX record.
struct mx_record {
  std::string host;
  unsigned priority = 0;
};

struct mx_lookup {
  std::vector<mx_record> records;  ///< sorted by priority, then as received
  std::string error;               ///< empty on success
};

struct name_lookup {
  std::vector<std::string> values;  ///< addresses, or PTR names (without a trailing dot)
  std::string error;
};

class dns_resolver {
 public:
  /// `server` is "ADDR", "ADDR:PORT" or "[V6]:PORT"; empty uses /etc/resolv.conf (and the
  /// hosts file); a chosen server is asked alone, without the hosts file.
  dns_resolver(const std::string& server, std::chrono::milliseconds timeout);
  ~dns_resolver();
  dns_resolver(const dns_resolver&) = delete;
  dns_resolver& operator=(const dns_resolver&) = delete;

  /// Why the resolver could not be set up; empty when it works.
  const std::string& error() const { return error_; }
  mx_lookup mx(const std::string& domain);
  /// The IPv4 addresses of `host`.
  name_lookup addresses(const std::string& host);
  /// The PTR names of `ip` (IPv4 or IPv6).
  name_lookup ptr(const std::string& ip);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string error_;
};

}  // namespace smtpmock::client
