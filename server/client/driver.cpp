// The client session coroutine; see driver.hpp.
// Loop: next_event() -> observe, or write and read, or run a TLS handshake. Expected I/O outcomes
// (refused, eof, timeout) arrive as values through as_tuple and are handed to the core as
// receive_eof() / timeout(); a session never throws past run().
// TLS: the tcp::socket stays the session's; after a handshake an ssl::stream over it carries
// every read and write (read_some/write_all are the only two I/O paths), as in net/session.cpp.
#include "client/driver.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <charconv>
#include <ctime>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <variant>

#include "client/local_name.hpp"
#include "client/swaks.hpp"
#include "net/flex_stream.hpp"

namespace smtpmock::client {
namespace {

using asio::ip::tcp;
using net::flex_stream;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// One read takes at most this much; the core keeps at most one read plus a partial line.
constexpr std::size_t read_buffer_size = 64 * 1024;

double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

bool is_ip_literal(const std::string& host) {
  asio::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

/// The client TLS context: the versions allowed, CAs for --tls-verify (the system's, or
/// --tls-ca-path), a client certificate. Throws std::runtime_error naming a file it cannot use.
std::shared_ptr<asio::ssl::context> make_client_context(const connection_settings& where) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  const tls_versions& v = where.versions;
  SSL_CTX* native = ctx->native_handle();
  // The version limits are OpenSSL's; NOTE(compat): TLS 1.0/1.1 also need OpenSSL's security
  // level to allow them, which this does not lower.
  SSL_CTX_set_min_proto_version(native, 0);
  SSL_CTX_set_max_proto_version(native, 0);
  SSL_CTX_clear_options(native, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 |
                                    SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2 | SSL_OP_NO_TLSv1_3);
  long off = 0;
  if (!v.sslv2) off |= SSL_OP_NO_SSLv2;
  if (!v.sslv3) off |= SSL_OP_NO_SSLv3;
  if (!v.tlsv1) off |= SSL_OP_NO_TLSv1;
  if (!v.tlsv1_1) off |= SSL_OP_NO_TLSv1_1;
  if (!v.tlsv1_2) off |= SSL_OP_NO_TLSv1_2;
  if (!v.tlsv1_3) off |= SSL_OP_NO_TLSv1_3;
  SSL_CTX_set_options(native, off | SSL_OP_ALL);
  if (!where.tls_cipher.empty() && SSL_CTX_set_cipher_list(native, where.tls_cipher.c_str()) != 1)
    throw std::runtime_error("--tls-cipher: no cipher in '" + where.tls_cipher + "'");
  asio::error_code ec;
  if (where.tls_ca_path.empty()) {
    ctx->set_default_verify_paths(ec);  // without CAs every chain fails to verify, as it should
  } else {
    std::error_code fs;
    if (std::filesystem::is_directory(where.tls_ca_path, fs)) {
      ctx->add_verify_path(where.tls_ca_path, ec);
    } else {
      ctx->load_verify_file(where.tls_ca_path, ec);
    }
    if (ec) throw std::runtime_error("--tls-ca-path: cannot use " + where.tls_ca_path);
  }
  if (!where.tls_cert.empty()) {
    ctx->use_certificate_chain_file(where.tls_cert, ec);
    if (ec) throw std::runtime_error("--tls-cert: cannot use " + where.tls_cert + " (PEM)");
    ctx->use_private_key_file(where.tls_key, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("--tls-key: cannot use " + where.tls_key + " (PEM)");
    if (SSL_CTX_check_private_key(native) != 1)
      throw std::runtime_error("--tls-key: " + where.tls_key + " does not match --tls-cert");
  }
  return ctx;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  std::string out = bio_text(bio);
  BIO_free(bio);
  return out;
}

/// What the handshake established, from the SSL object.
tls_info describe_tls(SSL* ssl) {
  tls_info info;
  info.version = SSL_get_version(ssl);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  info.cipher = cipher != nullptr ? SSL_CIPHER_get_name(cipher) : "";
  const long verify = SSL_get_verify_result(ssl);
  info.verified = verify == X509_V_OK;
  if (!info.verified) info.verify_error = X509_verify_cert_error_string(verify);
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) {
    info.verified = false;
    info.verify_error = "no certificate";
    return info;
  }
  info.subject = name_text(X509_get_subject_name(cert));
  info.issuer = name_text(X509_get_issuer_name(cert));
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  std::tm tm{};
  if (not_after != nullptr && ASN1_TIME_to_tm(not_after, &tm) == 1) {
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    info.not_after = text;
    int days = 0, seconds = 0;
    if (ASN1_TIME_diff(&days, &seconds, nullptr, not_after) == 1) info.days_left = days;
  }
  X509_free(cert);
  return info;
}

/// A handshake failure as text: OpenSSL's reason, or asio's.
std::string tls_failure(const asio::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
    return "the server closed the connection during the handshake";
  return ec.message();
}

class session {
 public:
  session(asio::any_io_executor ex, const connection_settings& where, smtp::client_options opts,
          session_observer& observer, std::shared_ptr<asio::ssl::context> ctx)
      : where_(where),
        stream_(ex),
        timer_(ex),
        observer_(observer),
        ctx_(std::move(ctx)),
        opts_(std::move(opts)),
        // Kept until connected only when the EHLO name waits for the local address.
        conn_(opts_.ehlo_name.empty() ? smtp::client_connection(opts_)
                                      : smtp::client_connection(std::exchange(opts_, {}))),
        buffer_(read_buffer_size),
        started_(clock::now()) {}

