#include "plugins/plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

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

// OpenSSL wants a valid pointer even for zero bytes.
const unsigned char* bytesOrEmpty(api::Bytes b) {
  static const unsigned char kEmpty = 0;
  return b.size > 0 ? reinterpret_cast<const unsigned char*>(b.data) : &kEmpty;
}

// OpenSSL 3's one-shot HMAC() fetches the algorithm from the provider store (behind a lock
// every HTTP thread shares) and builds and frees a context on every call: for a 1 KB body
// 2.3 µs a call, against 0.9 µs re-using a keyed context. Each thread keeps a keyed context
// for the few app secrets it sees and re-initialises it (same key) per call instead.
class HmacSha256 {
 public:
  HmacSha256() : mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)) { keyed_.reserve(kKeys); }
  ~HmacSha256() {
    for (auto& entry : keyed_) EVP_MAC_CTX_free(entry.second);
    EVP_MAC_free(mac_);
  }
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  bool sign(api::Bytes key, api::Bytes data, unsigned char out[32]) {
    EVP_MAC_CTX* ctx = keyed(key);
    std::size_t length = 0;
    return ctx != nullptr && EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(ctx, bytesOrEmpty(data), data.size) == 1 && EVP_MAC_final(ctx, out, &length, 32) == 1 &&
           length == 32;
  }

 private:
  // Few keys: one app secret per Meta app, and a webhook is checked against the secrets of
  // its type's channels in turn. A new key (a SIGHUP with a new secret) takes the place of
  // the one used longest ago; with more secrets than this in turn, a check costs what the
  // one-shot call did. Each keyed context is under 1 KB.
  static constexpr std::size_t kKeys = 8;

  EVP_MAC_CTX* keyed(api::Bytes key) {
    const std::string_view wanted(key.data != nullptr ? key.data : "", key.size);
    for (std::size_t i = 0; i < keyed_.size(); ++i) {
      if (keyed_[i].first == wanted) {
        std::rotate(keyed_.begin(), keyed_.begin() + static_cast<std::ptrdiff_t>(i),
                    keyed_.begin() + static_cast<std::ptrdiff_t>(i) + 1);  // most recent first
        return keyed_.front().second;
      }
    }
    if (mac_ == nullptr) return nullptr;
    std::string copy(wanted);  // before the context: nothing to free if this throws
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (ctx == nullptr || EVP_MAC_init(ctx, bytesOrEmpty(key), key.size, params) != 1) {
      EVP_MAC_CTX_free(ctx);
      return nullptr;
    }
    if (keyed_.size() == kKeys) {
      EVP_MAC_CTX_free(keyed_.back().second);
      keyed_.pop_back();
    }
    keyed_.insert(keyed_.begin(), {std::move(copy), ctx});  // no allocation: reserved
    return ctx;
  }

  EVP_MAC* mac_;
  std::vector<std::pair<std::string, EVP_MAC_CTX*>> keyed_;  // most recently used first
};

bool hostHmacSha256(void*, api::Bytes key, api::Bytes data, unsigned char out[32]) noexcept {
  try {
    thread_local HmacSha256 hmac;
    return hmac.sign(key, data, out);
  } catch (...) {
    return false;  // out of memory: the signature cannot be checked, the webhook is refused
  }
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
