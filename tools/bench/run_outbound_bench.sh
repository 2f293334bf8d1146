#!/usr/bin/env bash
# Outbound benchmark of the real binary: sends/s to a fake Graph API (rate limits off), and
# scheduler lateness with 100,000 and 1,000,000 pending schedules.
#
# Builds gateway + plugins + outbound_bench (reusing $BUILD_DIR), writes a temp config per phase
# (SQLite in a temp dir, loopback, port 0, the three channels with a known secret,
# graph_base_url "${OBENCH_GRAPH_URL}" = the bench's own fake Graph API, rate_limit_mps 1000000
# so pacing is off, delivery.workers = $WORKERS), and runs outbound_bench, which starts the
# gateway itself (child process, stopped with SIGTERM by pid), measures, and prints a summary
# and one JSON line. The temp dir is deleted afterwards.
#
#   tools/bench/run_outbound_bench.sh                       # sends, then schedules 100k and 1M
#   PHASES="sends" MESSAGES=50000 WORKERS=64 tools/bench/run_outbound_bench.sh
#   PHASES="schedules" PENDING="1000000" SKIP_BUILD=1 BUILD_DIR=/work/build-obench tools/bench/run_outbound_bench.sh
#
# Environment:
#   BUILD_DIR      build folder (default: build, relative to the repository root)
#   BUILD_TYPE     used only when BUILD_DIR has no CMake cache yet (default RelWithDebInfo)
#   SKIP_BUILD=1   use the binaries already in BUILD_DIR
#   PHASES         any of "sends schedules" (default both)
#   WORKERS        delivery.workers, concurrent Send API calls (default 32)
#   MESSAGES       sends (default 30000)      CONVERSATIONS  distinct people (default 1000)
#   CONNECTIONS    API keep-alive connections for the sends (default 32)
#   PENDING        pending-schedule counts, one phase each (default "100000 1000000")
#   DUE            of which fire in the window (default 2000)
#   DELAY_S        window starts this long after the insert (default 10)
#   WINDOW_S       window length (default 20)
#   LOG_LEVEL      gateway log level (default info, as in production)
#   KEEP_TMP=1     keep the temp dir (config, database, gateway log) for inspection
#   RESULTS        file to append the JSON result lines to (optional)
#   REPEAT         runs of each phase, then a SUMMARY line with their median (default 1)
# Any arguments are passed to every outbound_bench run (see build/outbound_bench --help).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PHASES="${PHASES:-sends schedules}"
WORKERS="${WORKERS:-32}"
MESSAGES="${MESSAGES:-30000}"
CONVERSATIONS="${CONVERSATIONS:-1000}"
CONNECTIONS="${CONNECTIONS:-32}"
PENDING="${PENDING:-100000 1000000}"
DUE="${DUE:-2000}"
DELAY_S="${DELAY_S:-10}"
WINDOW_S="${WINDOW_S:-20}"
REPEAT="${REPEAT:-1}"
TOKEN="bench-api-token"

# shellcheck source=bench_lib.sh
. "$ROOT/tools/bench/bench_lib.sh"
if [ -n "${BENCH_PG_URI:-}" ]; then
  echo "run_outbound_bench: BENCH_PG_URI is for the webhook bench; this one reads the SQLite file" >&2
  exit 2
fi

# ---- build -----------------------------------------------------------------------------------
bench_build outbound_bench
BENCH="$BUILD_DIR/outbound_bench"
command -v sqlite3 >/dev/null || say "note: no sqlite3 CLI; the bench reads the database itself"

# ---- one phase -------------------------------------------------------------------------------
TMP=""
BENCH_PID=""
cleanup() {
  # The bench stops the gateway it started (and the gateway dies with it: PR_SET_PDEATHSIG).
  if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true
    for _ in $(seq 1 400); do kill -0 "$BENCH_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$BENCH_PID" 2>/dev/null && { say "outbound_bench $BENCH_PID did not stop; SIGKILL"; kill -KILL "$BENCH_PID" 2>/dev/null || true; }
    wait "$BENCH_PID" 2>/dev/null || true
  fi
  BENCH_PID=""
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    if [ "${KEEP_TMP:-0}" = "1" ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  TMP=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

write_config() {  # write_config FILE DBPATH
  bench_config "$1" "$2" "\${OBENCH_GRAPH_URL}" 1000000 "delivery:
  workers: $WORKERS
"
}

run_phase() {  # run_phase LABEL MODE [outbound_bench args...]
  local label=$1 mode=$2; shift 2
  TMP=$(mktemp -d /tmp/outbound-bench-XXXXXX)
  write_config "$TMP/gateway.yaml" "$TMP/data/gateway.db"
  say "phase $label: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); tmp $TMP"
  "$BENCH" "$mode" --gateway "$GATEWAY" --config "$TMP/gateway.yaml" --gateway-log "$TMP/gateway.log" \
    --db "$TMP/data/gateway.db" --secret "$SECRET" --phone-number-id "$WA_ACCOUNT" --token "$TOKEN" \
    --label "$label" "$@" >"$TMP/bench.out" 2> >(tee "$TMP/bench.err" >&2) &
  BENCH_PID=$!
  local rc=0
  wait "$BENCH_PID" || rc=$?
  BENCH_PID=""
  echo
  grep -v '^{' "$TMP/bench.out" | grep -v '^fake_graph_port=' || true
  echo "  gateway log: $(wc -l <"$TMP/gateway.log") lines, $(grep -c -i 'warn\|error' "$TMP/gateway.log" || true) warn/error"
  grep -i 'error\|critical' "$TMP/gateway.log" | head -3 | sed 's/^/    /' || true
  [ "$rc" = 0 ] || say "outbound_bench exited with $rc"
  local json
  json=$(grep '^{' "$TMP/bench.out" | tail -1 || true)
  LAST_JSON=$json
  echo "RESULT $json"
  [ -n "${RESULTS:-}" ] && [ -n "$json" ] && echo "$json" >>"$RESULTS"
  cleanup
}

say "$(nproc) cores; $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg) before starting"
for phase in $PHASES; do
  case "$phase" in
    sends)
      rates=()
      for _ in $(seq "$REPEAT"); do
        run_phase "sends-w$WORKERS" sends --messages "$MESSAGES" --conversations "$CONVERSATIONS" \
          --connections "$CONNECTIONS" "$@"
        rate=$(bench_field "$LAST_JSON" sends_per_s)
        [ -n "$rate" ] && rates+=("$rate")
      done
      bench_summary "sends-w$WORKERS sends/s" "${rates[@]}"
      ;;
    schedules)
      for p in $PENDING; do
        p99s=()
        for _ in $(seq "$REPEAT"); do
          run_phase "schedules-$p" schedules --pending "$p" --due "$DUE" --delay-s "$DELAY_S" --window-s "$WINDOW_S" "$@"
          p99=$(bench_p99 "$LAST_JSON" lateness_ms)
          [ -n "$p99" ] && p99s+=("$p99")
        done
        bench_summary "schedules-$p lateness p99 ms" "${p99s[@]}"
      done
      ;;
    *) say "unknown phase '$phase' (sends, schedules)"; exit 2 ;;
  esac
done
