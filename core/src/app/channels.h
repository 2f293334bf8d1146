// The configured channels, each with its plugin's Channel: an immutable snapshot made from
// one config. A SIGHUP builds a new snapshot and swaps it in; requests that started on the
// old one finish on it (they hold a shared_ptr).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "plugins/plugin_loader.h"

namespace gateway::app {

struct RuntimeChannel {
  config::ChannelConfig config;
  const gateway::channel_api::ChannelTraits* traits = nullptr;
  plugins::ChannelPtr channel;
};

struct ChannelSet {
  config::ConfigPtr config;
  std::vector<RuntimeChannel> channels;  // config order

  const RuntimeChannel* findById(const std::string& id) const;
  const RuntimeChannel* findByAccount(const std::string& type, const std::string& accountId) const;
  std::vector<const RuntimeChannel*> ofType(const std::string& type) const;
};

using ChannelSetPtr = std::shared_ptr<const ChannelSet>;

// Loads each channel type's plugin (once per process, through registry) and creates the
// Channels. Throws plugins::PluginError naming the culprit.
ChannelSetPtr buildChannelSet(const config::ConfigPtr& config, plugins::PluginRegistry& registry,
                              const std::string& pluginDir);

// plugins.dir resolved: absolute as is, relative against the folder of the running binary.
std::string resolvePluginDir(const std::string& configured);

}  // namespace gateway::app
