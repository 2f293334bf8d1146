#include "app/channels.h"

#include <unistd.h>

#include <filesystem>

namespace gateway::app {

namespace api = gateway::channel_api;

namespace {

api::Bytes view(const std::string& s) { return api::Bytes{s.data(), s.size()}; }
api::Bytes optionalView(const std::string& s) { return s.empty() ? api::Bytes{} : view(s); }

}  // namespace

const RuntimeChannel* ChannelSet::findById(const std::string& id) const {
  for (const auto& c : channels) {
    if (c.config.id == id) return &c;
  }
  return nullptr;
}

const RuntimeChannel* ChannelSet::findByAccount(const std::string& type,
                                                const std::string& accountId) const {
  for (const auto& c : channels) {
    if (c.config.type == type && c.config.accountId == accountId) return &c;
  }
  return nullptr;
}

std::vector<const RuntimeChannel*> ChannelSet::ofType(const std::string& type) const {
  std::vector<const RuntimeChannel*> out;
  for (const auto& c : channels) {
    if (c.config.type == type) out.push_back(&c);
  }
  return out;
}

ChannelSetPtr buildChannelSet(const config::ConfigPtr& config, plugins::PluginRegistry& registry,
                              const std::string& pluginDir) {
  auto set = std::make_shared<ChannelSet>();
  set->config = config;
  for (const config::ChannelConfig& c : config->channels) {
    const plugins::LoadedPlugin& plugin = registry.require(pluginDir, c.type);
    api::ChannelSettings settings;
    settings.id = view(c.id);
    settings.type = view(c.type);
    settings.accountId = view(c.accountId);
    settings.appSecret = view(c.appSecret);
    settings.appId = optionalView(c.appId);
    settings.verifyToken = view(c.verifyToken);
    settings.accessToken = view(c.accessToken);
    settings.apiVersion = view(c.apiVersion);
    RuntimeChannel runtime;
    runtime.config = c;
    runtime.traits = plugin.descriptor->traits;
    runtime.channel = plugins::createChannel(plugin, plugins::hostApiFor(c.type), settings);
    set->channels.push_back(std::move(runtime));
  }
  return set;
}

std::string resolvePluginDir(const std::string& configured) {
  const std::filesystem::path path(configured);
  if (path.is_absolute()) return path.string();
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return path.string();
  return (exe.parent_path() / path).lexically_normal().string();
}

}  // namespace gateway::app
