// The HTTP listener: RESTinio on an io_context and threads of its own, in front of http::api,
// so no HTTP request (a large listing, a slow client) can delay an SMTP reply. This header is
// free of RESTinio and asio (pimpl): only http_server.cpp includes them. Long-polls wait
// without threads or client polling: the store's listener wakes them.
// Invariant: after stop() no new connection is accepted and every pending long-poll has been
// answered (503); after join() no HTTP thread runs and destruction touches nothing freed.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "http/api.hpp"
#include "store/message_store.hpp"

namespace smtpmock::http {

class http_server {
 public:
  /// `listen` is "ADDR:PORT" or "[IPV6]:PORT" (port 0: ephemeral); `threads` serve requests.
  http_server(std::shared_ptr<store::message_store> store, std::shared_ptr<api> handler,
              std::string listen, unsigned threads = 2);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and starts accepting (before or after the io_context runs); returns the bound
  /// address ("127.0.0.1:8025"). Throws net::bind_error.
  std::string start();
  /// Closes the listener and answers pending long-polls 503; safe from any thread.
  void stop();
  /// After stop(): lets in-flight answers leave (up to `grace`), then stops the threads and
  /// waits for them. Idempotent; the destructor calls it.
  void join(std::chrono::milliseconds grace = std::chrono::milliseconds(200));

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace smtpmock::http