  asio::awaitable<session_report> run() {
    try {
      co_await connect();
      if (report_.connected) co_await converse();
    } catch (const std::exception& e) {
      // Only programming errors get here; the session still reports, as a closed connection.
      observer_.info(std::string("error: ") + e.what());
      if (report_.connected && !conn_.finished()) conn_.receive_eof();
    }
    close();
    report_.total_ms = ms_between(started_, clock::now());
    report_.result = conn_.result();
    report_.banner = conn_.banner();
    report_.ehlo = conn_.ehlo_reply();
    report_.extensions = conn_.extensions();
    report_.auth_mechanisms = conn_.auth_mechanisms();
    report_.auth_mechanism = conn_.auth_mechanism_used();
    report_.authenticated = conn_.authenticated();
    if (!report_.connected) {
      report_.result.failed = smtp::client_stage::connect;
      report_.result.error = report_.connect_error;
    }
    co_return std::move(report_);
  }

 private:
  void arm() { timer_.expires_after(where_.timeout); }

  asio::awaitable<void> connect() {
    const std::string port = std::to_string(where_.port);
    std::vector<tcp::endpoint> endpoints;
    if (!where_.address.empty()) {
      asio::error_code ec;
      auto addr = asio::ip::make_address(where_.address, ec);
      if (ec) {
        fail_connect(connect_failure::resolve, "bad address " + where_.address);
        co_return;
      }
      endpoints.emplace_back(addr, where_.port);
    } else {
      tcp::resolver resolver(stream_.next().get_executor());
      arm();
      auto result = co_await (resolver.async_resolve(where_.host, port, use_tuple) ||
                              timer_.async_wait(use_tuple));
      if (result.index() == 1) {
        fail_connect(connect_failure::timeout, "timed out resolving " + where_.host);
        co_return;
      }
      auto [ec, found] = std::get<0>(result);
      if (ec) {
        fail_connect(connect_failure::resolve,
                     "cannot resolve " + where_.host + ": " + ec.message());
        co_return;
      }
      for (const auto& entry : found)
        endpoints.push_back(entry.endpoint());
    }
    // swaks' -4 / -6.
    std::erase_if(endpoints, [&](const tcp::endpoint& e) {
      return (where_.family == ip_family::v4 && !e.address().is_v4()) ||
             (where_.family == ip_family::v6 && !e.address().is_v6());
    });
    if (endpoints.empty()) {
      fail_connect(connect_failure::resolve,
                   "no " + std::string(where_.family == ip_family::v4 ? "IPv4" : "IPv6") +
                       " address for " + where_.host);
      co_return;
    }
    std::optional<asio::ip::address> local;
    if (!where_.local_address.empty()) {
      asio::error_code ec;
      local = asio::ip::make_address(where_.local_address, ec);
      if (ec) {
        fail_connect(connect_failure::other,
                     "--local-interface: not an IP address: " + where_.local_address);
        co_return;
      }
    }
    observer_.info("Trying " + where_.host + ":" + port + "...");
    // Each address in turn on a socket opened (and bound, for --local-interface/--local-port)
    // here: asio's range connect reopens the socket, which would lose the bind.
    arm();
    asio::error_code ec = asio::error::host_not_found;
    tcp::endpoint endpoint;
    bool timed_out = false;
    for (const auto& candidate : endpoints) {
      tcp::socket& socket = stream_.next();
      asio::error_code step;
      socket.close(step);
      if (local && local->is_v4() != candidate.address().is_v4()) {
        ec = asio::error::address_family_not_supported;
        continue;
      }
      socket.open(candidate.protocol(), step);
      if (!step && (local || where_.local_port != 0)) {
        socket.set_option(tcp::socket::reuse_address(true), step);
        const auto any = candidate.address().is_v4() ? asio::ip::address(asio::ip::address_v4())
                                                     : asio::ip::address(asio::ip::address_v6());
        socket.bind(tcp::endpoint(local.value_or(any), where_.local_port), step);
        if (step) {
          fail_connect(connect_failure::other,
                       "cannot bind the local address " + local.value_or(any).to_string() + ":" +
                           std::to_string(where_.local_port) + ": " + step.message());
          socket.close(step);
          co_return;
        }
      }
      if (step) {
        ec = step;
        continue;
      }
      auto result =
          co_await (socket.async_connect(candidate, use_tuple) || timer_.async_wait(use_tuple));
      if (result.index() == 1) {
        timed_out = true;
        break;
      }
      ec = std::get<0>(std::get<0>(result));
      if (!ec) {
        endpoint = candidate;
        break;
      }
    }
    report_.connect_ms = ms_between(started_, clock::now());
    if (timed_out) {
      asio::error_code ignored;
      stream_.next().close(ignored);
      fail_connect(connect_failure::timeout, "connection to " + where_.host + ":" + port +
                                                 " timed out after " +
                                                 std::to_string(where_.timeout.count()) + " ms");
      co_return;
    }
    if (ec) {
      fail_connect(
          ec == asio::error::connection_refused ? connect_failure::refused : connect_failure::other,
          "cannot connect to " + where_.host + ":" + port + ": " + ec.message());
      co_return;
    }
    report_.connected = true;
    report_.peer_ip = endpoint.address().to_string();
    report_.peer_port = endpoint.port();
    asio::error_code ignored;
    const tcp::endpoint local_end = stream_.next().local_endpoint(ignored);
    if (!ignored) {
      report_.local_ip = plain_ip(local_end.address().to_string());
      report_.local_port = local_end.port();
    }
    if (opts_.ehlo_name.empty()) {
      // No name asked for and no FQDN known: RFC 5321 4.1.4's address literal of our end. The
      // core has written nothing yet (it waits for the banner), so it starts afresh.
      opts_.ehlo_name = address_literal(report_.local_ip);
      if (opts_.ehlo_name.empty()) opts_.ehlo_name = "localhost";
      conn_ = smtp::client_connection(std::exchange(opts_, {}));
    }
    connected_at_ = clock::now();
    stream_.next().set_option(tcp::no_delay(true), ignored);
    observer_.info("Connected to " + report_.peer_ip + ".");
  }

