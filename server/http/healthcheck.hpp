// `smtpmock healthcheck`: one blocking HTTP/1.0 GET /readyz over a plain socket, for Docker's
// HEALTHCHECK in an image without curl. Bounded in time (connect, send and read share one
// deadline) and in the bytes it reads. Never throws.
#pragma once

#include <chrono>
#include <string>

namespace smtpmock::http {

/// The verdict: ok when /readyz answered 200; `detail` says what happened.
struct health_result {
  bool ok = false;
  std::string detail;
};

/// Checks the server listening on `listen` ("ADDR:PORT"; a wildcard address such as 0.0.0.0
/// or [::] is checked on the loopback address of its family).
health_result check_health(const std::string& listen,
                           std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace smtpmock::http
