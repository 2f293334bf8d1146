#!/usr/bin/env bash
# Builds the libFuzzer targets of the plugin parsers (tests/fuzz) into build-fuzz/ with clang,
# ASan and UBSan, and runs each for a bounded time seeded with a copy of its platform's
# webhook fixtures. Exits non-zero, naming the reproducer, when a fuzzer finds a crash, leak,
# timeout or OOM. Called by tools/run-tests.sh after ctest.
#   FUZZ_SECONDS  seconds per fuzzer (default 30)
#   FUZZ_JOBS     build parallelism (default nproc)
# Reproduce a finding: build-fuzz/tests/fuzz/<type>_parse_fuzz <reproducer path>
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
BUILD_DIR="$ROOT/build-fuzz"
ARTIFACTS="$BUILD_DIR/fuzz-artifacts"
FUZZERS=(whatsapp messenger instagram)
SANITIZE="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# Third-party UB we cannot fix here (RapidJSON 1.1.0's empty-stack pointer compare); see the file.
SANITIZE+=" -fsanitize-ignorelist=$ROOT/tests/fuzz/ubsan_ignorelist.txt"

if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]] || [ "$FUZZ_SECONDS" -lt 1 ]; then
  echo "run-fuzzers: FUZZ_SECONDS must be a positive integer (got '$FUZZ_SECONDS')" >&2
  exit 2
fi
if ! command -v clang++ >/dev/null; then
  echo "run-fuzzers: FAIL - clang++ not found (tools/setup.sh installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi

start=$(date +%s)
echo "run-fuzzers: configuring $BUILD_DIR (clang++, ASan+UBSan+libFuzzer)"
# Assertions stay on (no NDEBUG) so RapidJSON's own checks fire on misuse.
cmake -S . -B "$BUILD_DIR" \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$SANITIZE" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DGATEWAY_BUILD_FUZZERS=ON \
  -DGATEWAY_BUILD_TESTS=ON >/dev/null
echo "run-fuzzers: building ${FUZZERS[*]/%/_parse_fuzz}"
cmake --build "$BUILD_DIR" --target fuzzers -j"${FUZZ_JOBS:-$(nproc)}"
built=$(date +%s)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gateway-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
reproducers=()
for type in "${FUZZERS[@]}"; do
  binary="$BUILD_DIR/tests/fuzz/${type}_parse_fuzz"
  corpus="$WORK/corpus-$type"
  artifacts="$ARTIFACTS/$type"
  log="$BUILD_DIR/fuzz-$type.log"
  mkdir -p "$corpus"
  rm -rf "$artifacts" && mkdir -p "$artifacts"
  # A copy: libFuzzer adds the inputs it finds to the corpus dir; the repo stays untouched.
  cp "$ROOT"/tests/fixtures/"$type"/*.json "$corpus"/
  echo "run-fuzzers: $type: ${FUZZ_SECONDS}s from $(ls "$corpus" | wc -l) seed(s), log $log"
  rc=0
  "$binary" "$corpus" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -dict="$ROOT/tests/fuzz/json.dict" -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  found=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    echo "run-fuzzers: $type: FAILED (exit $rc); last lines of $log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$type")
    if [ -n "$found" ]; then
      while IFS= read -r f; do reproducers+=("$type:$f"); done <<<"$found"
    fi
  else
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    echo "run-fuzzers: $type: ok (${runs:-?} runs, ${cov:-cov: ?})"
  fi
done

end=$(date +%s)
if ((${#failed[@]})); then
  for r in "${reproducers[@]}"; do
    echo "run-fuzzers: reproducer: ${r#*:} (replay: $BUILD_DIR/tests/fuzz/${r%%:*}_parse_fuzz ${r#*:})" >&2
  done
  echo "run-fuzzers: FAIL - ${failed[*]} (build $((built - start))s, fuzz $((end - built))s)" >&2
  exit 1
fi
echo "run-fuzzers: PASS - ${#FUZZERS[@]} fuzzers x ${FUZZ_SECONDS}s, no crash/leak/timeout (build $((built - start))s, fuzz $((end - built))s)"