  void fail_connect(connect_failure f, std::string text) {
    report_.failure = f;
    report_.connect_error = std::move(text);
  }

  /// The TLS handshake on the session's socket; returns why it failed, or nullopt.
  asio::awaitable<std::optional<std::string>> handshake() {
    auto& tls = stream_.make_tls(*ctx_);
    SSL* ssl = tls.native_handle();
    if (!where_.tls_sni.empty()) {
      SSL_set_tlsext_host_name(ssl, where_.tls_sni.c_str());  // as given (swaks' --tls-sni)
    }
    if (!is_ip_literal(where_.host)) {
      // RFC 6066 3: SNI carries host names only.
      if (where_.tls_sni.empty()) SSL_set_tlsext_host_name(ssl, where_.host.c_str());
      SSL_set1_host(ssl, where_.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), where_.host.c_str());
    }
    tls.set_verify_mode(where_.tls_verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
    arm();
    auto result = co_await (stream_.handshake(asio::ssl::stream_base::client) ||
                            timer_.async_wait(use_tuple));
    if (result.index() == 1) co_return "timed out";
    if (const asio::error_code ec = std::get<0>(result)) co_return tls_failure(ec);
    report_.tls = describe_tls(ssl);
    const auto& t = *report_.tls;
    observer_.info("TLS started with cipher " + t.version + ":" + t.cipher);
    observer_.info(
        "TLS peer subject DN=\"" + t.subject + "\"" +
        (t.verified ? std::string(" (verified)") : " (not verified: " + t.verify_error + ")"));
    co_return std::nullopt;
  }

