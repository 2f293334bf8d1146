#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh -DGATEWAY_BUILD_TESTS=ON
# libFuzzer targets of the plugin parsers (clang, own build dir build-fuzz/), ~2 min.
tools/run-fuzzers.sh
# Last, so its summary is the run's closing line.
cd build
ctest --output-on-failure -j2 --timeout 600
