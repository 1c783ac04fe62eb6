// smtpmock's entry point: the command line (CLI11), configuration layering and dispatch.
// Precedence for serve settings: flag > environment (SMTPMOCK_*) > config file > default.
// CLI11 applies flags and environment; the config file fills only what neither set, with
// the same validators, so a bad value is rejected the same way wherever it was written.
// Without a command, smtpmock runs `serve` (what `docker run` and a bare `smtpmock` expect).
// SMTP listeners (--listen, SMTPMOCK_LISTEN, `listeners:`) are a list, not a setting: the first
// source that gives any wins as a whole, and the whole set is checked before serve starts.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "app/client_commands.hpp"
#include "app/logging.hpp"
#include "app/scenario_command.hpp"
#include "app/serve.hpp"
#include "app/version.hpp"
#include "client/swaks_args.hpp"
#include "net/address.hpp"
#include "scenario/config_file.hpp"
#include "scenario/listeners.hpp"
#include "scenario/loader.hpp"

namespace {

using smtpmock::app::serve_settings;

/// "smtp-listen" -> "SMTPMOCK_SMTP_LISTEN".
std::string env_name(std::string_view flag) {
  std::string out = "SMTPMOCK_";
  for (char c : flag) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

/// The serve options that a config file may set, as registered on the command.
struct serve_cli {
  std::vector<CLI::Option*> settable;  ///< every serve flag except --config
  CLI::Option* seed = nullptr;
  unsigned long long seed_value = 0;
  std::string config_file;
  CLI::Option* smtp_listen = nullptr;
  CLI::Option* smtps_listen = nullptr;
  std::vector<std::string> listen_values;                           ///< every --listen, in order
  std::vector<smtpmock::scenario::listener_spec> config_listeners;  ///< the file's listeners:
  std::map<std::string, std::string> config_origin;  ///< key -> "FILE:LINE:COLUMN" applied
};

void add_serve_options(CLI::App& cmd, serve_settings& s, serve_cli& cli) {
  auto add = [&](CLI::Option* opt) {
    opt->envname(env_name(opt->get_single_name()));
    cli.settable.push_back(opt);
    return opt;
  };
  CLI::Validator listen_address(
      [](std::string& value) { return smtpmock::net::listen_address_problem(value); }, "");

  cli.smtp_listen = add(cmd.add_option("--smtp-listen", s.smtp_listen,
                                       "SMTP listener address; port 0 picks a free port")
                            ->type_name("ADDR:PORT")
                            ->check(listen_address)
                            ->capture_default_str());
  CLI::Validator listen_address_or_off(
      [](std::string& value) {
        return value == "off" ? std::string() : smtpmock::net::listen_address_problem(value);
      },
      "");
  cli.smtps_listen = add(cmd.add_option("--smtps-listen", s.smtps_listen,
                                        "Implicit-TLS listener (port 465 style); off disables")
                             ->type_name("ADDR:PORT")
                             ->check(listen_address_or_off)
                             ->default_str("off"));
  // Not a config key (the file has `listeners:`), and its environment twin is a list that
  // CLI11's splitting would cut at the options' commas: read in resolve_listeners().
  cmd.add_option("--listen", cli.listen_values,
                 "An SMTP listener with its own scenario and TLS mode, repeatable; MODE is "
                 "starttls (default), implicit or none (STARTTLS answered 454); NAME defaults "
                 "to the port; also tls-cert=FILE,tls-key=FILE. Env: SMTPMOCK_LISTEN, comma- or "
                 "newline-separated")
      ->type_name("ADDR:PORT[=SCENARIO][,tls=MODE][,name=NAME]")
      ->expected(1)
      ->allow_extra_args(false)  // one value per --listen: `--listen A B` is a mistake
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add(cmd.add_option("--http-listen", s.http_listen,
                     "HTTP API (Mailpit- and MailHog-compatible), health and metrics; off disables")
          ->type_name("ADDR:PORT")
          ->check(listen_address_or_off)
          ->capture_default_str());
  CLI::Validator credentials(
      [](std::string& value) {
        const auto colon = value.find(':');
        return colon == std::string::npos || colon == 0 ? std::string("expected USER:PASSWORD")
                                                        : std::string();
      },
      "");
  add(cmd.add_option("--http-auth", s.http_auth,
                     "Basic auth on every HTTP route except /livez and /readyz")
          ->type_name("USER:PASSWORD")
          ->check(credentials)
          ->default_str("off"));
  CLI::Validator cors_origin(
      [](std::string& value) {
        // One header value: "*" or an origin such as https://app.example (no list, no path).
        if (value == "*") return std::string();
        const auto scheme = value.find("://");
        if (scheme == std::string::npos || scheme == 0 || value.size() == scheme + 3 ||
            value.find_first_of(" \t\r\n,/", scheme + 3) != std::string::npos)
          return std::string("expected * or an origin such as https://app.example:8080");
        return std::string();
      },
      "");
  add(cmd.add_option("--http-cors", s.http_cors,
                     "Access-Control-Allow-Origin for the API (* or an origin); OPTIONS "
                     "preflights are answered without auth")
          ->type_name("ORIGIN")
          ->check(cors_origin)
          ->default_str("off"));
  add(cmd.add_option("--http-base-path", s.http_base_path,
                     "serve the API, views, page and metrics under PATH (/mail/), for a proxy "
                     "that forwards a path prefix; /livez and /readyz answer at the root too")
          ->type_name("PATH")
          ->transform(CLI::Validator(
              [](std::string& value) {
                // "/mail/", "/mail" and "mail" mean /mail; "/" means the root.
                if (value.find_first_of(" \t\r\n?#%\\\"'<>") != std::string::npos ||
                    value.find("//") != std::string::npos)
                  return std::string("expected a path such as /mail/ (no spaces, ?, #, %, //)");
                if (value.empty() || value.front() != '/') value.insert(0, "/");
                while (!value.empty() && value.back() == '/')
                  value.pop_back();
                return std::string();
              },
              ""))
          ->default_str("/"));
  add(cmd.add_option("--tls-cert", s.tls_cert,
                     "PEM certificate (chain) for STARTTLS and implicit TLS; needs --tls-key")
          ->type_name("FILE")
          ->default_str("self-signed, generated at start-up"));
  add(cmd.add_option("--tls-key", s.tls_key, "PEM private key (unencrypted) of --tls-cert")
          ->type_name("FILE"));
  add(cmd.add_option("--scenario", s.scenario,
                     "Scenario every listener starts with: a bundled NAME or a FILE")
          ->type_name("NAME|FILE")
          ->capture_default_str());
  add(cmd.add_option("--spool", s.spool,
                     "Also write every accepted message to DIR/<id>.eml and DIR/<id>.json")
          ->type_name("DIR"));
  add(cmd.add_option("--max-messages", s.max_messages,
                     "Messages kept in memory; the oldest are dropped first")
          ->type_name("N")
          ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}))
          ->capture_default_str());
  add(cmd.add_option("--max-store-bytes", s.max_store_bytes,
                     "Bytes of messages kept in memory (256MiB, 1GB, ...); the oldest are "
                     "dropped first")
          ->type_name("SIZE")
          ->transform(CLI::AsSizeValue(false))
          ->check(CLI::Range(std::size_t{1}, std::numeric_limits<std::size_t>::max()))
          ->default_str("256MiB"));
  add(cmd.add_option("--max-connections", s.max_connections,
                     "Simultaneous SMTP sessions; more get 421 4.3.2 at the banner")
          ->type_name("N")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
          ->default_str("the open-file limit less 320"));
  add(cmd.add_option("--threads", s.threads,
                     "I/O threads; each session stays on one (one is the least CPU per message)")
          ->type_name("N")
          ->check(CLI::Range(1u, 1024u))
          ->capture_default_str());
  add(cmd.add_option("--log-level", s.log_level, "Log level")
          ->type_name("LEVEL")
          ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
          ->capture_default_str());
  add(cmd.add_option("--log-format", s.log_format, "Log format: text, or one JSON object a line")
          ->type_name("FORMAT")
          ->check(CLI::IsMember({"text", "json"}))
          ->capture_default_str());
  cli.seed = add(cmd.add_option("--seed", cli.seed_value,
                                "Seed for probabilistic rules, so a run can be repeated")
                     ->type_name("N")
                     ->default_str("random, logged at start-up"));
  cmd.add_option("--config", cli.config_file,
                 "YAML config file; keys are the flag names without dashes")
      ->type_name("FILE")
      ->envname("SMTPMOCK_CONFIG");
}

