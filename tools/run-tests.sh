#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite through ctest. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh -DGATEWAY_BUILD_TESTS=ON
cd build
ctest --output-on-failure -j2 --timeout 600
