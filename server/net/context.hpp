// The server's io_context, for modules that run their own I/O on it (the HTTP API), so the
// whole program has one event loop and one set of threads. Includes asio: include it only
// from .cpp files that already pay for asio (http/http_server.cpp), never from a header.
#pragma once

#include <asio/io_context.hpp>

#include "net/server.hpp"

namespace smtpmock::net {

/// The io_context `s` runs on its threads (valid for the server's lifetime).
asio::io_context& context(server& s);

}  // namespace smtpmock::net