/// Fills every option that neither a flag nor the environment set from the config file, and
/// keeps its listeners. Returns false after printing "file:line:column: message" on a bad file
/// or value.
bool apply_config_file(serve_cli& cli) {
  std::vector<std::string> allowed;
  for (const auto* opt : cli.settable)
    allowed.push_back(opt->get_single_name());
  smtpmock::scenario::config_file config;
  try {
    config = smtpmock::scenario::load_config(cli.config_file, allowed);
  } catch (const smtpmock::scenario::load_error& e) {
    std::cerr << e.what() << '\n';
    return false;
  }
  cli.config_listeners = std::move(config.listeners);
  for (const auto& [key, value] : config.settings) {
    auto it = std::find_if(cli.settable.begin(), cli.settable.end(),
                           [&](const CLI::Option* o) { return o->get_single_name() == key; });
    if (it == cli.settable.end() || (*it)->count() > 0) continue;  // flag or env wins
    cli.config_origin[key] =
        cli.config_file + ':' + std::to_string(value.line) + ':' + std::to_string(value.column);
    try {
      (*it)->add_result(value.value);
      (*it)->run_callback();
    } catch (const CLI::Error& e) {
      std::string message = e.what();
      std::string flag_prefix = "--" + key + ": ";  // CLI11 names the flag; we name the key
      if (message.rfind(flag_prefix, 0) == 0) message.erase(0, flag_prefix.size());
      std::cerr << cli.config_file << ':' << value.line << ':' << value.column << ": " << key
                << ": " << message << '\n';
      return false;
    }
  }
  return true;
}

