// The thread that fires scheduled messages at their time. It keeps nothing in memory but
// the next send_at: a million pending schedules cost an index, not RAM.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "storage/store.h"

namespace gateway::scheduler {

class Scheduler {
 public:
  // onFired: called after a commit that queued messages (wakes delivery).
  Scheduler(std::function<app::ChannelSetPtr()> channels, storage::Store& store, crm::EventFeed& feed,
            std::function<void()> onFired);
  ~Scheduler();
  void start();
  void stop();
  // A schedule was created or cancelled: re-read the next send_at.
  void wake();

 private:
  void loop();

  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  crm::EventFeed& feed_;
  std::function<void()> onFired_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool poked_ = false;
  bool stopping_ = false;
  std::int64_t nextHousekeepingMs_ = 0;  // scheduler thread only
  static constexpr std::int64_t kParkedStatusTtlMs = 7LL * 24 * 3600 * 1000;
  std::thread thread_;
};

}  // namespace gateway::scheduler
