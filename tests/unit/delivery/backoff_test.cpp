#include "delivery/backoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

using gateway::delivery::backoffMs;

namespace {

// Many draws of one attempt's delay.
std::vector<std::int64_t> draws(std::int64_t baseMs, int attempt, bool rateLimited, int n = 2000) {
  std::mt19937_64 random(42);
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(backoffMs(baseMs, attempt, rateLimited, random));
  return out;
}

}  // namespace

TEST(Backoff, DoublesPerAttemptWithinTwentyPercent) {
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const double expected = 100.0 * (1 << (attempt - 1));
    for (const std::int64_t d : draws(100, attempt, false)) {
      EXPECT_GE(d, static_cast<std::int64_t>(expected * 0.8) - 1) << attempt;
      EXPECT_LE(d, static_cast<std::int64_t>(expected * 1.2)) << attempt;
    }
  }
}

TEST(Backoff, ThrottlingWaitsFourTimesLonger) {
  for (const std::int64_t d : draws(100, 3, true)) {  // 400 ms × 4
    EXPECT_GE(d, 1280 - 1);
    EXPECT_LE(d, 1920);
  }
}

TEST(Backoff, CappedAtTenMinutesPlusJitter) {
  for (int attempt : {20, 21, 40, 1000}) {
    for (const std::int64_t d : draws(1000, attempt, true, 200)) EXPECT_LE(d, 720000) << attempt;
  }
  const auto late = draws(1000, 40, false, 200);
  EXPECT_GE(*std::min_element(late.begin(), late.end()), 480000 - 1);
}

// Messages that failed together must not all come back together.
TEST(Backoff, JitterSpreadsTheWholeTwentyPercentBand) {
  const auto d = draws(1000, 1, false);
  EXPECT_LT(*std::min_element(d.begin(), d.end()), 820);
  EXPECT_GT(*std::max_element(d.begin(), d.end()), 1180);
  std::vector<std::int64_t> distinct(d);
  std::sort(distinct.begin(), distinct.end());
  EXPECT_GT(std::unique(distinct.begin(), distinct.end()) - distinct.begin(), 300);
}
