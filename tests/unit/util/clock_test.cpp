// RFC 3339 times as the contract writes them, checked against the C library's gmtime_r.
#include <ctime>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "util/clock.h"

namespace {

using gateway::util::formatRfc3339;
using gateway::util::parseRfc3339;

std::string reference(std::int64_t epochMs) {
  const std::int64_t millis = ((epochMs % 1000) + 1000) % 1000;  // floor, also before 1970
  const std::time_t t = static_cast<std::time_t>((epochMs - millis) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buffer;
}

TEST(Rfc3339, KnownTimes) {
  EXPECT_EQ(formatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatRfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatRfc3339(951782400000), "2000-02-29T00:00:00.000Z");  // a leap day of a century leap year
  EXPECT_EQ(formatRfc3339(4107542400000), "2100-03-01T00:00:00.000Z");  // 2100 is not a leap year
  EXPECT_EQ(formatRfc3339(1764099000123), "2025-11-25T19:30:00.123Z");
  EXPECT_EQ(formatRfc3339(253402300799999), "9999-12-31T23:59:59.999Z");
}

TEST(Rfc3339, AgreesWithGmtimeFromYear1To9999) {
  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::int64_t> anyTime(-62135596800000, 253402300799999);
  for (int i = 0; i < 200000; ++i) {
    const std::int64_t ms = anyTime(random);
    ASSERT_EQ(formatRfc3339(ms), reference(ms)) << ms;
  }
  // Every day boundary, and a millisecond either side, over four centuries around now.
  for (std::int64_t day = -73000; day <= 73000; ++day) {
    for (const std::int64_t ms : {day * 86400000 - 1, day * 86400000, day * 86400000 + 1}) {
      ASSERT_EQ(formatRfc3339(ms), reference(ms)) << ms;
    }
  }
}

TEST(Rfc3339, ParseReadsWhatFormatWrites) {
  std::mt19937_64 random(7);
  std::uniform_int_distribution<std::int64_t> anyTime(0, 253402300799999);
  for (int i = 0; i < 10000; ++i) {
    const std::int64_t ms = anyTime(random);
    std::int64_t back = -1;
    ASSERT_TRUE(parseRfc3339(formatRfc3339(ms), back)) << ms;
    EXPECT_EQ(back, ms);
  }
}

}  // namespace
