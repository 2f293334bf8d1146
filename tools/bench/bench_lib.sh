# Shared by the bench runners (sourced, not run): paths, build, and the gateway config.
# Expects ROOT to be set; reads BUILD_DIR, BUILD_TYPE, SKIP_BUILD, LOG_LEVEL from the
# environment.

BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
LOG_LEVEL="${LOG_LEVEL:-info}"
SECRET="bench-app-secret-5f1e2d3c4b5a6978"
WA_ACCOUNT="110220330440551"
GATEWAY="$BUILD_DIR/gateway"

say() { echo "bench: $*" >&2; }

# bench_field JSON KEY: the first number stored under "KEY" in a result line (nested or not).
bench_field() { printf '%s\n' "$1" | grep -o "\"$2\":[-0-9.e+]*" | head -1 | cut -d: -f2 || true; }

# bench_p99 JSON KEY: the p99 inside the object stored under "KEY" (e.g. latency_ms).
bench_p99() { printf '%s\n' "$1" | grep -o "\"$2\":{[^}]*}" | grep -o '"p99":[0-9.]*' | cut -d: -f2 || true; }

# bench_summary NAME VALUE...: one line with the runs' median, minimum and maximum. This
# machine drifts by ~30% within minutes, so one run is no figure (docs/PERFORMANCE.md).
bench_summary() {
  local name=$1
  shift
  [ "$#" -gt 0 ] || return 0
  printf '%s\n' "$@" | sort -g | awk -v n="$name" '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "SUMMARY %s: %d runs, median %g, min %g, max %g\n", n, NR, m, v[1], v[NR] }'
}

# bench_build TOOL: builds gateway, the plugins and TOOL (unless SKIP_BUILD=1), then checks
# that they are there.
bench_build() {
  local tool="$1"
  if [ "${SKIP_BUILD:-0}" != "1" ]; then
    if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
      say "configuring $BUILD_DIR ($BUILD_TYPE)"
      cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DGATEWAY_BUILD_TESTS=OFF >/dev/null
    else
      cmake "$BUILD_DIR" >/dev/null  # picks up tools/CMakeLists.txt if the cache predates it
      local type
      type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt")
      case "$type" in Release|RelWithDebInfo) ;; *) say "warning: $BUILD_DIR is a '$type' build; figures will not be representative" ;; esac
    fi
    say "building gateway, plugins and $tool in $BUILD_DIR"
    cmake --build "$BUILD_DIR" --target gateway whatsapp messenger instagram "$tool" -j"$(nproc)" >/dev/null
  fi
  local f
  for f in "$GATEWAY" "$BUILD_DIR/$tool" "$BUILD_DIR/plugins/whatsapp.so"; do
    [ -x "$f" ] || [ -f "$f" ] || { say "missing $f"; exit 1; }
  done
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# bench_config FILE DBPATH GRAPH_URL RATE_MPS [EXTRA_YAML]: the three channels (known
# secret), SQLite at DBPATH, loopback port 0.
bench_config() {
  local file="$1" db="$2" graph="$3" rate="$4" extra="${5:-}"
  channel() {  # id type account verify
    cat <<CHANNEL
  - id: $1
    type: $2
    enabled: true
    account_id: "$3"
    app_secret: "$SECRET"
    app_id: "900100200300400"
    verify_token: "$4"
    access_token: "bench-access-token-$1"
    graph_base_url: "$graph"
    api_version: "v21.0"
    rate_limit_mps: $rate
CHANNEL
  }
  {
    cat <<CONFIG
server:
  listen: "127.0.0.1:0"
  max_body_bytes: 1048576
api:
  tokens: ["bench-api-token"]
storage:
$(if [ -n "${BENCH_PG_URI:-}" ]; then
    printf '  driver: postgres\n  uri: "%s"' "$BENCH_PG_URI"
  else
    printf '  driver: sqlite\n  path: "%s"' "$db"
  fi)
plugins:
  dir: "$BUILD_DIR/plugins"
log:
  level: $LOG_LEVEL
${extra}channels:
CONFIG
    channel wa-main whatsapp "$WA_ACCOUNT" wa-verify-token-bench
    channel fb-main messenger 104050607080901 ms-verify-token-bench
    channel ig-main instagram 17841400000000101 ig-verify-token-bench
    echo "properties:"
    echo "  - { key: plan, label: Plan, type: text }"
  } >"$file"
}
