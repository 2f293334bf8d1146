#include "webhooks/webhook_handler.h"

#include <openssl/crypto.h>

#include <map>

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

  // Durable before the 200: the platform forgets the event once we answer. Content we
  // cannot use is acknowledged too (a 4xx/5xx makes the platform retry it for days) and
  // kept as it came, so a fixed parser can replay it.
  // Parsing (the CPU-heavy part) runs here, in parallel across requests; only applying the
  // events goes through the single writer.
  auto received = std::make_shared<Received>();
  received->set = set;
  received->type = type;
  received->signerId = signer->config.id;
  received->parseReason = parse(*signer, request.body, received->collector);
  received->body = std::move(request.body);
  received->at = util::nowMs();
  auto job = [received](storage::Tx& tx) {
    Received& r = *received;
    Ingested ingested;
    if (r.parseReason.empty()) ingested = ingestParsed(tx, *r.set, r.type, r.collector, r.at);
    r.keepReason = r.parseReason.empty() ? ingested.unusable : r.parseReason;
    r.lastEventSeq = ingested.lastEventSeq;
    r.duplicates = ingested.duplicates;
    if (!r.keepReason.empty()) crm::keepRawWebhook(tx, r.type, r.signerId, r.at, r.body, r.keepReason);
  };
  // The 200 goes out from the store's notifier thread once the commit is durable, while
  // this connection's thread goes back to reading (see http::Reply).
  store_.write(std::move(job), [this, received, reply = request.answerLater()](std::exception_ptr error) {
    reply(answer(*received, error));
  });
  return http::Response::later();
}

http::Response WebhookHandler::answer(const Received& received, const std::exception_ptr& error) noexcept {
  try {
    if (error) std::rethrow_exception(error);
    if (received.lastEventSeq > 0) feed_.published(received.lastEventSeq);
    receivedCounter(received.signerId).inc();
    countDuplicates(received.type, received.duplicates);
    if (!received.keepReason.empty()) {
      metrics_
          .counter("gateway_webhooks_unusable_total",
                   "Signed webhooks kept raw because (part of) them could not be used",
                   {{"type", received.type}, {"reason", received.keepReason}})
          .inc();
      log::get("webhook")->warn("webhook.kept_raw type={} channel={} reason={}", received.type, received.signerId,
                                received.keepReason);
    }
    return http::Response::text(200, "EVENT_RECEIVED");
  } catch (const std::exception& e) {
    // Not stored: a 500 makes the platform deliver it again.
    log::get("webhook")->error("webhook.store_failed type={} channel={} error={}", received.type, received.signerId,
                               e.what());
  } catch (...) {
  }
  return http::errorResponse(500, "internal", "internal error");
}

http::Counter& WebhookHandler::receivedCounter(const std::string& channelId) {
  {
    std::shared_lock<std::shared_mutex> lock(receivedMutex_);
    const auto found = received_.find(channelId);
    if (found != received_.end()) return *found->second;
  }
  http::Counter& counter = metrics_.counter("gateway_webhooks_received_total",
                                            "Signed webhook requests accepted, by channel", {{"channel", channelId}});
  std::unique_lock<std::shared_mutex> lock(receivedMutex_);
  received_.emplace(channelId, &counter);
  return counter;
}

std::string WebhookHandler::parse(const app::RuntimeChannel& signer, const std::string& body,
                                  inbound::EventCollector& collector) {
  static const std::string kPost = "POST";
  const api::HttpView view{gateway::webhooks::view(kPost), api::Bytes{}, api::Bytes{}, nullptr, 0,
                           gateway::webhooks::view(body)};
  const api::Outcome parsed = signer.channel->parseWebhook(view, collector);
  if (parsed == api::Outcome::kMalformed) return "malformed";
  if (parsed == api::Outcome::kUnsupported) return "unsupported_object";
  if (parsed != api::Outcome::kOk || collector.overflowed()) return "plugin_error";
  return "";
}

WebhookHandler::Ingested WebhookHandler::ingestParsed(storage::Tx& tx, const app::ChannelSet& set,
                                                      const std::string& type, inbound::EventCollector& collector,
                                                      std::int64_t now) {
  const inbound::IngestResult result = inbound::ingest(tx, set, type, collector.events(), now);
  Ingested out;
  out.unusable = result.unusable.empty() ? "" : result.unusable.front();
  out.lastEventSeq = result.lastEventSeq;
  out.duplicates = result.duplicates;
  return out;
}

void WebhookHandler::countDuplicates(const std::string& type, std::int64_t duplicates) {
  if (duplicates <= 0) return;
  metrics_.counter("gateway_webhook_duplicates_total", "Re-delivered events that changed nothing", {{"type", type}})
      .inc(duplicates);
}

WebhookHandler::ReplayResult WebhookHandler::replayKept() {
  const app::ChannelSetPtr set = channels_();
  ReplayResult replay;
  std::int64_t lastEventSeq = 0;
  std::map<std::string, std::int64_t> duplicates;  // by channel type
  store_
      .write([&](storage::Tx& tx) {
        // From scratch on every run (see Store::write).
        replay = ReplayResult{};
        lastEventSeq = 0;
        duplicates.clear();
        const auto rows = tx.query("SELECT id, channel_type, signer_channel_id, body FROM raw_webhooks "
                                   "WHERE state = 'kept' ORDER BY id");
        for (const storage::Row& row : rows) {
          const std::string type = row.getText(1);
          const auto candidates = set->ofType(type);
          const app::RuntimeChannel* signer = set->findById(row.findText(2).value_or(""));
          if (signer == nullptr && !candidates.empty()) signer = candidates.front();
          std::string reason = "no_channel_of_type";
          if (signer != nullptr) {
            inbound::EventCollector collector;
            reason = parse(*signer, row.getText(3), collector);
            if (reason.empty()) {
              const Ingested ingested = ingestParsed(tx, *set, type, collector, util::nowMs());
              reason = ingested.unusable;
              if (ingested.lastEventSeq > 0) lastEventSeq = ingested.lastEventSeq;
              duplicates[type] += ingested.duplicates;
            }
          }
          if (reason.empty()) {
            tx.exec("UPDATE raw_webhooks SET state = 'replayed' WHERE id = ?", {row.getInt(0)});
            ++replay.replayed;
          } else {
            tx.exec("UPDATE raw_webhooks SET reason = ? WHERE id = ?", {reason, row.getInt(0)});
            ++replay.stillUnusable;
          }
        }
      })
      .get();
  if (lastEventSeq > 0) feed_.published(lastEventSeq);
  for (const auto& [type, n] : duplicates) countDuplicates(type, n);
  log::get("webhook")->info("webhook.replayed replayed={} still_unusable={}", replay.replayed, replay.stillUnusable);
  return replay;
}

}  // namespace gateway::webhooks
