// A server personality: what a scenario says the server is (greeting, EHLO list, reply texts,
// auth, limits, quirks). Plain data, loaded by scenario/ and read by server_connection.
// The extension list is the single source of truth: helpers here derive what the session
// does (SIZE limit, AUTH mechanisms, enhanced codes) from what it advertises.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpmock::smtp {

enum class pipelining_mode { normal, hold_until_data, reject };
enum class early_talker_mode { allow, reject };
enum class bare_lf_mode { reject, accept };

/// A user the scenario accepts for AUTH.
struct auth_user {
  std::string user;
  std::string password;
};

struct personality {
  std::string name = "default";
  std::string description;
  std::string hostname = "localhost";
  /// Text after "220 "; may use templates such as {hostname}.
  std::string banner = "{hostname} ESMTP smtpmock";
  /// First line of the EHLO reply (text after "250-").
  std::string ehlo_greeting = "{hostname}";
  /// Advertised extensions, in order, exactly as written ("SIZE 41943040").
  std::vector<std::string> extensions;

  /// Success texts by key ("helo", "mail", "rcpt", "data", "message", "quit", "rset", "noop",
  /// "vrfy", "help", "auth"), each a full reply line such as "250 2.1.0 MAIL ok".
  std::map<std::string, std::string> replies;

  struct auth_settings {
    std::vector<auth_user> users;
    bool accept_any = false;
    bool required = false;     ///< MAIL before AUTH gets 530 5.7.0
    bool require_tls = false;  ///< AUTH before STARTTLS gets 538 5.7.11
  } auth;

  /// TLS behaviour (the certificate itself comes from the server's flags).
  struct tls_settings {
    /// MAIL, RCPT, DATA, AUTH and VRFY before TLS get 530 5.7.0 (RFC 3207 4).
    bool required = false;
    /// The certificate presented: the server's, or a fault for client tests.
    enum class certificate_mode {
      normal,
      expired,
      wrong_host
    } certificate = certificate_mode::normal;
    /// fail: the handshake after "220 Ready to start TLS" is aborted by the server.
    bool handshake_fails = false;
  } tls;

  struct limit_settings {
    std::size_t max_recipients = 100;
    /// Failed AUTH attempts allowed in a session; the next one gets 421 4.7.0 and a close.
    std::size_t max_auth_failures = 3;
    /// Since the client's last byte (RFC 5321 4.5.3.2.7: at least 5 minutes).
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};
    /// From the server being ready for a command until the whole line has arrived, however
    /// the client trickles it: the idle timer alone restarts on every byte (slowloris).
    std::chrono::milliseconds command_timeout{std::chrono::seconds(300)};
    /// From 354 (or the first BDAT) until the end of the message (RFC 5321 4.5.3.2.6).
    std::chrono::milliseconds data_timeout{std::chrono::seconds(600)};
    /// The whole session, from connect (at most 24 h, as every scenario duration).
    std::chrono::milliseconds session_timeout{std::chrono::hours(1)};
    /// Every timeout above is cut to this while the server is nearly full of connections (80 %
    /// of --max-connections), so slow clients cannot keep everyone else out for long.
    std::chrono::milliseconds stress_timeout{std::chrono::seconds(10)};
    std::size_t max_errors = 20;
    /// 0: use the SIZE extension's value, or limits::default_message_size.
    std::size_t max_message_size = 0;
  } limits;

  struct quirk_settings {
    pipelining_mode pipelining = pipelining_mode::normal;
    early_talker_mode early_talker = early_talker_mode::allow;
    bare_lf_mode bare_lf = bare_lf_mode::reject;
    std::optional<std::string> starttls_inject;
  } quirks;

  std::optional<unsigned long long> seed;

  /// The advertised extension whose keyword (first word) is `keyword`, case-insensitively.
  std::optional<std::string_view> extension(std::string_view keyword) const;
  bool advertises(std::string_view keyword) const { return extension(keyword).has_value(); }
  /// The message size limit in octets: limits.max_message_size, else SIZE's value, else default.
  std::size_t message_size_limit() const;
  /// The advertised SASL mechanisms ("AUTH PLAIN LOGIN" -> {"PLAIN", "LOGIN"}), upper-case.
  std::vector<std::string> auth_mechanisms() const;
  /// Whether replies carry enhanced status codes (ENHANCEDSTATUSCODES advertised).
  bool enhanced_codes() const { return advertises("ENHANCEDSTATUSCODES"); }
  /// Whether `user`/`password` are accepted (accept_any, or a configured user).
  bool check_credentials(std::string_view user, std::string_view password) const;
};

/// The built-in default personality (a modern ESMTP server), used when no file is given.
personality default_personality();

/// Values for {name} templates in reply texts: a fixed slot per name (no allocation per value
/// beyond the string's own), each unset until assigned.
class template_values {
 public:
  /// Every template name, as scenario files write them.
  static constexpr std::array<std::string_view, 10> names = {
      "hostname", "client_ip", "helo",     "sender", "recipient",
      "argument", "user",      "queue_id", "size",   "session_id"};

  template_values() = default;
  template_values(std::initializer_list<std::pair<std::string_view, std::string>> init);

  /// The slot of `name`, marked set; a name not in `names` throws std::out_of_range.
  std::string& operator[](std::string_view name);
  /// The value of `name`; null when it is unset or not a template name.
  const std::string* find(std::string_view name) const;
  /// Unsets `name` (a template using it is left as written again).
  void erase(std::string_view name);

 private:
  /// The slot of `name`; names.size() when it is not a template name.
  static std::size_t index_of(std::string_view name);
  std::array<std::string, names.size()> values_;
  std::uint16_t set_ = 0;  ///< bit i: names[i] has a value
};

/// Expands {name} templates. Inserted values are sanitised: CR, LF and other control
/// characters are dropped, so client input can never add a line to a reply. Unknown
/// names are left as written. The caller bounds the line length (see serialise()).
std::string expand_template(std::string_view text, const template_values& values);

}  // namespace smtpmock::smtp
