// `smtpmock serve`; see serve.hpp.
#include "app/serve.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <system_error>

#include <unistd.h>

#include "app/fd_limit.hpp"
#include "app/logging.hpp"
#include "app/version.hpp"
#include "http/api.hpp"
#include "http/healthcheck.hpp"
#include "http/http_server.hpp"
#include "http/scenario_control.hpp"
#include "net/ids.hpp"
#include "net/server.hpp"
#include "net/tls_context.hpp"
#include "scenario/loader.hpp"
#include "store/message_store.hpp"
#include "store/metrics.hpp"

namespace smtpmock::app {
namespace {

unsigned long long random_seed() {
  std::random_device rd;
  return (static_cast<unsigned long long>(rd()) << 32) ^ rd();
}

/// The text of a scenario file (kept for GET /api/v1/scenario); empty when unreadable.
std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool enabled(const std::string& listen) {
  return !listen.empty() && listen != "off";
}

/// The listeners to open: --listen / SMTPMOCK_LISTEN / the config file's, plus a shorthand
/// given explicitly; without any, --smtp-listen and --smtps-listen as they always were.
std::vector<scenario::listener_spec> listener_specs(const serve_settings& settings) {
  std::vector<scenario::listener_spec> out = settings.listeners;
  const bool listed = !out.empty();
  if (!listed || settings.smtp_listen_set) {
    scenario::listener_spec smtp;
    smtp.address = settings.smtp_listen;
    smtp.origin = "--smtp-listen " + settings.smtp_listen;
    out.insert(out.begin(), std::move(smtp));
  }
  if ((!listed || settings.smtps_listen_set) && enabled(settings.smtps_listen)) {
    scenario::listener_spec smtps;
    smtps.address = settings.smtps_listen;
    smtps.tls = scenario::listener_tls::implicit;
    smtps.origin = "--smtps-listen " + settings.smtps_listen;
    out.push_back(std::move(smtps));
  }
  return out;
}

/// The engine listener number `n` of a scenario runs: the control's own for the first, a twin
/// (the same definition and seed) for the others, so `per: server` counters and greylisting
/// are kept per listener even where listeners share a scenario.
std::shared_ptr<scenario::engine> engine_for_listener(const std::shared_ptr<scenario::engine>& e,
                                                      std::size_t n) {
  if (n == 0) return e;
  return std::make_shared<scenario::engine>(e->shared(), e->seed());
}

/// One live scenario: its control, its file (for SIGHUP) and the listeners (indices) on it.
struct scenario_group {
  std::shared_ptr<http::scenario_control> control;
  std::filesystem::path file;
  std::vector<std::size_t> listeners;
};

/// What the API needs of each live scenario: its control and its listeners as bound.
std::vector<http::scenario_binding> bindings(const std::vector<scenario_group>& groups,
                                             const std::vector<scenario::listener_spec>& specs,
                                             const net::server& server) {
  const auto bound = server.bound_addresses();
  const auto names = server.listener_names();
  std::vector<http::scenario_binding> out;
  for (const auto& g : groups) {
    if (g.listeners.empty() && groups.size() > 1) continue;  // --scenario, used by none
    http::scenario_binding b{g.control, {}};
    for (std::size_t i : g.listeners) {
      b.listeners.push_back(http::listener_info{names.at(i), bound.at(i),
                                                std::string(scenario::to_string(specs[i].tls))});
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

int run_serve(const serve_settings& settings) {
  std::shared_ptr<const scenario::definition> definition;
  std::filesystem::path scenario_file;
  try {
    scenario_file = scenario::resolve(settings.scenario);
    definition = scenario::load_definition_file(scenario_file);
  } catch (const scenario::load_error& e) {
    std::cerr << e.what() << '\n';
    return exit_usage;
  }
  const auto& scenario = definition->personality;

  std::optional<std::filesystem::path> spool;
  if (!settings.spool.empty()) {
    spool = settings.spool;
    std::error_code ec;
    std::filesystem::create_directories(*spool, ec);
    if (ec || !std::filesystem::is_directory(*spool)) {
      std::cerr << "smtpmock: cannot use spool directory " << settings.spool << ": "
                << (ec ? ec.message() : "not a directory") << '\n';
      return exit_usage;
    }
  }

  // The certificate for STARTTLS and implicit TLS: the files (checked now), or one generated
  // for the scenario's hostname by the first session that needs it, as are the fault
  // certificates (expired, wrong host) either way.
  std::shared_ptr<net::tls_contexts> tls;
  try {
    tls = std::make_shared<net::tls_contexts>(
        net::tls_settings{settings.tls_cert, settings.tls_key, scenario->hostname});
  } catch (const net::tls_error& e) {
    std::cerr << "smtpmock: " << e.what() << '\n';
    return exit_usage;
  }

  const unsigned long long seed = settings.seed ? *settings.seed : random_seed();
  // The live scenarios: each file, then PUT /api/v1/scenario, chaos and Jim overlays, SIGHUP.
  // An engine's own `seed:` wins over --seed. Listeners without a scenario of their own share
  // the --scenario one (and its counters); each that names one gets its own, even if another
  // names the same, so a PUT to one listener changes only that listener.
  auto control = std::make_shared<http::scenario_control>(definition, read_text(scenario_file),
                                                          scenario_file.string(), seed);
  auto engine = control->engine();
  const std::vector<scenario::listener_spec> specs = listener_specs(settings);
  std::vector<scenario_group> groups{scenario_group{control, scenario_file, {}}};
  std::vector<std::shared_ptr<net::tls_contexts>> own_tls(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    if (spec.scenario.empty()) {
      groups.front().listeners.push_back(i);
    } else {
      try {
        const auto file = scenario::resolve(spec.scenario);
        auto def = scenario::load_definition_file(file);
        groups.push_back(scenario_group{
            std::make_shared<http::scenario_control>(def, read_text(file), file.string(), seed),
            file,
            {i}});
      } catch (const scenario::load_error& e) {
        std::cerr << e.what() << " (the scenario of " << spec.origin << ")\n";
        return exit_usage;
      }
    }
    if (!spec.tls_cert.empty()) {
      const auto& def = groups.back().listeners.back() == i && !spec.scenario.empty()
                            ? groups.back().control->current().base
                            : definition;
      try {
        own_tls[i] = std::make_shared<net::tls_contexts>(
            net::tls_settings{spec.tls_cert, spec.tls_key, def->personality->hostname});
      } catch (const net::tls_error& e) {
        std::cerr << "smtpmock: " << e.what() << " (" << spec.origin << ")\n";
        return exit_usage;
      }
    }
  }

  store::store_limits limits;
  limits.max_messages = settings.max_messages;
  limits.max_message_bytes = settings.max_store_bytes;
  std::shared_ptr<store::message_store> store;
  try {
    store = std::make_shared<store::message_store>(limits, spool);
  } catch (const store::spool_error& e) {
    std::cerr << "smtpmock: " << e.what() << '\n';
    return exit_usage;
  }
  for (const auto& warning : store->spool_warnings())
    spdlog::warn("spool: {}", warning);
  if (spool && (store->message_count() > 0 || store->session_count() > 0)) {
    spdlog::info("spool loaded messages={} sessions={} dir={}", store->message_count(),
                 store->session_count(), spool->string());
  }

  net::server_options options;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    net::listener_options l;
    l.address = specs[i].address;
    l.implicit_tls = specs[i].tls == scenario::listener_tls::implicit;
    l.starttls = specs[i].tls != scenario::listener_tls::none;
    l.name = specs[i].name;
    l.tls = own_tls[i];
    // Counters of its own: /metrics shows each listener's series under its `listener` label.
    l.metrics = std::make_shared<store::metrics>();
    options.listeners.push_back(std::move(l));
  }
  for (const auto& g : groups) {
    for (std::size_t n = 0; n < g.listeners.size(); ++n)
      options.listeners[g.listeners[n]].engine = engine_for_listener(g.control->engine(), n);
  }
  options.tls = tls;
  options.threads = settings.threads;
  // Sessions are bounded by descriptors: take all the kernel allows us, and by default admit
  // as many sessions as that leaves room for.
  const open_file_limit nofile = raise_open_file_limit();
  options.max_connections = settings.max_connections != 0 ? settings.max_connections
                                                          : default_max_connections(nofile.now);
  if (nofile.now != 0 && options.max_connections + reserved_descriptors > nofile.now) {
    spdlog::warn(
        "--max-connections {} is more than the open-file limit ({}) leaves room for; accepts "
        "past about {} fail until sessions end",
        options.max_connections, nofile.now, default_max_connections(nofile.now));
  }
  spdlog::info("limits nofile={} nofile_before={} max_connections={}", nofile.now, nofile.before,
               options.max_connections);
  net::server* running = nullptr;
  http::http_server* http_running = nullptr;
  // SIGHUP: reload the scenario file atomically. Sessions in progress keep the scenario they
  // started with; a file that fails to load leaves the old scenario in place. Chaos and Jim
  // overlays set through the API stay on top of the reloaded file.
  options.on_reload = [groups] {
    for (const auto& g : groups) {
      if (g.listeners.empty()) continue;
      try {
        const std::string text = read_text(g.file);
        g.control->replace(scenario::load_definition_file(g.file), text, g.file.string());
        const auto next = g.control->engine();
        const auto& p = *next->scenario().personality;
        spdlog::info("scenario reloaded name={} rules={} seed={} file={}", p.name,
                     next->scenario().rules.size(), next->seed(), g.file.string());
      } catch (const scenario::load_error& e) {
        spdlog::error("scenario reload failed, keeping the old scenario: {}", e.what());
      }
    }
  };
  options.on_shutdown = [&http_running] {
    if (http_running) http_running->stop();
  };
  for (const auto& g : groups) {
    g.control->set_apply([&running, indices = g.listeners](std::shared_ptr<scenario::engine> next) {
      if (!running) return;
      for (std::size_t n = 0; n < indices.size(); ++n)
        running->set_scenario(indices[n], engine_for_listener(next, n));
    });
  }
  const std::size_t max_connections = options.max_connections;
  std::vector<std::shared_ptr<store::metrics>> listener_counters;
  for (const auto& l : options.listeners)
    listener_counters.push_back(l.metrics);
  net::server server(std::move(options), store);
  running = &server;
  try {
    server.start();
  } catch (const net::bind_error& e) {
    spdlog::error("{}", e.what());
    return exit_runtime;
  }

  // The HTTP API runs on threads of its own: no request can delay an SMTP reply.
  std::shared_ptr<http::api> api;
  std::unique_ptr<http::http_server> http_listener;
  std::string http_bound = "off";
  if (enabled(settings.http_listen)) {
    http::api_options api_options;
    api_options.credentials = settings.http_auth;
    api_options.cors_origin = settings.http_cors;
    api_options.base_path = settings.http_base_path;
    api_options.version = version();
    api_options.commit = commit();
    api_options.new_message_id = &net::new_message_id;
    std::vector<http::listener_metrics> metrics;
    const auto listener_names = server.listener_names();
    for (std::size_t i = 0; i < listener_counters.size(); ++i)
      metrics.push_back(http::listener_metrics{listener_names.at(i), listener_counters[i]});
    api = std::make_shared<http::api>(store, std::move(metrics), bindings(groups, specs, server),
                                      api_options);
    http_listener = std::make_unique<http::http_server>(store, api, settings.http_listen);
    try {
      http_bound = http_listener->start();
    } catch (const net::bind_error& e) {
      spdlog::error("{}", e.what());
      for (const auto& g : groups)
        g.control->set_apply(nullptr);
      return exit_runtime;
    }
    http_running = http_listener.get();
  }

  // Ready before the line that says so: a client that reads the line may ask /readyz at once.
  if (api) api->set_ready();
  auto bound = server.bound_addresses();
  const auto names = server.listener_names();
  spdlog::info("tls certificate=\"{}\"", tls->describe());
  // smtp= the first plain listener, smtps= the first implicit-TLS one (scripts read these);
  // listeners= every one as NAME=ADDRESS/TLS/SCENARIO.
  std::string smtp_first, smtps;
  std::string every;
  for (const auto& g : groups) {
    const std::string name = g.control->engine()->scenario().personality->name;
    for (std::size_t i : g.listeners) {
      const bool implicit = specs[i].tls == scenario::listener_tls::implicit;
      if (implicit && smtps.empty()) smtps = " smtps=" + bound.at(i);
      if (!implicit && smtp_first.empty()) smtp_first = bound.at(i);
    }
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    for (const auto& g : groups) {
      if (std::find(g.listeners.begin(), g.listeners.end(), i) == g.listeners.end()) continue;
      every += (every.empty() ? "" : ",") + names.at(i) + "=" + bound.at(i) + "/" +
               std::string(scenario::to_string(specs[i].tls)) + "/" +
               g.control->engine()->scenario().personality->name;
    }
  }
  if (smtp_first.empty()) smtp_first = bound.at(0);
  log_always(fmt::format(
      "smtpmock ready smtp={}{} http={} scenario={} rules={} seed={} threads={} spool={} "
      "max_connections={} nofile={} listeners={} version={} commit={}",
      smtp_first, smtps, http_bound, scenario->name, definition->rules.size(), engine->seed(),
      server.threads(), settings.spool.empty() ? "off" : settings.spool, max_connections,
      nofile.now, every, version(), commit()));
  if (::isatty(STDERR_FILENO) == 1 && settings.log_format != "json") {
    // A person at a terminal (`make run`): where to look, and a first message to send.
    std::cerr << "\n  SMTP     " << bound.at(0) << "\n  try      smtpmock send --server "
              << bound.at(0) << " --to you@example.test\n";
    if (http_bound != "off") {
      std::cerr << "  messages http://" << http_bound << "/api/v1/messages\n  web page http://"
                << http_bound << "/\n";
    }
    std::cerr << '\n';
  }
  spdlog::debug("scenario file {}", scenario_file.string());
  server.run();
  http_running = nullptr;
  // Shutdown order: the SMTP sessions have ended (run() returned); the HTTP listener was
  // closed when shutdown began; now its threads stop, then the objects go in reverse order.
  if (http_listener) http_listener->join();
  for (const auto& g : groups)
    g.control->set_apply(nullptr);
  spdlog::info("smtpmock stopped messages={}", store->message_count());
  return exit_ok;
}

int run_healthcheck(const std::string& http_listen) {
  if (!enabled(http_listen)) {
    std::cerr << "smtpmock healthcheck: the HTTP listener is off (--http-listen / "
                 "SMTPMOCK_HTTP_LISTEN), nothing to check\n";
    return exit_runtime;
  }
  const auto result = http::check_health(http_listen);
  (result.ok ? std::cout : std::cerr) << "smtpmock healthcheck: " << result.detail << '\n';
  return result.ok ? exit_ok : exit_runtime;
}

}  // namespace smtpmock::app
