// TLS server contexts (OpenSSL 3 through asio::ssl) and the one HMAC the core needs (CRAM-MD5).
// Certificates come from --tls-cert/--tls-key, or are generated in memory at start-up; the fault
// certificates (expired, wrong host) and a context whose handshakes always fail are generated
// too, by the first session that asks for one.
// This header includes neither asio nor OpenSSL (only net/*.cpp do), so app/ can create contexts.
// Invariant: every context offers TLS 1.2 and 1.3 only; contexts are immutable once handed out
// and shared by sessions on any thread (OpenSSL's SSL_CTX is thread-safe for SSL_new).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "smtp/personality.hpp"

namespace asio::ssl {
class context;
}

namespace smtpmock::net {

/// A certificate or key could not be loaded or generated; what() names the file and the reason.
class tls_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where the server certificate comes from.
struct tls_settings {
  std::string cert_file;  ///< PEM certificate (chain); empty: a self-signed one is generated
  std::string key_file;   ///< PEM private key (unencrypted); given exactly when cert_file is
  /// The name the generated certificate is for (besides localhost, 127.0.0.1 and ::1).
  std::string hostname = "localhost";
};

using certificate_mode = smtp::personality::tls_settings::certificate_mode;

/// The server's TLS contexts, by the certificate a scenario asks for.
class tls_contexts {
 public:
  /// Loads the certificate files, or generates a certificate; throws tls_error.
  explicit tls_contexts(const tls_settings& settings);
  ~tls_contexts();
  tls_contexts(const tls_contexts&) = delete;
  tls_contexts& operator=(const tls_contexts&) = delete;

  /// The context for a session whose scenario has `hostname` and asks for `mode`. A generated
  /// certificate for a hostname not seen before is made on first use and cached (bounded).
  std::shared_ptr<asio::ssl::context> server(std::string_view hostname, certificate_mode mode);
  /// A context whose handshakes fail: it answers the ClientHello with a handshake_failure
  /// alert (scenario `tls.handshake: fail`).
  std::shared_ptr<asio::ssl::context> failing();
  /// One line for the start-up log: the certificate's origin, subject and expiry.
  std::string describe() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// HMAC-MD5 (RFC 2104) of `message` keyed with `key`, as 32 lowercase hex digits; the
/// CRAM-MD5 digest (RFC 2195 2).
std::string hmac_md5_hex(std::string_view key, std::string_view message);

}  // namespace smtpmock::net
