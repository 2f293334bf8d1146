// Sends what the outbox holds: claims due messages (oldest first per conversation), paces
// them per channel account, calls the Send API through the channel's plugin, and records
// the outcome: sent, retry later, failed, or unknown (see docs/DECISIONS.md, "Uncertain sends").
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "delivery/outbox.h"
#include "delivery/rate_limiter.h"
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
  void workerLoop();
  void deliver(const OutboxItem& item);
  // Runs job (returning its last event's seq, or 0) and publishes the event once committed.
  void commit(const std::function<std::int64_t(storage::Tx&)>& job);
  // The same without waiting: a worker records a send's outcome and moves on to its next
  // message (a thread's sleep on the commit costs more CPU than the commit's bookkeeping
  // here). Once committed, the dispatcher is poked: the conversation's next message may go.
  void record(const std::string& messageId, std::function<std::int64_t(storage::Tx&)> job);

  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  crm::EventFeed& feed_;
  http::Metrics& metrics_;
  RateLimiter limiter_;

  std::mutex mutex_;
  std::condition_variable wake_;      // dispatcher: new work or a free worker
  std::condition_variable work_;      // workers: items queued
  std::condition_variable stop_;      // workers waiting for a pacing slot: only a stop ends it early
  std::deque<OutboxItem> queue_;
  int busy_ = 0;
  int recording_ = 0;  // records not committed yet
  bool poked_ = false;
  bool stopping_ = false;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
};

}  // namespace gateway::delivery