/// Where a serve option's value came from, for messages: "FILE:LINE:COLUMN" (config file),
/// "--smtp-listen VALUE" (typed) or "SMTPMOCK_SMTP_LISTEN=VALUE" (environment).
std::string origin_of(const serve_cli& cli, const CLI::Option& opt, const std::string& value,
                      const std::vector<const char*>& args) {
  const std::string key = opt.get_single_name();
  if (const auto it = cli.config_origin.find(key); it != cli.config_origin.end()) return it->second;
  const std::string flag = "--" + key;
  const bool typed = std::any_of(args.begin(), args.end(), [&](const char* a) {
    return std::string_view(a) == flag || std::string_view(a).rfind(flag + "=", 0) == 0;
  });
  return typed ? flag + " " + value : opt.get_envname() + "=" + value;
}

/// Fills settings.listeners from --listen, else SMTPMOCK_LISTEN, else the config file, and the
/// *_listen_set flags; checks the whole set (with the shorthands explicitly set) and that each
/// listener's scenario resolves. Returns false after printing one line on a mistake.
bool resolve_listeners(const serve_cli& cli, serve_settings& s,
                       const std::vector<const char*>& args) {
  namespace sc = smtpmock::scenario;
  s.smtp_listen_set = cli.smtp_listen->count() > 0;
  s.smtps_listen_set = cli.smtps_listen->count() > 0;
  s.listeners.clear();
  if (!cli.listen_values.empty()) {
    for (const std::string& value : cli.listen_values) {
      try {
        s.listeners.push_back(sc::parse_listen_spec(value));
      } catch (const std::invalid_argument& e) {
        std::cerr << "smtpmock: --listen " << value << ": " << e.what() << '\n';
        return false;
      }
    }
  } else if (const char* env = std::getenv("SMTPMOCK_LISTEN"); env != nullptr && *env != '\0') {
    try {
      s.listeners = sc::parse_listen_list(env);
    } catch (const std::invalid_argument& e) {
      std::cerr << "smtpmock: SMTPMOCK_LISTEN: " << e.what() << '\n';
      return false;
    }
  }
  if (s.listeners.empty()) s.listeners = cli.config_listeners;
  if (s.listeners.empty()) return true;  // serve as before: --smtp-listen (and --smtps-listen)

  for (const auto& spec : s.listeners) {
    if (spec.scenario.empty()) continue;  // the serve --scenario, which serve itself loads
    try {
      sc::resolve(spec.scenario);
    } catch (const sc::load_error& e) {
      std::cerr << "smtpmock: " << spec.origin << ": " << e.message() << '\n';
      return false;
    }
  }
  std::vector<sc::listener_spec> all = s.listeners;
  if (s.smtp_listen_set) {
    sc::listener_spec smtp;
    smtp.address = s.smtp_listen;
    smtp.origin = origin_of(cli, *cli.smtp_listen, s.smtp_listen, args);
    all.push_back(std::move(smtp));
  }
  if (s.smtps_listen_set && !s.smtps_listen.empty() && s.smtps_listen != "off") {
    sc::listener_spec smtps;
    smtps.address = s.smtps_listen;
    smtps.tls = sc::listener_tls::implicit;
    smtps.origin = origin_of(cli, *cli.smtps_listen, s.smtps_listen, args);
    all.push_back(std::move(smtps));
  }
  try {
    sc::check_listeners(all);
  } catch (const std::invalid_argument& e) {
    std::cerr << "smtpmock: " << e.what() << '\n';
    return false;
  }
  return true;
}

