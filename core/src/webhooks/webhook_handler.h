// /webhooks/{type}: the platforms' GET handshake and signed POSTs.
#pragma once

#include <functional>
#include <string>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "http/metrics.h"
#include "http/server.h"
#include "storage/store.h"

namespace gateway::webhooks {

class WebhookHandler {
 public:
  // channels() returns the current snapshot (swapped on SIGHUP).
  WebhookHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store,
                 http::Metrics& metrics, const plugins::PluginRegistry& registry, crm::EventFeed& feed);

  void addRoutes(http::Router& router);

  http::Response handshake(http::Request& request);
  http::Response receive(http::Request& request);

 private:
  void countRejected(const std::string& type, const std::string& reason);

  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  http::Metrics& metrics_;
  const plugins::PluginRegistry& registry_;
  crm::EventFeed& feed_;
};

}  // namespace gateway::webhooks
