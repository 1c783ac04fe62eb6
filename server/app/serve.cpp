// `smtpmock serve`; see serve.hpp.
#include "app/serve.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <system_error>

#include "net/server.hpp"
#include "net/tls_context.hpp"
#include "scenario/loader.hpp"
#include "store/message_store.hpp"

namespace smtpmock::app {
namespace {

unsigned long long random_seed() {
  std::random_device rd;
  return (static_cast<unsigned long long>(rd()) << 32) ^ rd();
}

/// The engine for a loaded scenario: its own `seed:` wins over --seed.
std::shared_ptr<scenario::engine> make_engine(std::shared_ptr<const scenario::definition> def,
                                              unsigned long long server_seed) {
  const auto seed = def->personality->seed.value_or(server_seed);
  return std::make_shared<scenario::engine>(std::move(def), seed);
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

  // The certificate for STARTTLS and implicit TLS: the files, or one generated for the
  // scenario's hostname. Fault certificates (expired, wrong host) are generated either way.
  std::shared_ptr<net::tls_contexts> tls;
  try {
    tls = std::make_shared<net::tls_contexts>(
        net::tls_settings{settings.tls_cert, settings.tls_key, scenario->hostname});
  } catch (const net::tls_error& e) {
    std::cerr << "smtpmock: " << e.what() << '\n';
    return exit_usage;
  }

  const unsigned long long seed = settings.seed ? *settings.seed : random_seed();
  auto engine = make_engine(definition, seed);

  store::store_limits limits;
  limits.max_messages = settings.max_messages;
  auto store = std::make_shared<store::message_store>(limits, spool);

  net::server_options options;
  options.listeners.push_back(net::listener_options{settings.smtp_listen, engine, false});
  if (!settings.smtps_listen.empty() && settings.smtps_listen != "off") {
    options.listeners.push_back(net::listener_options{settings.smtps_listen, engine, true});
  }
  options.tls = tls;
  const std::size_t listeners = options.listeners.size();
  options.threads = settings.threads;
  options.max_connections = settings.max_connections;
  net::server* running = nullptr;
  // SIGHUP: reload the scenario file atomically. Sessions in progress keep the scenario they
  // started with; a file that fails to load leaves the old scenario in place.
  options.on_reload = [&running, scenario_file, seed, listeners] {
    try {
      auto next = make_engine(scenario::load_definition_file(scenario_file), seed);
      const auto& p = *next->scenario().personality;
      spdlog::info("scenario reloaded name={} rules={} seed={} file={}", p.name,
                   next->scenario().rules.size(), next->seed(), scenario_file.string());
      if (running) {
        for (std::size_t i = 0; i < listeners; ++i)
          running->set_scenario(i, next);
      }
    } catch (const scenario::load_error& e) {
      spdlog::error("scenario reload failed, keeping the old scenario: {}", e.what());
    }
  };
  net::server server(std::move(options), store);
  running = &server;
  try {
    server.start();
  } catch (const net::bind_error& e) {
    spdlog::error("{}", e.what());
    return exit_runtime;
  }

  auto bound = server.bound_addresses();
  spdlog::info("tls certificate=\"{}\"", tls->describe());
  const std::string smtps = bound.size() > 1 ? " smtps=" + bound.at(1) : std::string();
  spdlog::info(
      "smtpmock ready smtp={}{} scenario={} rules={} seed={} threads={} spool={} version={}",
      bound.at(0), smtps, scenario->name, definition->rules.size(), engine->seed(),
      server.threads(), settings.spool.empty() ? "off" : settings.spool, SMTPMOCK_VERSION);
  spdlog::debug("scenario file {}", scenario_file.string());
  server.run();
  spdlog::info("smtpmock stopped messages={}", store->message_count());
  return exit_ok;
}

}  // namespace smtpmock::app
