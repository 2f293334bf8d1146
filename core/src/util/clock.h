// Time as the contract writes it: RFC 3339 UTC with milliseconds.
#pragma once

#include <cstdint>
#include <string>

namespace gateway::util {

std::int64_t nowMs();
std::string formatRfc3339(std::int64_t epochMs);  // 2026-11-25T19:30:00.000Z
std::string nowRfc3339();
// Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm)"; false when it is not such a time.
bool parseRfc3339(const std::string& text, std::int64_t& epochMs);

}  // namespace gateway::util
