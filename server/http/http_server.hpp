// The HTTP listener: RESTinio on the SMTP server's own io_context and threads, in front of
// http::api. This header is free of RESTinio and asio (pimpl): only http_server.cpp includes
// them. Long-polls wait without threads or client polling: the store's listener wakes them.
// Invariant: after stop() no new connection is accepted and every pending long-poll has been
// answered (503); the object must be destroyed before the net::server whose context it uses.
#pragma once

#include <memory>
#include <string>

#include "http/api.hpp"
#include "net/server.hpp"

namespace smtpmock::http {

class http_server {
 public:
  /// `listen` is "ADDR:PORT" or "[IPV6]:PORT" (port 0: ephemeral).
  http_server(net::server& net, std::shared_ptr<store::message_store> store,
              std::shared_ptr<api> handler, std::string listen);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and starts accepting (before or after the io_context runs); returns the bound
  /// address ("127.0.0.1:8025"). Throws net::bind_error.
  std::string start();
  /// Closes the listener and answers pending long-polls 503; safe from any thread.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace smtpmock::http
