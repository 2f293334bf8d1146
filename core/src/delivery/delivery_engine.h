// Sends what the outbox holds: claims due messages (oldest first per conversation), paces
// them per channel account, calls the Send API through the channel's plugin (on the send
// loop's thread, see send_loop.h), and records the outcome: sent, retry later, failed, or
// unknown (see docs/DECISIONS.md, "Uncertain sends").
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "delivery/outbox.h"
#include "delivery/rate_limiter.h"
#include "delivery/send_loop.h"
#include "http/metrics.h"
#include "storage/store.h"

namespace gateway::delivery {

class DeliveryEngine {
 public:
  DeliveryEngine(std::function<app::ChannelSetPtr()> channels, storage::Store& store, crm::EventFeed& feed,
                 http::Metrics& metrics);
  ~DeliveryEngine();

  void start();
  // Finishes the calls in flight, then stops; what is left stays in the outbox.
  void stop();
  // Something was queued: look now instead of at the next tick.
  void wake();

 private:
  void dispatchLoop();
  // Items the dispatcher may claim now (under mutex_).
  int freePlaces() const;
  // Checks the rules again, has the plugin build the request and hands it to the send loop;
  // or records why the message ends here.
  void send(const std::shared_ptr<const OutboxItem>& item, const app::ChannelSetPtr& set);
  // On the send loop's thread: what the Send API's answer (or its absence) means.
  void finish(const OutboxItem& item, const app::ChannelSet& set, const HttpOutcome& outcome);
  void fail(const OutboxItem& item, const std::string& code, const std::string& message,
            std::optional<std::int64_t> platformCode);
  void retryOrFail(const OutboxItem& item, const config::DeliveryConfig& cfg, bool rateLimited,
                   const std::string& why, std::optional<std::int64_t> platformCode);
  // Runs job (returning its last event's seq, or 0) and publishes the event once committed.
  void commit(const std::function<std::int64_t(storage::Tx&)>& job);
  // The same without waiting: an outcome is recorded and the send loop moves on. Once
  // committed, the dispatcher is poked: the conversation's next message may go.
  void record(const std::string& messageId, std::function<std::int64_t(storage::Tx&)> job);

  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  crm::EventFeed& feed_;
  http::Metrics& metrics_;
  RateLimiter limiter_;
  std::unique_ptr<SendLoop> sender_;
  int capacity_ = 0;  // calls in flight at most (delivery.workers)

  std::mutex mutex_;
  std::condition_variable wake_;  // dispatcher: new work or a finished call; stop: the last record
  int busy_ = 0;                  // handed to the send loop and not finished
  int recording_ = 0;             // records not committed yet
  bool poked_ = false;
  bool stopping_ = false;
  std::thread dispatcher_;
};

}  // namespace gateway::delivery
