// The live scenario: a base definition (the --scenario file, a SIGHUP reload or a PUT of YAML)
// plus overlay rules from Mailpit's chaos triggers and MailHog's Jim. Every change builds a new
// scenario::definition (the base personality, overlay rules first, then the base's rules) and
// a fresh engine, and hands it to `apply` (the server's set_scenario for each listener), so
// new sessions use it while open sessions keep theirs. Thread-safe (one mutex); no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "scenario/engine.hpp"

namespace smtpmock::http {

/// One of Mailpit's chaos triggers: the reply code and its chance in percent.
struct chaos_trigger {
  int error_code = 451;  ///< 400..599
  int probability = 0;   ///< 0..100; 0 disables the trigger
};

/// Mailpit's chaos triggers: at MAIL FROM, RCPT TO and AUTH.
struct chaos_triggers {
  chaos_trigger sender, recipient, authentication;
};

/// MailHog's Jim (its chaos monkey), with MailHog's defaults.
struct jim_settings {
  double disconnect_chance = 0.005;  ///< any command: the connection drops
  double accept_chance = 0.99;       ///< connect: accepted, else 421 at the banner
  double link_speed_affect = 0.1;    ///< any command: the reply is written slowly
  long long link_speed_min = 1024;   ///< bytes per second
  long long link_speed_max = 10240;
  double reject_sender_chance = 0.05;
  double reject_recipient_chance = 0.05;
  double reject_auth_chance = 0.05;
};

class scenario_control {
 public:
  using apply_fn = std::function<void(std::shared_ptr<scenario::engine>)>;

  /// `source` is the base's YAML text, `origin` where it came from (a file path).
  scenario_control(std::shared_ptr<const scenario::definition> base, std::string source,
                   std::string origin, std::uint64_t server_seed);

  /// Sets where new engines go; called once, before the server starts.
  void set_apply(apply_fn apply);
  /// The engine new sessions start with now.
  std::shared_ptr<scenario::engine> engine() const;

  /// Replaces the base scenario (overlays stay). Loads nothing itself: the caller validated.
  void replace(std::shared_ptr<const scenario::definition> base, std::string source,
               std::string origin);
  /// Parses `yaml` exactly as `scenario lint` would, then replaces the base; throws
  /// scenario::load_error (file:line:column) and changes nothing when it does not load.
  void replace_text(std::string_view yaml, std::string_view filename, std::string origin);

  chaos_triggers chaos() const;
  void set_chaos(const chaos_triggers& triggers);
  /// Jim's settings, or nullopt while Jim is off.
  std::optional<jim_settings> jim() const;
  void set_jim(std::optional<jim_settings> settings);

  /// Everything at once, consistent.
  struct state {
    std::shared_ptr<const scenario::definition> base;
    std::string source;
    std::string origin;
    std::shared_ptr<scenario::engine> engine;  ///< base + overlays
    chaos_triggers chaos;
    std::optional<jim_settings> jim;
  };
  state current() const;

 private:
  void rebuild_locked();

  mutable std::mutex mutex_;
  std::uint64_t server_seed_;
  state state_;
  apply_fn apply_;
};

/// The overlay rules for `chaos` and `jim`, in the order they are tried (exposed for tests).
std::vector<scenario::rule> overlay_rules(const chaos_triggers& chaos,
                                          const std::optional<jim_settings>& jim);

}  // namespace smtpmock::http
