// The health check client; see healthcheck.hpp. POSIX sockets only: a non-blocking connect
// and poll() against one deadline, so a hung server fails the check instead of hanging it.
#include "http/healthcheck.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/address.hpp"

namespace smtpmock::http {
namespace {

using steady = std::chrono::steady_clock;

/// Closes a descriptor on scope exit.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

int remaining_ms(steady::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

bool wait_for(int fd, short events, steady::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

health_result check_health(const std::string& listen, std::chrono::milliseconds timeout) {
  auto parsed = net::parse_listen_address(listen);
  if (!parsed) return {false, net::listen_address_problem(listen)};
  std::string host = parsed->host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";

  sockaddr_storage addr{};
  socklen_t len = 0;
  if (parsed->v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(parsed->port);
    if (::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return {false, "bad address"};
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(parsed->port);
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return {false, "bad address"};
    len = sizeof(sockaddr_in);
  }
  const std::string target = net::format_address(host, parsed->port);
  const auto deadline = steady::now() + timeout;

  fd_guard sock{::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) return {false, std::string("socket: ") + std::strerror(errno)};
  ::fcntl(sock.fd, F_SETFL, ::fcntl(sock.fd, F_GETFL) | O_NONBLOCK);
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) return {false, target + ": connect: " + std::strerror(errno)};
    if (!wait_for(sock.fd, POLLOUT, deadline)) return {false, target + ": connect timed out"};
    int err = 0;
    socklen_t err_len = sizeof err;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return {false, target + ": connect: " + std::strerror(err)};
  }

  const std::string request =
      "GET /readyz HTTP/1.0\r\nHost: " + target + "\r\nUser-Agent: smtpmock-healthcheck\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    if (!wait_for(sock.fd, POLLOUT, deadline)) return {false, target + ": send timed out"};
    const ssize_t n = ::send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return {false, target + ": send: " + std::strerror(errno)};
    }
    sent += static_cast<std::size_t>(n);
  }

  // The status line is all we need; read until its end (bounded).
  std::string response;
  char buf[512];
  while (response.find("\r\n") == std::string::npos && response.size() < 4096) {
    if (!wait_for(sock.fd, POLLIN, deadline)) return {false, target + ": no answer in time"};
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return {false, target + ": recv: " + std::strerror(errno)};
    }
    if (n == 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  const std::string line = response.substr(0, response.find("\r\n"));
  // "HTTP/1.1 200 OK"
  const auto space = line.find(' ');
  if (line.rfind("HTTP/", 0) != 0 || space == std::string::npos) {
    return {false, target + ": not an HTTP answer"};
  }
  const std::string code = line.substr(space + 1, 3);
  if (code == "200") return {true, target + ": ready"};
  return {false, target + ": /readyz answered " + line.substr(space + 1)};
}

}  // namespace smtpmock::http
