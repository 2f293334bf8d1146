#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh -DGATEWAY_BUILD_TESTS=ON
# libFuzzer targets of the plugin parsers (clang, own build dir build-fuzz/), ~2 min.
tools/run-fuzzers.sh
# A throwaway PostgreSQL server for the suites that run on it (GATEWAY_TEST_PG_URI), stopped
# and removed on any exit. A short dir under /tmp: its unix socket lives there.
pg_server="$PWD/tools/pg-test-server.sh"
pg_dir="$(mktemp -d /tmp/gwpg.XXXXXX)"
trap '"$pg_server" stop "$pg_dir" >/dev/null || true' EXIT
GATEWAY_TEST_PG_URI="$("$pg_server" start "$pg_dir")"
export GATEWAY_TEST_PG_URI
# Last, so its summary is the run's closing line.
cd build
ctest --output-on-failure -j2 --timeout 600
