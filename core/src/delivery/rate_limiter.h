// Paces sends per channel account: one slot every 1/rate seconds, so no one-second window
// ever holds more than `rate` sends (a bucket with a burst would allow twice that across a
// window edge).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace gateway::delivery {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // Reserves the next slot for key at `perSecond` and returns when it may be used.
  Clock::time_point reserve(const std::string& key, double perSecond);
  // When key's next slot comes (the past when none is reserved ahead).
  Clock::time_point nextSlot(const std::string& key);
  // The time between two slots at `perSecond`.
  static Clock::duration interval(double perSecond);

 private:
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> next_;
};

}  // namespace gateway::delivery
