// TLS contexts and certificates; see tls_context.hpp.
// OpenSSL objects are held in unique_ptrs with their free functions, so every error path frees
// them. Generated certificates share one EC P-256 key made at start-up (a millisecond, where an
// RSA key costs a few hundred): every client of the last decade does ECDHE-ECDSA.
// NOTE(compat): a client that only knows RSA key exchange needs --tls-cert/--tls-key with an RSA
// certificate.
#include "net/tls_context.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

namespace smtpmock::net {
namespace {

template <class T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;

constexpr long hour = 60L * 60;
constexpr long day = 24 * hour;
constexpr long year = 365 * day;
/// Generated certificates kept per scenario hostname; beyond this, a new hostname gets the
/// start-up hostname's certificate (scenario reloads rarely change the hostname).
constexpr std::size_t max_cached_hostnames = 32;
/// The only name on the `wrong_host` certificate: .invalid never resolves (RFC 2606 2).
constexpr const char* wrong_hostname = "wrong.host.invalid";

/// OpenSSL's queued errors as one text ("reason; reason"), clearing the queue.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

[[noreturn]] void fail(const std::string& what) {
  throw tls_error(what + ": " + openssl_errors());
}

pkey_ptr generate_key() {
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") <= 0 ||
      EVP_PKEY_generate(ctx.get(), &key) <= 0) {
    fail("cannot generate a TLS key");
  }
  return pkey_ptr(key);
}

/// Whether `name` can go into a DNS subjectAltName as written (no commas or spaces that would
/// break the extension's text form, no wildcards we did not mean).
bool dns_name(std::string_view name) {
  return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

/// Whether `name` is an IPv4 or IPv6 literal (an iPAddress subjectAltName, RFC 5280 4.2.1.6).
bool ip_literal(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

/// subjectAltName entries ("DNS:localhost", "IP:127.0.0.1") for `names`, without duplicates;
/// a name that is neither an IP literal nor a plain DNS name is left out.
std::vector<std::string> san_entries(const std::vector<std::string>& names) {
  std::vector<std::string> entries;
  for (const auto& name : names) {
    std::string entry;
    if (ip_literal(name)) {
      entry = "IP:" + name;
    } else if (dns_name(name)) {
      entry = "DNS:" + name;
    } else {
      continue;
    }
    if (std::find(entries.begin(), entries.end(), entry) == entries.end()) entries.push_back(entry);
  }
  return entries;
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail("cannot add certificate extension");
}

/// A self-signed server certificate for `names` (the first is the subject CN), valid from
/// `not_before` to `not_after` seconds relative to now.
x509_ptr make_certificate(EVP_PKEY* key, const std::vector<std::string>& names, long not_before,
                          long not_after) {
  x509_ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) fail("cannot create X509");
  // A random 64-bit serial: clients cache certificates by issuer and serial.
  bn_ptr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    fail("cannot set the certificate serial");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after) == nullptr) {
    fail("cannot set the certificate validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  // RFC 5280 A.1: a CN is at most 64 characters; the SAN carries the real names anyway.
  const std::string cn = names.front().size() <= 64 ? names.front() : "smtpmock";
  if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("smtpmock"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    fail("cannot set the certificate names");
  }
  std::string san;
  for (const auto& entry : san_entries(names))
    san += (san.empty() ? "" : ",") + entry;
  // No keyUsage: with one lacking keyCertSign, OpenSSL would not treat the certificate as
  // self-signed, and a client trusting it directly could not verify it.
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_authority_key_identifier, "keyid:always");
  add_extension(cert.get(), NID_subject_alt_name, san);
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) fail("cannot sign the certificate");
  return cert;
}

/// The ClientHello callback of the failing context: refuse every handshake with an alert.
int refuse_client_hello(SSL*, int* alert, void*) {
  *alert = SSL_AD_HANDSHAKE_FAILURE;
  return SSL_CLIENT_HELLO_ERROR;
}

/// Never hands out a passphrase: an encrypted key is an error, not a prompt on the terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

/// A server context with smtpmock's protocol settings and no certificate yet.
std::shared_ptr<asio::ssl::context> base_context() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  // TLS 1.2 (RFC 5246) and 1.3 (RFC 8446); SSL 3.0, TLS 1.0 and 1.1 are deprecated (RFC 8996).
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1) {
    fail("cannot set the TLS versions");
  }
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                   asio::ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(native, no_passphrase);
  return ctx;
}

void use(asio::ssl::context& ctx, X509* cert, EVP_PKEY* key) {
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_use_certificate(native, cert) != 1 || SSL_CTX_use_PrivateKey(native, key) != 1 ||
      SSL_CTX_check_private_key(native) != 1) {
    fail("cannot use the generated certificate");
  }
}

/// "CN=localhost, valid until 2027-11-28 12:00:00 GMT".
std::string summary(X509* cert) {
  std::string out;
  char name[256];
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name) >
      0) {
    out = std::string("CN=") + name;
  }
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr) {
    if (ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1) {
      char* data = nullptr;
      const long n = BIO_get_mem_data(bio, &data);
      out += (out.empty() ? "" : ", ") + std::string("valid until ") +
             std::string(data, static_cast<std::size_t>(n));
    }
    BIO_free(bio);
  }
  ERR_clear_error();
  return out;
}

/// Fails with a clear message when `file` cannot be opened (before OpenSSL's terser one).
void check_readable(const std::string& file, const char* what) {
  std::ifstream in(file);
  if (!in)
    throw tls_error("cannot read " + std::string(what) + " " + file + ": " + std::strerror(errno));
}

}  // namespace

