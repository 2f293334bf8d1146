#include "util/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace gateway::util {

std::int64_t nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

// Writes value as `width` digits, zero-padded, ending just before `end`.
void putDigits(char* end, std::int64_t value, int width) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string formatRfc3339(std::int64_t epochMs) {
  // Every message and feed row renders several times: plain arithmetic instead of gmtime_r
  // (glibc takes its time-zone lock even for UTC) and snprintf.
  constexpr std::int64_t kMsPerDay = 86400000;
  std::int64_t days = epochMs / kMsPerDay;
  std::int64_t msOfDay = epochMs % kMsPerDay;
  if (msOfDay < 0) {  // floor, also before 1970
    msOfDay += kMsPerDay;
    days -= 1;
  }
  const std::int64_t secondOfDay = msOfDay / 1000;
  const std::int64_t millis = msOfDay % 1000;
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t dayOfEra = z - era * 146097;
  const std::int64_t yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
  const std::int64_t dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const std::int64_t mp = (5 * dayOfYear + 2) / 153;
  const std::int64_t day = dayOfYear - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) {  // not representable in four digits: as gmtime would print it
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(year), static_cast<long long>(month), static_cast<long long>(day),
                  static_cast<long long>(secondOfDay / 3600), static_cast<long long>(secondOfDay / 60 % 60),
                  static_cast<long long>(secondOfDay % 60), static_cast<long long>(millis));
    return buffer;
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  char* p = out.data();
  putDigits(p + 4, year, 4);
  putDigits(p + 7, month, 2);
  putDigits(p + 10, day, 2);
  putDigits(p + 13, secondOfDay / 3600, 2);
  putDigits(p + 16, secondOfDay / 60 % 60, 2);
  putDigits(p + 19, secondOfDay % 60, 2);
  putDigits(p + 23, millis, 3);
  return out;
}

std::string nowRfc3339() { return formatRfc3339(nowMs()); }

bool parseRfc3339(const std::string& text, std::int64_t& epochMs) {
  int year, month, day, hour, minute, second;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      consumed != 19) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  std::size_t pos = 19;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return false;
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  int offsetMinutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') && text[pos + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offsetMinutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != text.size()) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  epochMs = (static_cast<std::int64_t>(t) - offsetMinutes * 60) * 1000 + millis;
  return true;
}

}  // namespace gateway::util
