#include "crm/event_feed.h"

namespace gateway::crm {

void EventFeed::published(std::int64_t seq) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (seq > newest_) newest_ = seq;
  }
  changed_.notify_all();
}

bool EventFeed::waitBeyond(std::int64_t afterSeq, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  // Short slices: another instance's commits are not announced here, so re-check the table.
  const auto slice = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
  changed_.wait_until(lock, slice, [&] { return stopping_ || newest_ > afterSeq; });
  return !stopping_;
}

void EventFeed::wakeAll() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
}

}  // namespace gateway::crm
