// How long a failed send waits before its next attempt.
#pragma once

#include <cstdint>
#include <random>

namespace gateway::delivery {

// retry_base_ms × 2^(attempt−1), ×4 when the platform throttled us (throttling clears slower
// than a glitch), capped at 10 minutes, then ±20% jitter so messages that failed together do
// not come back together. `attempt` counts from 1.
std::int64_t backoffMs(std::int64_t baseMs, int attempt, bool rateLimited, std::mt19937_64& random);

// The same with this thread's random generator.
std::int64_t backoffMs(std::int64_t baseMs, int attempt, bool rateLimited);

}  // namespace gateway::delivery
