#!/usr/bin/env bash
# Durable webhook ingest benchmark of the real binary.
#
# Builds gateway + plugins + webhook_load (reusing $BUILD_DIR), then for each connection count
# in $CONNECTIONS: writes a temp config (SQLite in a temp dir, loopback, port 0, the three
# channels with a known secret), starts the gateway, waits for /healthz, runs webhook_load,
# samples the gateway's per-thread CPU during the measured phase, prints the results, stops the
# gateway it started (SIGTERM, by pid) and deletes the temp dir.
#
#   tools/bench/run_webhook_bench.sh                       # 32 conns 20 s, then 512 conns 20 s
#   CONNECTIONS="64" DURATION_S=10 tools/bench/run_webhook_bench.sh --rate 4000
#   BUILD_DIR=/work/build-bench SKIP_BUILD=1 tools/bench/run_webhook_bench.sh --inbound-share 0.5
#
# Any arguments are passed to every webhook_load run (see build/webhook_load --help).
# Environment:
#   BUILD_DIR      build folder (default: build, relative to the repository root)
#   BENCH_PG_URI   run the gateway on this PostgreSQL database instead of a temp SQLite file
#                  (an empty database; e.g. tools/pg-test-server.sh start DIR, then
#                  postgresql://gateway@127.0.0.1:PORT/gateway); one phase at a time
#   BUILD_TYPE     used only when BUILD_DIR has no CMake cache yet (default RelWithDebInfo)
#   SKIP_BUILD=1   use the binaries already in BUILD_DIR
#   CONNECTIONS    space-separated connection counts, one phase each (default "32 512")
#   DURATION_S     measured seconds per phase (default 20)
#   WARMUP_S       warm-up seconds per phase (default 2)
#   LOG_LEVEL      gateway log level (default info, as in production)
#   KEEP_TMP=1     keep the temp dir (config, database, gateway log) for inspection
#   RESULTS        file to append the JSON result lines to (optional)
#   REPEAT         runs of each connection count, then a SUMMARY line with their median (default 1)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CONNECTIONS="${CONNECTIONS:-32 512}"
DURATION_S="${DURATION_S:-20}"
WARMUP_S="${WARMUP_S:-2}"
REPEAT="${REPEAT:-1}"

# shellcheck source=bench_lib.sh
. "$ROOT/tools/bench/bench_lib.sh"

# ---- build -----------------------------------------------------------------------------------
bench_build webhook_load
LOAD="$BUILD_DIR/webhook_load"

# ---- one phase -------------------------------------------------------------------------------
TMP=""
GW_PID=""
cleanup() {
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$GW_PID" 2>/dev/null && { say "gateway $GW_PID did not stop on SIGTERM; SIGKILL"; kill -KILL "$GW_PID" 2>/dev/null || true; }
    wait "$GW_PID" 2>/dev/null || true
  fi
  GW_PID=""
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    if [ "${KEEP_TMP:-0}" = "1" ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  TMP=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

write_config() {  # write_config FILE DBPATH
  bench_config "$1" "$2" "http://127.0.0.1:9" 1000
}

# "tid cpu_ns runqueue_wait_ns wchar" per thread of a process, from /proc/PID/task/TID/schedstat
# (time on a CPU, time runnable but waiting for one) and io (wchar: bytes written; the SQLite
# writer thread is the one that writes). One awk for all files: a fork per thread would take
# seconds with 500 threads.
thread_ticks() {
  awk '
    FILENAME ~ /\/schedstat$/ { split(FILENAME, p, "/"); cpu[p[5]] = $1; rq[p[5]] = $2 }
    FILENAME ~ /\/io$/ && $1 == "wchar:" { split(FILENAME, p, "/"); wchar[p[5]] = $2 }
    END { for (t in cpu) print t, cpu[t], rq[t], (t in wchar) ? wchar[t] : 0 }
  ' /proc/"$1"/task/*/schedstat /proc/"$1"/task/*/io 2>/dev/null
}

# Samples one thread's scheduler state (R running/runnable, D disk wait e.g. fsync, S sleeping)
# every 10 ms for N samples: "R=.. D=.. S=.." in percent. Builtins only (no fork per sample).
state_samples() {  # state_samples PID TID N
  local r=0 d=0 sl=0 o=0 i line st fd
  exec {fd}<> <(:)  # read -t on a pipe nobody writes: a 10 ms sleep without forking sleep(1)
  for ((i = 0; i < $3; i++)); do
    read -r line <"/proc/$1/task/$2/stat" 2>/dev/null || break
    st=${line##*) }; st=${st%% *}
    case "$st" in R) r=$((r + 1)) ;; D) d=$((d + 1)) ;; S) sl=$((sl + 1)) ;; *) o=$((o + 1)) ;; esac
    read -r -t 0.01 -u "$fd" _ || true
  done
  exec {fd}<&-
  local n=$((r + d + sl + o)); [ "$n" -gt 0 ] || n=1
  echo "R(on CPU or runnable)=$((100 * r / n))% D(disk wait, fsync)=$((100 * d / n))% S(sleeping, waiting for work)=$((100 * sl / n))% ($n samples)"
}