/// "; did you mean X?" for a near miss of `word` among `candidates`, else "".
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates,
                       std::string_view prefix) {
  auto best = smtpmock::scenario::did_you_mean(word, candidates);
  return best ? "; did you mean " + std::string(prefix) + *best + "?" : std::string();
}

/// A one-line explanation of a parse failure that names what to fix: an unknown option or
/// command (with a did-you-mean), or the environment variable a bad value came from. nullopt:
/// CLI11's own message says it well enough.
std::optional<std::string> explain(CLI::App& app, const std::vector<const char*>& args,
                                   const CLI::ParseError& e) {
  CLI::App* cur = &app;
  bool chosen = false;  // a subcommand of `cur` was named
  auto all = [](CLI::App* a) { return a->get_subcommands([](CLI::App*) { return true; }); };
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) == 0) {
      const std::string name(arg.substr(2, arg.find('=') - 2));
      std::vector<std::string> names;
      for (const CLI::Option* o : cur->get_options())
        for (const auto& l : o->get_lnames())
          names.push_back(l);
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        return "unknown option --" + name + suggestion(name, names, "--");
      }
      continue;
    }
    if (arg.rfind('-', 0) == 0) continue;  // short options: CLI11 knows them
    CLI::App* sub = nullptr;
    std::vector<std::string> commands;
    for (CLI::App* a : all(cur)) {
      commands.push_back(a->get_name());
      if (a->get_name() == arg) sub = a;
    }
    if (sub != nullptr) {
      cur = sub;
      chosen = false;
      continue;
    }
    if (!chosen && !commands.empty() && cur->get_require_subcommand_min() > 0) {
      return "unknown command '" + std::string(arg) + "'" + suggestion(arg, commands, "") +
             " (commands: " +
             [&] {
               std::string list;
               for (const auto& c : commands)
                 list += (list.empty() ? "" : ", ") + c;
               return list;
             }() +
             ")";
    }
  }
  // "--max-messages: Value abc not in range ...": when the value came from the environment,
  // name the variable the user has to fix, not a flag they never typed.
  const std::string message = e.what();
  if (message.rfind("--", 0) == 0) {
    const std::string flag = message.substr(0, message.find(':'));
    const bool typed = std::any_of(args.begin(), args.end(), [&](const char* a) {
      return std::string_view(a) == flag || std::string_view(a).rfind(flag + "=", 0) == 0;
    });
    if (!typed) {
      for (const CLI::Option* o : cur->get_options()) {
        const std::string env = o->get_envname();
        if (env.empty() || "--" + o->get_single_name() != flag) continue;
        if (const char* value = std::getenv(env.c_str())) {
          return env + "=" + value + ": " + message.substr(flag.size() + 2);
        }
      }
    }
  }
  return std::nullopt;
}

