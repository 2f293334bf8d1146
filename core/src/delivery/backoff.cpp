#include "delivery/backoff.h"

#include <algorithm>

namespace gateway::delivery {

std::int64_t backoffMs(std::int64_t baseMs, int attempt, bool rateLimited, std::mt19937_64& random) {
  double delay = static_cast<double>(baseMs) * static_cast<double>(1LL << std::clamp(attempt - 1, 0, 20));
  if (rateLimited) delay *= 4;
  delay = std::min(delay, 600000.0);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return static_cast<std::int64_t>(delay * jitter(random));
}

std::int64_t backoffMs(std::int64_t baseMs, int attempt, bool rateLimited) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return backoffMs(baseMs, attempt, rateLimited, random);
}

}  // namespace gateway::delivery
