// The channels the inbound unit tests run against: the three real plugins, loaded once per
// test process (their handles are never closed, as in the core), one channel of each type.
#pragma once

#include <memory>

#include "app/channels.h"
#include "config/config.h"
#include "plugins/plugin_loader.h"

namespace gateway::unit_channels {

constexpr const char* kWaAccount = "110220330440551";
constexpr const char* kFbAccount = "104050607080901";
constexpr const char* kIgAccount = "17841400000000101";
constexpr const char* kAppSecret = "unit-app-secret";  // every channel's

inline plugins::PluginRegistry& registry() {
  static plugins::PluginRegistry r;
  return r;
}

inline config::ChannelConfig channelConfig(const char* id, const char* type, const char* account, bool enabled) {
  config::ChannelConfig c;
  c.id = id;
  c.type = type;
  c.enabled = enabled;
  c.accountId = account;
  c.appSecret = kAppSecret;
  c.verifyToken = "unit-verify-token";
  c.accessToken = "unit-access-token";
  c.graphBaseUrl = "http://127.0.0.1:9";
  return c;
}

// wa-main, fb-main and ig-main on the accounts above.
inline app::ChannelSetPtr makeChannels(bool whatsappEnabled = true) {
  auto config = std::make_shared<config::GatewayConfig>();
  config->channels.push_back(channelConfig("wa-main", "whatsapp", kWaAccount, whatsappEnabled));
  config->channels.push_back(channelConfig("fb-main", "messenger", kFbAccount, true));
  config->channels.push_back(channelConfig("ig-main", "instagram", kIgAccount, true));
  return app::buildChannelSet(config, registry(), GATEWAY_PLUGIN_DIR);
}

}  // namespace gateway::unit_channels
