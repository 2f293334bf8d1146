// /webhooks/{type}: the platforms' GET handshake and signed POSTs.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "http/metrics.h"
#include "http/server.h"
#include "inbound/ingest.h"
#include "storage/store.h"

namespace gateway::webhooks {

class WebhookHandler {
 public:
  // channels() returns the current snapshot (swapped on SIGHUP).
  WebhookHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store,
                 http::Metrics& metrics, const plugins::PluginRegistry& registry, crm::EventFeed& feed);

  void addRoutes(http::Router& router);

  http::Response handshake(http::Request& request);
  http::Response receive(http::Request& request);

  struct ReplayResult {
    int replayed = 0;        // now fully used
    int stillUnusable = 0;   // kept, with the current reason
  };
  // Runs normalization again over every kept raw webhook (after a parser fix or a config
  // change such as a newly added channel). Safe to repeat: duplicates change nothing.
  ReplayResult replayKept();

 private:
  // A verified webhook on its way through the writer, and what its answer needs after.
  struct Received {
    app::ChannelSetPtr set;
    std::string type;
    std::string signerId;
    inbound::EventCollector collector;
    std::string body;
    std::int64_t at = 0;
    std::string parseReason;      // why the plugin could not use it at all; "" when parsed
    // Set by each run of the store job (it may run twice, see Store::write).
    std::string keepReason;       // why (part of) it is kept raw; "" when fully used
    std::int64_t lastEventSeq = 0;
    std::int64_t duplicates = 0;  // re-delivered events that changed nothing
  };
  // 200 once it is stored (after the commit), 500 when the store failed.
  http::Response answer(const Received& received, const std::exception_ptr& error) noexcept;
  void countRejected(const std::string& type, const std::string& reason);
  // The accepted-webhooks counter of a channel, resolved once per channel id: looking it up
  // in Metrics takes the registry's mutex and renders the labels, on every request. (Ids
  // outlive a SIGHUP's new ChannelSet, and Metrics never drops a counter.)
  http::Counter& receivedCounter(const std::string& channelId);
  // The plugin's parse of a verified body into collector; returns why it is unusable, or "".
  static std::string parse(const app::RuntimeChannel& signer, const std::string& body,
                           inbound::EventCollector& collector);
  // Applies parsed events inside tx. Changes nothing outside it: a store job may run twice.
  struct Ingested {
    std::string unusable;  // why part of them is unusable, or ""
    std::int64_t lastEventSeq = 0;
    std::int64_t duplicates = 0;
  };
  static Ingested ingestParsed(storage::Tx& tx, const app::ChannelSet& set, const std::string& type,
                               inbound::EventCollector& collector, std::int64_t now);
  void countDuplicates(const std::string& type, std::int64_t duplicates);

  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  http::Metrics& metrics_;
  const plugins::PluginRegistry& registry_;
  crm::EventFeed& feed_;
  std::shared_mutex receivedMutex_;
  std::unordered_map<std::string, http::Counter*> received_;
};

}  // namespace gateway::webhooks
