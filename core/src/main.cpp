// build/gateway: parse flags, load the config, run the Gateway until SIGTERM/SIGINT,
// reload on SIGHUP.
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <string>

#include "app/channels.h"
#include "app/gateway.h"
#include "config/config.h"
#include "log/log.h"

namespace {

constexpr const char* kVersion = "0.1.0";

void printUsage(std::ostream& out) {
  out << "usage: gateway --config FILE        run the gateway in the foreground\n"
         "       gateway --check-config FILE  validate FILE, print every problem, exit non-zero if any\n"
         "       gateway --help | --version\n"
         "signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the config file\n";
}

void configureLogging(const gateway::config::GatewayConfig& config) {
  gateway::log::configure(config.log.format == gateway::config::LogFormat::kJson ? "json" : "text",
                          config.log.level);
}

// Prints every problem of the file; also loads the plugins and creates the channels, so a
// missing module or a refused credential is found before a restart, not during one.
int checkConfig(const std::string& path) {
  gateway::config::LoadResult loaded = gateway::config::loadFile(path);
  for (const auto& p : loaded.problems) std::cerr << p.toString() << '\n';
  if (!loaded.ok()) return 1;
  try {
    gateway::plugins::PluginRegistry registry;
    gateway::app::buildChannelSet(loaded.config, registry,
                                  gateway::app::resolvePluginDir(loaded.config->plugins.dir));
  } catch (const gateway::plugins::PluginError& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  std::cout << path << ": ok\n";
  return 0;
}

// Each keep-alive connection holds a descriptor; the default soft limit (often 1024) would
// cap connections well below what the server is sized for.
void raiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int run(const std::string& path) {
  raiseFileLimit();
  // Block the signals in every thread (threads inherit the mask) and take them here with
  // sigwait: no async-signal-safety puzzles, and a reload runs on an ordinary thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  gateway::config::LoadResult loaded = gateway::config::loadFile(path);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) std::cerr << "gateway: config: " << p.toString() << '\n';
    return 2;
  }
  configureLogging(*loaded.config);
  auto log = gateway::log::get("gateway");
  std::unique_ptr<gateway::app::Gateway> gateway;
  try {
    gateway = std::make_unique<gateway::app::Gateway>(loaded.config);
    gateway->start();
  } catch (const gateway::app::StartupError& e) {
    std::cerr << "gateway: cannot start: " << e.what() << '\n';
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "gateway: cannot start: " << e.what() << '\n';
    return 3;
  }
  log->info("gateway.started version={} config={} port={}", kVersion, path, gateway->port());

  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      const std::vector<std::string> problems = gateway->reload(path);
      if (problems.empty()) {
        log->info("config.reloaded config={}", path);
      } else {
        for (const auto& p : problems) log->error("config.reload_rejected problem=\"{}\"", p);
      }
      continue;
    }
    log->info("gateway.stopping signal={}", strsignal(signal));
    break;
  }
  gateway->stop(std::chrono::seconds(10));
  log->info("gateway.stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string flag = argc > 1 ? argv[1] : "";
  if (flag == "--help" || flag == "-h") {
    printUsage(std::cout);
    return 0;
  }
  if (flag == "--version") {
    std::cout << "gateway " << kVersion << " (plugin API " << GATEWAY_CHANNEL_API_VERSION << ")\n";
    return 0;
  }
  if (argc == 3 && flag == "--check-config") return checkConfig(argv[2]);
  if (argc == 3 && flag == "--config") return run(argv[2]);
  printUsage(std::cerr);
  return 64;  // EX_USAGE
}
