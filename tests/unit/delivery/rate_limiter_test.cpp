#include "delivery/rate_limiter.h"

#include <gtest/gtest.h>

using gateway::delivery::RateLimiter;
using namespace std::chrono_literals;

namespace {
RateLimiter::Clock::duration ms(int n) { return std::chrono::duration_cast<RateLimiter::Clock::duration>(std::chrono::milliseconds(n)); }
}  // namespace

TEST(RateLimiter, SlotsAreOneIntervalApartWithTwoPercentToSpare) {
  RateLimiter limiter;
  EXPECT_EQ(RateLimiter::interval(10), ms(102));
  const auto before = RateLimiter::Clock::now();
  const auto first = limiter.reserve("wa", 10);
  const auto second = limiter.reserve("wa", 10);
  EXPECT_GE(first, before);
  EXPECT_LE(first, RateLimiter::Clock::now()) << "the first slot is now";
  EXPECT_EQ(second - first, ms(102));
  EXPECT_EQ(limiter.nextSlot("wa"), second + ms(102));
}

TEST(RateLimiter, AccountsArePacedApart) {
  RateLimiter limiter;
  limiter.reserve("wa", 1);
  const auto fb = limiter.reserve("fb", 1);
  EXPECT_LE(fb, RateLimiter::Clock::now()) << "another account is not behind";
  EXPECT_GT(limiter.nextSlot("wa"), RateLimiter::Clock::now() + 900ms);
  EXPECT_EQ(limiter.nextSlot("ig"), RateLimiter::Clock::time_point{}) << "no slot reserved yet";
}
