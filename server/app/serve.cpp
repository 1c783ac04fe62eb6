// `smtpmock serve`; see serve.hpp.
#include "app/serve.hpp"

#include <spdlog/spdlog.h>

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
  // The live scenario: the file, then PUT /api/v1/scenario, chaos and Jim overlays, SIGHUP.
  // Its engine's own `seed:` wins over --seed.
  auto control = std::make_shared<http::scenario_control>(definition, read_text(scenario_file),
                                                          scenario_file.string(), seed);
  auto engine = control->engine();
  auto metrics = std::make_shared<store::metrics>();

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
  options.listeners.push_back(net::listener_options{settings.smtp_listen, engine, false});
  if (!settings.smtps_listen.empty() && settings.smtps_listen != "off") {
    options.listeners.push_back(net::listener_options{settings.smtps_listen, engine, true});
  }
  options.tls = tls;
  options.metrics = metrics;
  const std::size_t listeners = options.listeners.size();
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
  options.on_reload = [control, scenario_file] {
    try {
      const std::string text = read_text(scenario_file);
      control->replace(scenario::load_definition_file(scenario_file), text, scenario_file.string());
      const auto next = control->engine();
      const auto& p = *next->scenario().personality;
      spdlog::info("scenario reloaded name={} rules={} seed={} file={}", p.name,
                   next->scenario().rules.size(), next->seed(), scenario_file.string());
    } catch (const scenario::load_error& e) {
      spdlog::error("scenario reload failed, keeping the old scenario: {}", e.what());
    }
  };
  options.on_shutdown = [&http_running] {
    if (http_running) http_running->stop();
  };
  control->set_apply([&running, listeners](std::shared_ptr<scenario::engine> next) {
    if (!running) return;
    for (std::size_t i = 0; i < listeners; ++i)
      running->set_scenario(i, next);
  });
  const std::size_t max_connections = options.max_connections;
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
    api = std::make_shared<http::api>(store, metrics, control, api_options);
    http_listener = std::make_unique<http::http_server>(store, api, settings.http_listen);
    try {
      http_bound = http_listener->start();
    } catch (const net::bind_error& e) {
      spdlog::error("{}", e.what());
      control->set_apply(nullptr);
      return exit_runtime;
    }
    http_running = http_listener.get();
  }

  // Ready before the line that says so: a client that reads the line may ask /readyz at once.
  if (api) api->set_ready();
  auto bound = server.bound_addresses();
  spdlog::info("tls certificate=\"{}\"", tls->describe());
  const std::string smtps = bound.size() > 1 ? " smtps=" + bound.at(1) : std::string();
  log_always(fmt::format(
      "smtpmock ready smtp={}{} http={} scenario={} rules={} seed={} threads={} spool={} "
      "max_connections={} nofile={} version={} commit={}",
      bound.at(0), smtps, http_bound, scenario->name, definition->rules.size(), engine->seed(),
      server.threads(), settings.spool.empty() ? "off" : settings.spool, max_connections,
      nofile.now, version(), commit()));
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
  control->set_apply(nullptr);
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