  asio::awaitable<void> converse() {
    if (where_.tls_on_connect) {
      if (auto failure = co_await handshake()) {
        report_.tls_error = *failure;
        observer_.info("TLS handshake failed: " + *failure);
        // Nothing was said yet; the core records a TLS failure (29) via a STARTTLS-less path.
        conn_.receive_eof();
        tls_connect_failed_ = true;
      }
    }
    in_flight_.push_back(connected_at_);  // the banner answers the connect
    for (int steps = 0;; ++steps) {
      smtp::client_event ev = conn_.next_event();
      switch (ev.kind) {
        case smtp::client_event_kind::sent:
          in_flight_.push_back(std::nullopt);
          observer_.event({ev, ms_between(started_, clock::now()), -1});
          break;
        case smtp::client_event_kind::received: {
          double latency = -1;
          if (!in_flight_.empty()) {
            if (in_flight_.front()) latency = ms_between(*in_flight_.front(), clock::now());
            in_flight_.pop_front();
          }
          observer_.event({ev, ms_between(started_, clock::now()), latency});
          break;
        }
        case smtp::client_event_kind::need_data:
          co_await flush();
          co_await read();
          break;
        case smtp::client_event_kind::start_tls: {
          co_await flush();
          if (auto failure = co_await handshake()) {
            report_.tls_error = *failure;
            observer_.info("TLS handshake failed: " + *failure);
            conn_.tls_failed(*failure);
          } else {
            conn_.tls_started();
          }
          break;
        }
        case smtp::client_event_kind::finished:
          co_await flush();
          if (tls_connect_failed_ && !report_.tls_error.empty()) {
            // Implicit TLS never got to SMTP: that is a TLS failure, not a closed connection.
            fixed_result_ = smtp::client_stage::starttls;
          }
          co_return;
      }
    }
  }

  /// Writes everything the core wrote; a failed or stalled write is the peer going away.
  asio::awaitable<void> flush() {
    if (!conn_.has_output()) co_return;
    const auto now = clock::now();
    for (auto& t : in_flight_)
      if (!t) t = now;
    std::string out = conn_.take_output();
    if (broken_) co_return;
    arm();
    auto result = co_await (stream_.write_all(out) || timer_.async_wait(use_tuple));
    if (result.index() == 1 || std::get<0>(std::get<0>(result))) {
      broken_ = true;
      if (!conn_.finished()) conn_.receive_eof();
    }
  }

  asio::awaitable<void> read() {
    if (broken_) {
      conn_.receive_eof();
      co_return;
    }
    arm();
    auto result =
        co_await (stream_.read_some(asio::buffer(buffer_)) || timer_.async_wait(use_tuple));
    if (result.index() == 1) {
      conn_.timeout();
      co_return;
    }
    auto [ec, n] = std::get<0>(result);
    quick_ack();
    if (n > 0) conn_.receive_data(std::string_view(buffer_.data(), n));
    if (ec) {
      broken_ = true;
      conn_.receive_eof();
    }
  }