report_threads() {  # report_threads PID BEFORE_FILE AFTER_FILE SECONDS
  local pid=$1 before=$2 after=$3 secs=$4
  # tid cpu% runqueue-wait% MB/s
  join <(sort "$before") <(sort "$after") |
    awk -v s="$secs" '{ printf "%s %.1f %.1f %.2f\n", $1, 100*($5-$2)/1e9/s, 100*($6-$3)/1e9/s, ($7-$4)/s/1e6 }' |
    sort -k2 -nr >"$TMP/threads.txt"
  local writer
  writer=$(sort -k4 -nr "$TMP/threads.txt" | awk 'NR==1 && $4 > 0 { print $1 }')
  echo "  gateway threads over ${secs}s of the measured phase (100% = one core):"
  awk -v w="$writer" -v p="$pid" '
    { n++; cpu += $2; rq += $3; if ($2 >= 1) busy++ }
    $1 != w && $1 != p { ocpu += $2; orq += $3; on++ }
    END { printf "    all %d threads: CPU %.0f%%, runnable but waiting for a CPU %.0f%% (summed over threads)\n", n, cpu, rq
          printf "    the %d threads other than writer and main (HTTP workers, acceptor, delivery): CPU %.0f%%, waiting for a CPU %.0f%%\n", on, ocpu, orq }
  ' "$TMP/threads.txt"
  echo "    sqlite writer (tid ${writer:-?}): $(awk -v w="$writer" '$1 == w { print "CPU " $2 "%, waiting for a CPU " $3 "%, writes " $4 " MB/s" }' "$TMP/threads.txt")"
  [ -n "$writer" ] && [ -s "$TMP/writer-states.txt" ] && echo "    sqlite writer state samples: $(cat "$TMP/writer-states.txt")"
  echo "    busiest threads (tid cpu% wait-for-cpu% write-MB/s role):"
  head -5 "$TMP/threads.txt" | while read -r tid pct rq mbs; do
    role="http/other"; [ "$tid" = "$writer" ] && role="sqlite writer"; [ "$tid" = "$pid" ] && role="main"
    printf "      %-8s %6s%% %6s%% %8s  %s\n" "$tid" "$pct" "$rq" "$mbs" "$role"
  done
}

