// The shared TempDir, under the name the storage suites use.
#pragma once

#include "../../support/temp_dir.h"

namespace gateway::storage::testing {
using gateway::testing::TempDir;
}  // namespace gateway::storage::testing
