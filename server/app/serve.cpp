// `smtpmock serve`; see serve.hpp.
#include "app/serve.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <system_error>

#include "net/server.hpp"
#include "scenario/loader.hpp"
#include "store/message_store.hpp"

namespace smtpmock::app {
namespace {

unsigned long long random_seed() {
  std::random_device rd;
  return (static_cast<unsigned long long>(rd()) << 32) ^ rd();
}

}  // namespace

int run_serve(const serve_settings& settings) {
  std::shared_ptr<const smtp::personality> scenario;
  std::filesystem::path scenario_file;
  try {
    scenario_file = scenario::resolve(settings.scenario);
    scenario = scenario::load_file(scenario_file);
  } catch (const scenario::load_error& e) {
    std::cerr << e.what() << '\n';
    return exit_usage;
  }

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

  unsigned long long seed = settings.seed ? *settings.seed : random_seed();

  store::store_limits limits;
  limits.max_messages = settings.max_messages;
  auto store = std::make_shared<store::message_store>(limits, spool);

  net::server_options options;
  options.listeners.push_back(net::listener_options{settings.smtp_listen, scenario});
  options.threads = settings.threads;
  options.max_connections = settings.max_connections;
  net::server server(std::move(options), store);
  try {
    server.start();
  } catch (const net::bind_error& e) {
    spdlog::error("{}", e.what());
    return exit_runtime;
  }

  auto bound = server.bound_addresses();
  spdlog::info("smtpmock ready smtp={} scenario={} seed={} threads={} spool={} version={}",
               bound.at(0), scenario->name, seed, server.threads(),
               settings.spool.empty() ? "off" : settings.spool, SMTPMOCK_VERSION);
  spdlog::debug("scenario file {}", scenario_file.string());
  server.run();
  spdlog::info("smtpmock stopped messages={}", store->message_count());
  return exit_ok;
}

}  // namespace smtpmock::app