run_phase() {  # run_phase CONNECTIONS [webhook_load args...]
  local conns=$1; shift
  TMP=$(mktemp -d /tmp/webhook-bench-XXXXXX)
  write_config "$TMP/gateway.yaml" "$TMP/data/gateway.db"
  "$GATEWAY" --config "$TMP/gateway.yaml" >"$TMP/gateway.log" 2>&1 &
  GW_PID=$!
  local port="" i
  for i in $(seq 1 200); do
    kill -0 "$GW_PID" 2>/dev/null || { say "gateway exited during start-up:"; cat "$TMP/gateway.log" >&2; return 1; }
    port=$(sed -n 's/.*gateway\.listening address=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/gateway.log" | head -1)
    if [ -n "$port" ] && curl -fsS -m 2 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
    port=""
    sleep 0.1
  done
  [ -n "$port" ] || { say "gateway did not become healthy in 20 s:"; tail -20 "$TMP/gateway.log" >&2; return 1; }
  say "phase: $conns connections; gateway pid $GW_PID on 127.0.0.1:$port, db $TMP/data/gateway.db"

  "$LOAD" --port "$port" --secret "$SECRET" --phone-number-id "$WA_ACCOUNT" --connections "$conns" \
    --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" --label "c$conns" "$@" >"$TMP/load.out" 2>"$TMP/load.err" &
  local load_pid=$!

  # Per-thread CPU of the gateway over the measured phase (from 1 s in to 1 s before its end),
  # with top snapshots taken in the middle of that window.
  local t0 span ts_before ts_after top_pid top2_pid states_pid
  t0=$(awk -v w="$WARMUP_S" 'BEGIN { printf "%.1f", w + 1 }')
  span=$(awk -v d="$DURATION_S" 'BEGIN { s = d - 2; if (s < 1) s = 1; printf "%.1f", s }')
  sleep "$t0"
  if kill -0 "$load_pid" 2>/dev/null; then
    thread_ticks "$GW_PID" >"$TMP/ticks.before"; ts_before=$(date +%s.%N)
    (
      sleep "$(awk -v s="$span" 'BEGIN { s = s / 2 - 1; if (s < 0) s = 0; print s }')"
      # top's first frame averages since process start: keep the second one (1 s interval).
      top -H -b -n 2 -d 1 -w 120 -p "$GW_PID" 2>/dev/null | awk '/^top -/ { f++ } f == 2' |
        sed -n '1,3p;7,16p' >"$TMP/top1.txt" || true
    ) &
    top_pid=$!
    (
      sleep "$(awk -v s="$span" 'BEGIN { s = s / 2 - 1; if (s < 0) s = 0; print s }')"
      top -b -n 2 -d 1 -w 120 2>/dev/null | awk '/^top -/ { f++ } f == 2' | sed -n '7,13p' >"$TMP/top-procs.txt" || true
    ) &
    top2_pid=$!
    (
      sleep 0.5
      wtid=$(awk '$1 == "wchar:" { split(FILENAME, p, "/"); print p[5], $2 }' /proc/"$GW_PID"/task/*/io 2>/dev/null |
        sort -k2 -nr | awk 'NR == 1 { print $1 }')
      [ -n "$wtid" ] && state_samples "$GW_PID" "$wtid" 200 >"$TMP/writer-states.txt"
    ) &
    states_pid=$!
    sleep "$span"
    thread_ticks "$GW_PID" >"$TMP/ticks.after"; ts_after=$(date +%s.%N)
    wait "$top_pid" "$top2_pid" "$states_pid" 2>/dev/null || true
  fi
  wait "$load_pid" || say "webhook_load exited with $?"

  echo
  cat "$TMP/load.out" | grep -v '^{' || true
  [ -s "$TMP/load.err" ] && { say "webhook_load stderr:"; tail -20 "$TMP/load.err" >&2; }
  if [ -s "$TMP/ticks.after" ]; then
    report_threads "$GW_PID" "$TMP/ticks.before" "$TMP/ticks.after" \
      "$(awk -v a="$ts_before" -v b="$ts_after" 'BEGIN { printf "%.2f", b - a }')"
    echo "  top -H snapshot (gateway threads, mid-run; top shows the whole process on the main thread's line):"
    sed 's/^/    /' "$TMP/top1.txt"
    echo "  top snapshot (all processes: other load on the box):"
    sed 's/^/    /' "$TMP/top-procs.txt"
  fi

  # What was stored, straight from the database (after the run: durable means it is there).
  local rss
  rss=$(awk '/^VmHWM/ { print $2 " kB" }' "/proc/$GW_PID/status" 2>/dev/null || echo "?")
  echo "  gateway peak RSS $rss; threads now $(ls /proc/"$GW_PID"/task 2>/dev/null | wc -l)"
  if [ -z "${BENCH_PG_URI:-}" ] && command -v sqlite3 >/dev/null; then
    echo "  stored: $(sqlite3 -readonly "$TMP/data/gateway.db" \
      "SELECT (SELECT COUNT(*) FROM messages) || ' messages, ' || (SELECT COUNT(*) FROM contacts) || ' contacts, ' ||
              (SELECT COUNT(*) FROM parked_statuses) || ' parked statuses, ' || (SELECT COUNT(*) FROM events) || ' events, ' ||
              (SELECT COUNT(*) FROM raw_webhooks) || ' raw webhooks'" 2>&1)"
  fi
  echo "  gateway log: $(wc -l <"$TMP/gateway.log") lines, $(grep -c -i 'warn\|error' "$TMP/gateway.log" || true) warn/error"
  grep -i 'error\|critical' "$TMP/gateway.log" | head -3 | sed 's/^/    /' || true

  local json
  json=$(grep '^{' "$TMP/load.out" | tail -1 || true)
  LAST_JSON=$json
  echo "RESULT $json"
  [ -n "${RESULTS:-}" ] && [ -n "$json" ] && echo "$json" >>"$RESULTS"
  cleanup
}

say "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) before starting"
for c in $CONNECTIONS; do
  rates=()
  p99s=()
  for _ in $(seq "$REPEAT"); do
    run_phase "$c" "$@"
    rate=$(bench_field "$LAST_JSON" throughput_rps)
    p99=$(bench_p99 "$LAST_JSON" latency_ms)
    [ -n "$rate" ] && rates+=("$rate")
    [ -n "$p99" ] && p99s+=("$p99")
  done
  bench_summary "c$c webhooks/s" "${rates[@]}"
  bench_summary "c$c p99 ms" "${p99s[@]}"
done
