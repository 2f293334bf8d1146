#include "webhooks/webhook_handler.h"

#include <openssl/crypto.h>

#include "crm/repository.h"
#include "inbound/ingest.h"
#include "log/log.h"
#include "util/clock.h"

namespace gateway::webhooks {

namespace api = gateway::channel_api;

namespace {

bool constantTimeEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

api::Bytes view(const std::string& s) { return api::Bytes{s.data(), s.size()}; }

}  // namespace

WebhookHandler::WebhookHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store,
                               http::Metrics& metrics, const plugins::PluginRegistry& registry,
                               crm::EventFeed& feed)
    : channels_(std::move(channels)), store_(store), metrics_(metrics), registry_(registry), feed_(feed) {}

void WebhookHandler::addRoutes(http::Router& router) {
  router.add("GET", "/webhooks/{type}", "webhook_handshake",
             [this](http::Request& r) { return handshake(r); });
  router.add("POST", "/webhooks/{type}", "webhook_receive",
             [this](http::Request& r) { return receive(r); });
}

void WebhookHandler::countRejected(const std::string& type, const std::string& reason) {
  metrics_
      .counter("gateway_webhooks_rejected_total", "Webhook requests refused, by channel type and reason",
               {{"type", type}, {"reason", reason}})
      .inc();
  log::get("webhook")->warn("webhook.rejected type={} reason={}", type, reason);
}

http::Response WebhookHandler::handshake(http::Request& request) {
  const std::string& type = request.pathParams["type"];
  const app::ChannelSetPtr set = channels_();
  const auto candidates = set->ofType(type);
  if (registry_.find(type) == nullptr || candidates.empty()) {
    return http::errorResponse(404, "not_found", "no channel of type " + type);
  }
  const auto mode = request.queryParam("hub.mode");
  const auto token = request.queryParam("hub.verify_token");
  const auto challenge = request.queryParam("hub.challenge");
  if (mode == std::optional<std::string>("subscribe") && token && challenge) {
    for (const app::RuntimeChannel* c : candidates) {
      if (constantTimeEqual(*token, c->config.verifyToken)) {
        log::get("webhook")->info("webhook.handshake channel={}", c->config.id);
        return http::Response::text(200, *challenge);
      }
    }
  }
  countRejected(type, "bad_verify_token");
  return http::Response::text(403, "forbidden");
}

http::Response WebhookHandler::receive(http::Request& request) {
  const std::string& type = request.pathParams["type"];
  const app::ChannelSetPtr set = channels_();
  const auto candidates = set->ofType(type);
  if (registry_.find(type) == nullptr || candidates.empty()) {
    return http::errorResponse(404, "not_found", "no channel of type " + type);
  }

  std::vector<api::Header> headers;
  headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) headers.push_back({view(name), view(value)});
  const api::HttpView view{gateway::webhooks::view(request.method), gateway::webhooks::view(request.path),
                           gateway::webhooks::view(request.query), headers.data(), headers.size(),
                           gateway::webhooks::view(request.body)};

  // Several channels of one type may have different app secrets: the one that signed it wins.
  const app::RuntimeChannel* signer = nullptr;
  for (const app::RuntimeChannel* c : candidates) {
    if (c->channel->verifySignature(view) == api::Outcome::kOk) {
      signer = c;
      break;
    }
  }
  if (signer == nullptr) {
    countRejected(type, request.header("x-hub-signature-256").empty() ? "missing_signature" : "bad_signature");
    return http::errorResponse(401, "unauthorized", "missing or invalid X-Hub-Signature-256");
  }

  // Parse on this request's thread; only the store work goes to the single writer.
  inbound::EventCollector collector;
  const api::Outcome parsed = signer->channel->parseWebhook(view, collector);
  std::string keepReason;
  if (parsed == api::Outcome::kMalformed) keepReason = "malformed";
  else if (parsed == api::Outcome::kUnsupported) keepReason = "unsupported_object";
  else if (parsed != api::Outcome::kOk || collector.overflowed()) keepReason = "plugin_error";

  // Durable before the 200: the platform forgets the event once we answer. Content we
  // cannot use is acknowledged too (a 4xx/5xx makes the platform retry it for days) and
  // kept as it came, so a fixed parser can replay it.
  const std::int64_t now = util::nowMs();
  inbound::IngestResult result;
  store_
      .write([&](storage::Tx& tx) {
        result = inbound::IngestResult{};
        if (parsed == api::Outcome::kOk) result = inbound::ingest(tx, *set, type, collector.events(), now);
        if (keepReason.empty() && !result.unusable.empty()) keepReason = result.unusable.front();
        if (!keepReason.empty()) crm::keepRawWebhook(tx, type, signer->config.id, now, request.body, keepReason);
      })
      .get();
  if (result.lastEventSeq > 0) feed_.published(result.lastEventSeq);

  metrics_
      .counter("gateway_webhooks_received_total", "Signed webhook requests accepted, by channel",
               {{"channel", signer->config.id}})
      .inc();
  if (!keepReason.empty()) {
    metrics_
        .counter("gateway_webhooks_unusable_total", "Signed webhooks kept raw because (part of) them could not be used",
                 {{"type", type}, {"reason", keepReason}})
        .inc();
    log::get("webhook")->warn("webhook.kept_raw type={} channel={} reason={}", type, signer->config.id, keepReason);
  }
  if (result.duplicates > 0) {
    metrics_.counter("gateway_webhook_duplicates_total", "Re-delivered events that changed nothing", {{"type", type}})
        .inc(result.duplicates);
  }
  return http::Response::text(200, "EVENT_RECEIVED");
}

}  // namespace gateway::webhooks
