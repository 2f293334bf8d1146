#include "delivery/rate_limiter.h"

namespace gateway::delivery {

RateLimiter::Clock::time_point RateLimiter::reserve(const std::string& key, double perSecond) {
  // 2% under the limit: a worker that wakes a little late must not let the next slot's
  // send land inside the same one-second window at the platform.
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.02 / perSecond));
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = Clock::now();
  auto& next = next_[key];
  const auto slot = next > now ? next : now;
  next = slot + interval;
  return slot;
}

}  // namespace gateway::delivery