/// Whether `arg` is handled by the top-level command itself (not a serve flag).
bool top_level_flag(std::string_view arg) {
  return arg == "-h" || arg == "--help" || arg == "--help-all" || arg == "--version";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<const char*> args(argv, argv + argc);
  // `smtpmock` and `smtpmock --smtp-listen ...` mean `smtpmock serve ...`.
  if (args.size() == 1 || (args[1][0] == '-' && !top_level_flag(args[1]))) {
    args.insert(args.begin() + 1, "serve");
  }
  // `send` takes swaks' spellings (-tls, -au USER, -h NAME, --h-Subject hi): rewritten to
  // smtpmock's before CLI11 sees them, which would read -tls as -t ls. Refused: exit 2.
  std::vector<std::string> send_words;
  if (args.size() > 1 && std::string_view(args[1]) == "send") {
    auto swaks = smtpmock::client::normalise_swaks_args({args.begin() + 2, args.end()});
    if (!swaks.refused.empty()) {
      const auto start = swaks.refused.find_first_not_of('-');
      const std::string name = start == std::string::npos ? "" : swaks.refused.substr(start);
      std::cerr << "smtpmock: "
                << (swaks.unsupported.empty()
                        ? "unknown option " + swaks.refused +
                              suggestion(name, smtpmock::client::swaks_option_names(), "--")
                        : "send: " + swaks.refused + " (swaks' --" + swaks.unsupported +
                              ") is not supported yet")
                << '\n';
      return smtpmock::app::exit_usage;
    }
    send_words = std::move(swaks.args);
    args.resize(2);
    for (const std::string& word : send_words)
      args.push_back(word.c_str());
  }

  CLI::App app{"smtpmock: a mock SMTP server for testing SMTP clients", "smtpmock"};
  app.set_version_flag("--version", smtpmock::app::version_line(),
                       "Print the version and the git commit, and exit");
  app.require_subcommand(1);
  app.footer(
      "Without a command, smtpmock runs `serve`. Use `smtpmock COMMAND --help` for details.");

  serve_settings settings;
  serve_cli cli;
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the mock SMTP server until SIGINT/SIGTERM (the default command)");
  add_serve_options(*serve, settings, cli);
  serve->footer(
      "Every flag has an environment twin (--smtp-listen: SMTPMOCK_SMTP_LISTEN).\n"
      "Precedence: flag > environment > config file > default. Listeners: every --listen, else\n"
      "SMTPMOCK_LISTEN, else the config file's listeners:; --smtp-listen and --smtps-listen\n"
      "are served beside them only when given explicitly.");

  CLI::App* scenario_cmd = app.add_subcommand("scenario", "Validate and list scenarios");
  scenario_cmd->require_subcommand(1);
  std::vector<std::string> lint_files;
  bool lint_quiet = false;
  CLI::App* lint = scenario_cmd->add_subcommand(
      "lint", "Check scenario files; errors as file:line:column: message (exit 0 ok, 1 errors)");
  lint->add_option("files", lint_files, "Scenario files, or names of bundled scenarios")
      ->required();
  lint->add_flag("-q,--quiet", lint_quiet, "Print only errors");
  CLI::App* list = scenario_cmd->add_subcommand("list", "List the bundled scenarios");
  smtpmock::app::add_client_commands(app);

  std::string health_listen = serve_settings{}.http_listen;
  CLI::App* health = app.add_subcommand(
      "healthcheck",
      "Exit 0 when the local server's GET /readyz answers 200 (for Docker's HEALTHCHECK)");
  health
      ->add_option("--http-listen", health_listen,
                   "The server's HTTP listener; a wildcard address is checked on loopback")
      ->type_name("ADDR:PORT")
      ->envname(env_name("http-listen"))
      ->check(CLI::Validator(
          [](std::string& value) {
            return value == "off" ? std::string() : smtpmock::net::listen_address_problem(value);
          },
          ""))
      ->capture_default_str();

  // --version works on every command, as --help does.
  std::vector<CLI::App*> pending = app.get_subcommands([](CLI::App*) { return true; });
  while (!pending.empty()) {
    CLI::App* sub = pending.back();
    pending.pop_back();
    sub->set_version_flag("--version", smtpmock::app::version_line(),
                          "Print the version and the git commit, and exit");
    for (CLI::App* s : sub->get_subcommands([](CLI::App*) { return true; }))
      pending.push_back(s);
  }

  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      // One line that says what to fix (no "Run with --help" after it).
      const auto why = explain(app, args, e);
      std::cerr << "smtpmock: " << (why ? *why : std::string(e.what())) << '\n';
      return smtpmock::app::exit_usage;
    }
    int code = app.exit(e);
    return code == 0 ? 0 : smtpmock::app::exit_usage;
  }

  if (auto code = smtpmock::app::run_client_command()) return *code;
  if (serve->parsed()) {
    if (!cli.config_file.empty() && !apply_config_file(cli)) return smtpmock::app::exit_usage;
    if (!resolve_listeners(cli, settings, args)) return smtpmock::app::exit_usage;
    if (cli.seed->count() > 0) settings.seed = cli.seed_value;
    if (settings.tls_cert.empty() != settings.tls_key.empty()) {
      std::cerr << "smtpmock: --tls-cert and --tls-key must be given together (or neither, for "
                   "a generated self-signed certificate)\n";
      return smtpmock::app::exit_usage;
    }
    auto format = settings.log_format == "json" ? smtpmock::app::log_format::json
                                                : smtpmock::app::log_format::text;
    if (!smtpmock::app::setup_logging(settings.log_level, format)) {
      std::cerr << "smtpmock: invalid log level " << settings.log_level << '\n';
      return smtpmock::app::exit_usage;
    }
    return smtpmock::app::run_serve(settings);
  }
  if (lint->parsed()) return smtpmock::app::run_scenario_lint(lint_files, lint_quiet);
  if (list->parsed()) return smtpmock::app::run_scenario_list();
  if (health->parsed()) return smtpmock::app::run_healthcheck(health_listen);
  return smtpmock::app::exit_ok;
}