struct tls_contexts::impl {
  pkey_ptr key;  ///< the key of every generated certificate
  std::string default_hostname;
  std::shared_ptr<asio::ssl::context> files;  ///< from --tls-cert/--tls-key, if given
  std::string files_summary;
  std::mutex mutex;  ///< guards the caches and the two fault contexts, made on first use
  std::shared_ptr<asio::ssl::context> wrong_host;
  std::shared_ptr<asio::ssl::context> refusing;
  std::map<std::string, std::shared_ptr<asio::ssl::context>, std::less<>> normal;
  std::map<std::string, std::shared_ptr<asio::ssl::context>, std::less<>> expired;

  /// A context with a certificate for `names` made now (called with the mutex held; the key
  /// is made by the first call).
  std::shared_ptr<asio::ssl::context> generated(const std::vector<std::string>& names,
                                                long not_before, long not_after) {
    if (!key) key = generate_key();
    auto cert = make_certificate(key.get(), names, not_before, not_after);
    auto ctx = base_context();
    use(*ctx, cert.get(), key.get());
    return ctx;
  }

  /// The names a generated certificate for `hostname` carries.
  static std::vector<std::string> names_for(std::string_view hostname) {
    return {std::string(hostname), "localhost", "127.0.0.1", "::1"};
  }

  /// The cached context for `hostname` in `cache`, made with `make` on first use. Called with
  /// the mutex held.
  template <class Make>
  std::shared_ptr<asio::ssl::context> cached(
      std::map<std::string, std::shared_ptr<asio::ssl::context>, std::less<>>& cache,
      std::string_view hostname, Make make) {
    if (auto it = cache.find(hostname); it != cache.end()) return it->second;
    if (cache.size() >= max_cached_hostnames) {
      if (auto it = cache.find(default_hostname); it != cache.end()) return it->second;
      return cache.begin()->second;
    }
    auto ctx = make();
    cache.emplace(std::string(hostname), ctx);
    return ctx;
  }
};

tls_contexts::tls_contexts(const tls_settings& settings) : impl_(std::make_unique<impl>()) {
  impl_->default_hostname = settings.hostname.empty() ? "localhost" : settings.hostname;
  if (!settings.cert_file.empty() || !settings.key_file.empty()) {
    if (settings.cert_file.empty() || settings.key_file.empty()) {
      throw tls_error("--tls-cert and --tls-key must be given together");
    }
    check_readable(settings.cert_file, "certificate");
    check_readable(settings.key_file, "private key");
    auto ctx = base_context();
    SSL_CTX* native = ctx->native_handle();
    if (SSL_CTX_use_certificate_chain_file(native, settings.cert_file.c_str()) != 1) {
      fail("cannot load certificate " + settings.cert_file + " (expected PEM)");
    }
    pkey_ptr key;
    if (BIO* bio = BIO_new_file(settings.key_file.c_str(), "r")) {
      key.reset(PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr));
      BIO_free(bio);
    }
    if (!key) {
      fail("cannot load private key " + settings.key_file + " (expected an unencrypted PEM key)");
    }
    X509* cert = SSL_CTX_get0_certificate(native);
    if (cert == nullptr || X509_check_private_key(cert, key.get()) != 1) {
      ERR_clear_error();
      throw tls_error("private key " + settings.key_file + " does not match certificate " +
                      settings.cert_file);
    }
    if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
      fail("cannot use private key " + settings.key_file);
    }
    impl_->files_summary = "file " + settings.cert_file + " (" + summary(cert) + ")";
    impl_->files = std::move(ctx);
  }
  // Every generated certificate, the default one included, is made by the first session that
  // needs it (about 3 ms: the key, the signature and OpenSSL's first SSL_CTX), so none is on
  // the way to the ready line; most runs never start TLS.
}

tls_contexts::~tls_contexts() = default;

std::shared_ptr<asio::ssl::context> tls_contexts::server(std::string_view hostname,
                                                         certificate_mode mode) {
  if (hostname.empty()) hostname = impl_->default_hostname;
  switch (mode) {
    case certificate_mode::wrong_host: {
      std::lock_guard lock(impl_->mutex);
      if (!impl_->wrong_host) impl_->wrong_host = impl_->generated({wrong_hostname}, -hour, year);
      return impl_->wrong_host;
    }
    case certificate_mode::expired: {
      std::lock_guard lock(impl_->mutex);
      return impl_->cached(impl_->expired, hostname, [&] {
        return impl_->generated(impl::names_for(hostname), -2 * year, -year);
      });
    }
    case certificate_mode::normal:
      break;
  }
  if (impl_->files) return impl_->files;
  std::lock_guard lock(impl_->mutex);
  return impl_->cached(impl_->normal, hostname,
                       [&] { return impl_->generated(impl::names_for(hostname), -hour, year); });
}

std::shared_ptr<asio::ssl::context> tls_contexts::failing() {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->refusing) {
    impl_->refusing = impl_->generated(impl::names_for(impl_->default_hostname), -hour, year);
    SSL_CTX_set_client_hello_cb(impl_->refusing->native_handle(), refuse_client_hello, nullptr);
  }
  return impl_->refusing;
}

std::string tls_contexts::describe() const {
  if (impl_->files) return impl_->files_summary;
  std::string san;
  for (const auto& entry : san_entries(impl::names_for(impl_->default_hostname)))
    san += (san.empty() ? "" : ", ") + entry;
  return "self-signed, made at the first TLS handshake (CN=" + impl_->default_hostname +
         ", valid for a year from then; SAN " + san + ")";
}

std::string hmac_md5_hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr) {
    ERR_clear_error();
    return {};
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

}  // namespace smtpmock::net
