// The server as a whole: config snapshot, plugins, store, HTTP front and their wiring.
// main.cpp only parses flags, handles signals and drives this class.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/channels.h"
#include "config/config.h"
#include "crm/event_feed.h"
#include "http/metrics.h"
#include "http/server.h"
#include "plugins/plugin_loader.h"
#include "storage/store.h"

namespace gateway::api {
class ApiHandler;
class ProfileHandler;
class SendHandler;
}
namespace gateway::delivery {
class DeliveryEngine;
}
namespace gateway::scheduler {
class Scheduler;
}
namespace gateway::webhooks {
class WebhookHandler;
}

namespace gateway::app {

// Start-up refused: one message naming the culprit.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Gateway {
 public:
  // Loads plugins and creates channels, opens the store and migrates it. Throws StartupError.
  explicit Gateway(config::ConfigPtr config);
  ~Gateway();

  void start();
  std::uint16_t port() const;

  // Re-reads the config file. On success swaps channels, tokens and limits in without
  // dropping a request and returns no problems; otherwise keeps the running config and
  // returns what is wrong.
  std::vector<std::string> reload(const std::string& path);

  // Finishes in-flight requests (up to grace), then closes the store.
  void stop(std::chrono::milliseconds grace);

  ChannelSetPtr channels() const;
  http::Metrics& metrics() { return metrics_; }
  const http::Router& router() const { return router_; }

 private:
  void registerMetrics();

  mutable std::mutex swapMutex_;  // guards the pointer swap only; readers copy the pointer
  ChannelSetPtr channels_;
  plugins::PluginRegistry registry_;
  std::string pluginDir_;
  http::Metrics metrics_;
  crm::EventFeed feed_;
  std::unique_ptr<storage::Store> store_;
  http::Router router_;
  std::unique_ptr<webhooks::WebhookHandler> webhooks_;
  std::unique_ptr<api::ApiHandler> api_;
  std::unique_ptr<delivery::DeliveryEngine> delivery_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<api::SendHandler> sends_;
  std::unique_ptr<api::ProfileHandler> profile_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace gateway::app
