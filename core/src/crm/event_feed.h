// Wakes long-polling /v1/events readers when a commit added events. The feed itself is the
// events table; this only says "look again" (several instances sharing a database also poll).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace gateway::crm {

class EventFeed {
 public:
  // Called after a commit that wrote events up to seq.
  void published(std::int64_t seq);
  // Waits until an event newer than afterSeq may exist, or until the deadline (or at most a
  // second). False when the feed is stopping: the caller answers with what it has.
  bool waitBeyond(std::int64_t afterSeq, std::chrono::steady_clock::time_point deadline);
  // Wakes every waiter (shutdown).
  void wakeAll();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::int64_t newest_ = 0;
  bool stopping_ = false;
};

}  // namespace gateway::crm
