#include "app/gateway.h"

#include "api/api_handler.h"
#include "api/profile_handler.h"
#include "api/send_handler.h"
#include "delivery/delivery_engine.h"
#include "delivery/outbox.h"
#include "scheduler/scheduler.h"
#include "scheduler/schedules.h"
#include "log/log.h"
#include "webhooks/webhook_handler.h"

namespace gateway::app {

namespace {

std::unique_ptr<storage::Store> openStore(const config::StorageConfig& storage) {
  if (storage.driver == config::StorageDriver::kPostgres) {
    storage::PostgresOptions options;
    options.uri = storage.uri;
    return storage::openPostgres(options);
  }
  storage::SqliteOptions options;
  options.path = storage.path;
  return storage::openSqlite(options);
}

}  // namespace

Gateway::Gateway(config::ConfigPtr config) {
  pluginDir_ = resolvePluginDir(config->plugins.dir);
  try {
    channels_ = buildChannelSet(config, registry_, pluginDir_);
  } catch (const plugins::PluginError& e) {
    throw StartupError(e.what());
  }
  try {
    store_ = openStore(config->storage);
    store_->migrate();
  } catch (const storage::StoreError& e) {
    throw StartupError(std::string("storage: ") + e.what());
  }

  auto current = [this] { return channels(); };
  webhooks_ = std::make_unique<webhooks::WebhookHandler>(current, *store_, metrics_, registry_, feed_);
  api_ = std::make_unique<api::ApiHandler>(current, *store_, feed_);
  profile_ = std::make_unique<api::ProfileHandler>(current, *store_, feed_);
  delivery_ = std::make_unique<delivery::DeliveryEngine>(current, *store_, feed_, metrics_);
  scheduler_ = std::make_unique<scheduler::Scheduler>(current, *store_, feed_, [this] { delivery_->wake(); });
  sends_ = std::make_unique<api::SendHandler>(
      current, *store_, feed_, [this] { delivery_->wake(); }, [this] { scheduler_->wake(); });

  router_.add("GET", "/healthz", "healthz", [this](http::Request&) {
    return store_->ping() ? http::Response::json(200, R"({"status":"ok"})")
                          : http::Response::json(503, R"({"status":"unavailable"})");
  });
  router_.add("GET", "/metrics", "metrics", [this](http::Request&) {
    http::Response r = http::Response::text(200, metrics_.renderPrometheus());
    r.contentType = "text/plain; version=0.0.4";
    return r;
  });
  webhooks_->addRoutes(router_);
  api_->addRoutes(router_);
  sends_->addRoutes(router_, [this](http::Handler h) { return api_->requireToken(std::move(h)); });
  // After a parser fix or a newly configured account: run kept raw webhooks through again.
  router_.add("POST", "/v1/admin/replay-webhooks", "webhooks_replay", api_->requireToken([this](http::Request&) {
    const auto result = webhooks_->replayKept();
    return http::Response::json(200, "{\"replayed\":" + std::to_string(result.replayed) +
                                         ",\"still_unusable\":" + std::to_string(result.stillUnusable) + "}");
  }));
  profile_->addRoutes(router_, [this](http::Handler h) { return api_->requireToken(std::move(h)); });
  registerMetrics();
}

Gateway::~Gateway() { stop(std::chrono::milliseconds(0)); }

void Gateway::registerMetrics() {
  // Read from the store when scraped, so they are never stale.
  metrics_.gauge("gateway_outbound_queue_depth", "Messages accepted and not yet sent or failed", [this] {
    std::int64_t n = 0;
    store_->read([&](storage::Tx& tx) { n = delivery::outboxDepth(tx); });
    return static_cast<double>(n);
  });
  // The single writer is the throughput limit: jobs per commit tells how well group
  // commit is batching.
  metrics_.gauge("gateway_store_commits_total", "Write transactions committed by the store's writer",
                 [this] { return static_cast<double>(store_->stats().commits); });
  metrics_.gauge("gateway_store_write_jobs_total", "Write jobs (requests' writes) run by the store's writer",
                 [this] { return static_cast<double>(store_->stats().writeJobs); });
  metrics_.gauge("gateway_store_batch_reruns_total",
                 "Group commits run again, each job in a savepoint, because one of their jobs failed",
                 [this] { return static_cast<double>(store_->stats().batchReruns); });
  metrics_.gauge("gateway_scheduled_pending", "Scheduled messages waiting for their time", [this] {
    std::int64_t n = 0;
    store_->read([&](storage::Tx& tx) { n = scheduler::pendingCount(tx); });
    return static_cast<double>(n);
  });
  metrics_.gauge("gateway_channels_enabled", "Configured channels that are enabled", [this] {
    double n = 0;
    for (const auto& c : channels()->channels) n += c.config.enabled ? 1 : 0;
    return n;
  });
}

void Gateway::start() {
  const config::ServerConfig& s = channels()->config->server;
  http::ServerOptions options;
  options.host = s.host;
  options.port = s.port;
  options.maxThreads = s.maxThreads;
  options.maxQueued = s.maxQueued;
  options.keepAliveTimeoutS = s.keepAliveTimeoutS;
  options.requestTimeoutS = s.requestTimeoutS;
  options.listenBacklog = s.listenBacklog;
  options.maxBodyBytes = [this] { return channels()->config->server.maxBodyBytes; };
  delivery_->start();
  scheduler_->start();
  server_ = std::make_unique<http::Server>(options, router_, metrics_);
  server_->start();
  log::get("http")->info("gateway.listening address={}:{} channels={}", s.host, server_->port(),
                         channels()->channels.size());
}

std::uint16_t Gateway::port() const { return server_ ? server_->port() : 0; }

ChannelSetPtr Gateway::channels() const {
  std::lock_guard<std::mutex> lock(swapMutex_);
  return channels_;
}

std::vector<std::string> Gateway::reload(const std::string& path) {
  config::LoadResult loaded = config::loadFile(path);
  std::vector<std::string> problems;
  for (const auto& p : loaded.problems) problems.push_back(p.toString());
  if (!loaded.ok()) return problems;

  const config::GatewayConfig& before = *channels()->config;
  const config::GatewayConfig& after = *loaded.config;
  // These are bound at start-up (socket, database, module folder); say so instead of
  // pretending they changed.
  if (before.server.host != after.server.host || before.server.port != after.server.port ||
      before.storage.driver != after.storage.driver || before.storage.path != after.storage.path ||
      before.storage.uri != after.storage.uri || before.plugins.dir != after.plugins.dir) {
    log::get("config")->warn(
        "config.reload_partial reason=\"server.listen, storage and plugins.dir apply at the next restart\"");
  }
  ChannelSetPtr next;
  try {
    next = buildChannelSet(loaded.config, registry_, pluginDir_);
  } catch (const plugins::PluginError& e) {
    return {e.what()};
  }
  log::configure(after.log.format == config::LogFormat::kJson ? "json" : "text", after.log.level);
  {
    std::lock_guard<std::mutex> lock(swapMutex_);
    channels_ = std::move(next);
  }
  return {};
}

void Gateway::stop(std::chrono::milliseconds grace) {
  feed_.wakeAll();  // long-polling readers answer now instead of holding the stop up
  if (server_) {
    server_->stop(grace);
    server_.reset();
  }
  // After the HTTP front (no new work), before the store (they write their outcomes).
  if (scheduler_) scheduler_->stop();
  if (delivery_) delivery_->stop();
  if (store_) store_->close();
}

}  // namespace gateway::app
