#include "delivery/rate_limiter.h"

namespace gateway::delivery {

RateLimiter::Clock::time_point RateLimiter::reserve(const std::string& key, double perSecond) {
  const auto step = interval(perSecond);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = Clock::now();
  auto& next = next_[key];
  const auto slot = next > now ? next : now;
  next = slot + step;
  return slot;
}

RateLimiter::Clock::time_point RateLimiter::nextSlot(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = next_.find(key);
  return it == next_.end() ? Clock::time_point{} : it->second;
}

RateLimiter::Clock::duration RateLimiter::interval(double perSecond) {
  // 2% under the limit: a worker that wakes a little late must not let the next slot's
  // send land inside the same one-second window at the platform.
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.02 / perSecond));
}

}  // namespace gateway::delivery
