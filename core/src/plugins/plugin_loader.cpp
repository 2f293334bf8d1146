#include "plugins/plugin_loader.h"

#include <dlfcn.h>

#include <map>
#include <memory>
#include <mutex>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log/log.h"

namespace gateway::plugins {

namespace {

using EntryFn = const api::Descriptor* (*)() noexcept;

std::string describe(const std::string& path, const std::string& reason) {
  return "plugin " + path + ": " + reason;
}

void hostLog(void* ctx, api::LogLevel level, api::Bytes line) noexcept {
  try {
    auto* logger = static_cast<spdlog::logger*>(ctx);
    const std::string_view text(line.data != nullptr ? line.data : "", line.size);
    switch (level) {
      case api::LogLevel::kDebug: logger->debug("{}", text); break;
      case api::LogLevel::kInfo: logger->info("{}", text); break;
      case api::LogLevel::kWarn: logger->warn("{}", text); break;
      case api::LogLevel::kError: logger->error("{}", text); break;
    }
  } catch (...) {
    // Logging must never take a plugin call down.
  }
}

bool hostHmacSha256(void*, api::Bytes key, api::Bytes data, unsigned char out[32]) noexcept {
  unsigned int length = 0;
  static const unsigned char kEmpty = 0;
  const auto* bytes = data.size > 0 ? reinterpret_cast<const unsigned char*>(data.data) : &kEmpty;
  return HMAC(EVP_sha256(), key.data, static_cast<int>(key.size), bytes, data.size, out, &length) !=
             nullptr &&
         length == 32;
}

}  // namespace

std::string pluginPath(const std::string& dir, const std::string& type) {
  if (dir.empty()) return type + ".so";
  return dir.back() == '/' ? dir + type + ".so" : dir + "/" + type + ".so";
}

LoadedPlugin loadPlugin(const std::string& path, const std::string& expectedType) {
  // RTLD_LOCAL: plugins cannot see or clash with each other's symbols. The handle is
  // never closed (objects created by the plugin keep pointers into it).
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    throw PluginError(describe(path, std::string("cannot load: ") + (error ? error : "unknown error")));
  }
  dlerror();
  auto entry = reinterpret_cast<EntryFn>(dlsym(handle, GATEWAY_CHANNEL_ENTRY_SYMBOL));
  if (entry == nullptr) {
    throw PluginError(describe(path, "no entry symbol " GATEWAY_CHANNEL_ENTRY_SYMBOL));
  }
  const api::Descriptor* descriptor = entry();
  if (descriptor == nullptr) throw PluginError(describe(path, "entry symbol returned no descriptor"));
  if (descriptor->apiVersion != GATEWAY_CHANNEL_API_VERSION) {
    throw PluginError(describe(path, "built for plugin API version " +
                                         std::to_string(descriptor->apiVersion) +
                                         ", this gateway speaks version " +
                                         std::to_string(GATEWAY_CHANNEL_API_VERSION)));
  }
  const std::string signature = descriptor->buildSignature ? descriptor->buildSignature : "";
  if (signature != GATEWAY_BUILD_SIGNATURE) {
    throw PluginError(describe(path, "built with " + signature + ", this gateway with " +
                                         GATEWAY_BUILD_SIGNATURE));
  }
  const std::string type = descriptor->type ? descriptor->type : "";
  if (type.empty() || descriptor->create == nullptr || descriptor->destroy == nullptr ||
      descriptor->traits == nullptr) {
    throw PluginError(describe(path, "incomplete descriptor (type, traits, create and destroy are required)"));
  }
  if (!expectedType.empty() && type != expectedType) {
    throw PluginError(describe(path, "is a '" + type + "' plugin, expected '" + expectedType + "'"));
  }
  return LoadedPlugin{path, descriptor};
}

void ChannelDeleter::operator()(api::Channel* channel) const noexcept {
  if (channel != nullptr && descriptor != nullptr) descriptor->destroy(channel);
}

ChannelPtr createChannel(const LoadedPlugin& plugin, const api::HostApi* host,
                         const api::ChannelSettings& settings) {
  char error[512] = {0};
  api::Channel* channel = nullptr;
  // create() is noexcept by contract, but a broken plugin may still throw through it. Call
  // it through a pointer type without noexcept so the exception reaches this catch instead
  // of terminating the server.
  using PlainCreate = api::Channel* (*)(const api::HostApi*, const api::ChannelSettings*, char*,
                                        std::size_t);
  const auto create = reinterpret_cast<PlainCreate>(plugin.descriptor->create);
  try {
    channel = create(host, &settings, error, sizeof error);
  } catch (const std::exception& e) {
    api::writeError(error, sizeof error, (std::string("threw: ") + e.what()).c_str());
  } catch (...) {
    api::writeError(error, sizeof error, "threw an unknown exception");
  }
  if (channel == nullptr) {
    const std::string id(settings.id.data ? settings.id.data : "", settings.id.size);
    throw PluginError(describe(plugin.path, "cannot create channel '" + id + "': " +
                                                (error[0] ? error : "no reason given")));
  }
  return ChannelPtr(channel, ChannelDeleter{plugin.descriptor});
}

const api::HostApi* hostApiFor(const std::string& type) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<api::HostApi>> hosts;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = hosts[type];
  if (!slot) {
    // The logger lives in spdlog's registry for the process lifetime; the raw pointer is
    // what the C-style HostApi carries.
    auto logger = log::get("plugin." + type);
    slot = std::make_unique<api::HostApi>(api::HostApi{logger.get(), &hostLog, &hostHmacSha256});
  }
  return slot.get();
}

const LoadedPlugin& PluginRegistry::require(const std::string& dir, const std::string& type) {
  auto it = byType_.find(type);
  if (it != byType_.end()) return it->second;
  return byType_.emplace(type, loadPlugin(pluginPath(dir, type), type)).first->second;
}

const LoadedPlugin* PluginRegistry::find(const std::string& type) const {
  auto it = byType_.find(type);
  return it == byType_.end() ? nullptr : &it->second;
}

}  // namespace gateway::plugins