  /// Linux turns delayed ACKs back on after each read; a server that writes pipelined replies
  /// one by one without TCP_NODELAY (Nagle) would then wait for our ACK up to 40 ms per reply.
  void quick_ack() {
#ifdef TCP_QUICKACK
    const int one = 1;
    ::setsockopt(stream_.next().native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
  }

  void close() {
    asio::error_code ec;
    if (tcp::socket& socket = stream_.next(); socket.is_open()) {
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
      if (report_.connected)
        observer_.info(conn_.result().dropped ? "Dropping connection"
                                              : "Connection closed with remote host.");
    }
  }

 public:
  /// Set when implicit TLS failed before SMTP started.
  std::optional<smtp::client_stage> fixed_result_;

 private:
  connection_settings where_;
  flex_stream<tcp::socket> stream_;  ///< the socket, then TLS over it
  asio::steady_timer timer_;
  session_observer& observer_;
  std::shared_ptr<asio::ssl::context> ctx_;
  bool tls_connect_failed_ = false;
  bool broken_ = false;
  smtp::client_options opts_;  ///< until connected (the EHLO name may come from the local end)
  smtp::client_connection conn_;
  std::vector<char> buffer_;
  std::deque<std::optional<clock::time_point>> in_flight_;
  clock::time_point started_;
  clock::time_point connected_at_;
  session_report report_;
};

asio::awaitable<session_report> run_session(const connection_settings& where,
                                            smtp::client_options opts, session_observer& observer,
                                            std::shared_ptr<asio::ssl::context> ctx) {
  auto ex = co_await asio::this_coro::executor;
  session s(ex, where, std::move(opts), observer, std::move(ctx));
  session_report report = co_await s.run();
  if (s.fixed_result_) {
    report.result.failed = *s.fixed_result_;
    report.result.error = "TLS handshake failed: " + report.tls_error;
  }
  co_return report;
}

}  // namespace

int session_report::exit_code() const {
  return connected ? swaks::exit_code(result) : 2;
}

session_report run_one(const connection_settings& where, smtp::client_options options,
                       session_observer& observer) {
  asio::io_context io;
  session_report report;
  auto ctx = make_client_context(where);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        report = co_await run_session(where, std::move(options), observer, ctx);
      },
      asio::detached);
  io.run();
  return report;
}

void run_many(const connection_settings& where, std::size_t sessions, std::size_t concurrency,
              const std::function<smtp::client_options(std::size_t)>& options_for,
              session_observer& observer,
              const std::function<void(std::size_t, session_report&&)>& done,
              const std::function<void()>& tick, std::chrono::milliseconds tick_every) {
  asio::io_context io(1);
  auto ctx = make_client_context(where);
  std::size_t next = 0;
  std::size_t running = 0;
  asio::steady_timer ticker(io);
  auto worker = [&]() -> asio::awaitable<void> {
    while (next < sessions) {
      const std::size_t index = next++;
      session_report report = co_await run_session(where, options_for(index), observer, ctx);
      done(index, std::move(report));
    }
    if (--running == 0) ticker.cancel();
  };
  const std::size_t workers = std::max<std::size_t>(1, std::min(concurrency, sessions));
  running = workers;
  for (std::size_t i = 0; i < workers; ++i)
    asio::co_spawn(io, worker, asio::detached);
  if (tick) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          while (running > 0) {
            ticker.expires_after(tick_every);
            co_await ticker.async_wait(use_tuple);
            tick();
          }
        },
        asio::detached);
  }
  io.run();
}

std::optional<std::string> check_tls_settings(const connection_settings& where) {
  try {
    make_client_context(where);
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::string hmac_md5_hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text) {
  std::string host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  } else {
    host = std::string(text);  // a name, an IPv4 address, or a bare IPv6 address
  }
  std::uint16_t value = 0;
  if (!port.empty()) {
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0) return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  return std::make_pair(host, value);
}

}  // namespace smtpmock::client
