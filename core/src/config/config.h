// The gateway's configuration: immutable, typed, with every default in one place.
// Only config.cpp sees YAML; everything else takes these structs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gateway::config {

enum class StorageDriver { kSqlite, kPostgres };
enum class PropertyType { kText, kNumber, kBoolean, kDate };
enum class LogFormat { kText, kJson };

struct ServerConfig {
  std::string host = "127.0.0.1";  // an IPv6 address is kept without its brackets
  std::uint16_t port = 8080;
  std::size_t maxBodyBytes = 1048576;
  // Each keep-alive connection holds a thread; size for the expected connections.
  int maxThreads = 1024;
  int maxQueued = 4096;
  int keepAliveTimeoutS = 15;
  int requestTimeoutS = 30;  // a started request must have arrived whole within this
  int listenBacklog = 1024;
};

struct ApiConfig {
  std::vector<std::string> tokens;  // secrets: never logged
};

struct StorageConfig {
  StorageDriver driver = StorageDriver::kSqlite;
  std::string path = "data/gateway.db";  // sqlite; relative to the working directory
  std::string uri;                       // postgres; secret (may hold a password)
};

struct PluginsConfig {
  std::string dir = "plugins";  // relative paths resolve against the binary's folder
};

struct DeliveryConfig {
  int maxAttempts = 8;
  std::int64_t maxAgeS = 86400;
  // Beyond the contract's keys (documented in docs/DECISIONS.md):
  std::int64_t requestTimeoutMs = 15000;  // one Send API call, connect to last byte
  std::int64_t retryBaseMs = 1000;        // first backoff; doubles per attempt, with jitter
  std::int64_t unknownGraceS = 120;       // wait for an echo/status before re-sending an uncertain send
  // Send API calls in flight at once to one host: the send loop's keep-alive connections
  // (opened as the load needs them). Sends/s reach about workers / the platform's latency.
  int workers = 256;
};

struct LogConfig {
  std::string level = "info";  // trace|debug|info|warn|error|critical|off
  LogFormat format = LogFormat::kText;
};

struct ChannelConfig {
  std::string id;
  std::string type;
  bool enabled = true;
  std::string accountId;
  std::string appSecret;    // secret
  std::string appId;        // optional
  std::string verifyToken;  // secret
  std::string accessToken;  // secret
  std::string graphBaseUrl = "https://graph.facebook.com";  // trailing slashes removed
  std::string apiVersion = "v21.0";
  double rateLimitMps = 80;
};

struct PropertyDef {
  std::string key;
  std::string label;
  PropertyType type = PropertyType::kText;
};

struct GatewayConfig {
  std::string sourcePath;  // the file it was read from
  ServerConfig server;
  ApiConfig api;
  StorageConfig storage;
  PluginsConfig plugins;
  DeliveryConfig delivery;
  LogConfig log;
  std::vector<ChannelConfig> channels;  // config order = tab order
  std::vector<PropertyDef> properties;

  const ChannelConfig* findChannel(const std::string& id) const;
};

using ConfigPtr = std::shared_ptr<const GatewayConfig>;

// One problem found while loading: "channels[1].app_secret: required (gateway.yaml:14:5)".
struct ConfigProblem {
  std::string keyPath;  // "channels[1].app_secret"
  std::string message;  // "required"
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  std::string toString() const;
};

struct LoadResult {
  ConfigPtr config;  // null when problems is not empty
  std::vector<ConfigProblem> problems;
  bool ok() const { return config != nullptr && problems.empty(); }
};

// Reads, expands ${VAR} from the environment, validates everything and reports every
// problem at once. Never throws for bad input; never puts a secret value into a message.
LoadResult loadFile(const std::string& path);
LoadResult loadString(const std::string& yamlText, const std::string& nameForMessages);

}  // namespace gateway::config
