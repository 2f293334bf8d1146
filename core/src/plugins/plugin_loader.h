// Loads channel plugins (shared modules) and creates Channels from them.
// A handle is kept for the process lifetime: a Channel's vtable lives in its module, and
// SIGHUP makes new Channels, never new handles.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "gateway/channel_api.h"

namespace gateway::plugins {

namespace api = gateway::channel_api;

// Start-up refusal; the message names the file and the reason.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoadedPlugin {
  std::string path;
  const api::Descriptor* descriptor = nullptr;
};

// dlopen(RTLD_NOW | RTLD_LOCAL) + entry symbol + version, build signature and type checks.
// expectedType may be empty (any type). Throws PluginError.
LoadedPlugin loadPlugin(const std::string& path, const std::string& expectedType = "");

// The module file for a channel type inside a plugin folder: "<dir>/<type>.so".
std::string pluginPath(const std::string& dir, const std::string& type);

struct ChannelDeleter {
  const api::Descriptor* descriptor = nullptr;
  void operator()(api::Channel* channel) const noexcept;
};
using ChannelPtr = std::unique_ptr<api::Channel, ChannelDeleter>;

// Calls descriptor->create; throws PluginError naming the plugin when it fails or throws.
ChannelPtr createChannel(const LoadedPlugin& plugin, const api::HostApi* host,
                         const api::ChannelSettings& settings);

// The core's HostApi: logs to spdlog logger "plugin.<type>", HMAC from OpenSSL.
// One per plugin type, alive for the process lifetime.
const api::HostApi* hostApiFor(const std::string& type);

// Plugins by type, loaded once.
class PluginRegistry {
 public:
  // Loads "<dir>/<type>.so" unless already loaded; throws PluginError.
  const LoadedPlugin& require(const std::string& dir, const std::string& type);
  const LoadedPlugin* find(const std::string& type) const;

 private:
  std::map<std::string, LoadedPlugin> byType_;
};

}  // namespace gateway::plugins
