#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: a fresh cluster in a folder of its own, listening
# on a free port of 127.0.0.1 only, with a role and database "gateway".
#
#   tools/pg-test-server.sh start DIR   # DIR must not exist or be empty; keep it short (the
#                                       # unix socket lives in it). Prints one line, the URI
#                                       # postgresql://gateway@127.0.0.1:PORT/gateway, and
#                                       # writes it to DIR/uri. Server log: DIR/server.log.
#   tools/pg-test-server.sh stop DIR    # fast shutdown, then removes DIR; fine if not running
#
# Several servers can run side by side (one DIR and port each). PostgreSQL refuses to run as
# root, so under root the server runs as the "postgres" system user, which owns DIR.
# PG_BIN overrides where initdb/pg_ctl/psql are found.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd="$1"
dir="$(realpath -m -- "$2")"  # absolute: callers may be anywhere, and we cd / below
[ "$dir" != "/" ] || { echo "pg-test-server: refusing DIR=/" >&2; exit 2; }

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then
    echo "$PG_BIN"
  elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
  else
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$d" ] && [ -x "$d/initdb" ] || { echo "pg-test-server: initdb not found (install postgresql or set PG_BIN)" >&2; exit 1; }
    echo "$d"
  fi
}

# Runs a command as the server's user: postgres when we are root, ourselves otherwise.
# From / so that user never trips over a working directory it cannot read.
as_owner() {
  if [ "$(id -u)" -eq 0 ] && [ "$run_user" != "root" ]; then
    (cd / && runuser -u "$run_user" -- "$@")
  else
    (cd / && "$@")
  fi
}

# A port of 127.0.0.1 that was free a moment ago: the kernel's pick for port 0, or without a
# working python3 a random one nothing answers on (start() retries when the bind fails).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
      2>/dev/null && return
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

start() {
  local bin port attempt uri
  bin="$(find_bin)"
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "pg-test-server: $dir exists and is not empty" >&2
    exit 1
  fi
  run_user="$(id -un)"
  if [ "$(id -u)" -eq 0 ]; then
    run_user=postgres
    id -u postgres >/dev/null 2>&1 ||
      useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ "$run_user" = "$(id -un)" ] || chown "$run_user:" "$dir"

  # Trust: the server only listens on 127.0.0.1 (and a socket in DIR), holds nothing but test
  # data and lives for one run; no password to pass around in URIs, YAML or ~/.pgpass.
  # (Its output goes to DIR/initdb.log afterwards: initdb wants DIR empty.)
  local initdb_log
  initdb_log="$(mktemp)"
  if ! as_owner "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C \
      >"$initdb_log" 2>&1; then
    cat "$initdb_log" >&2
    rm -f "$initdb_log"
    exit 1
  fi
  mv "$initdb_log" "$dir/initdb.log"

  # The socket path ("DIR/.s.PGSQL.PORT") must fit sun_path's 108 bytes; a longer DIR only
  # gets TCP, which is all the URI uses anyway.
  local socket_dir="$dir"
  [ $(( ${#dir} + 16 )) -lt 108 ] || socket_dir=""

  # Our settings in a file of their own, included last so they win; rewritten per attempt.
  # A free port can be taken between our look and the server's bind (another start running
  # in parallel): then try another.
  echo "include = 'pg-test-server.conf'" >>"$dir/postgresql.conf"
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    cat >"$dir/pg-test-server.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
max_connections = 200
shared_buffers = 64MB
fsync = on
log_destination = 'stderr'
logging_collector = off
EOF
    # -l: the log goes to DIR/server.log, startup failures included (fresh per attempt, so
    # the bind check below reads only this one's).
    rm -f "$dir/server.log"
    if as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -s start >/dev/null 2>&1; then
      break
    fi
    if [ "$attempt" -lt 5 ] && grep -q "could not bind\|Address already in use" "$dir/server.log" 2>/dev/null; then
      continue
    fi
    echo "pg-test-server: the server did not start; $dir/server.log:" >&2
    tail -n 30 "$dir/server.log" >&2 || true
    as_owner "$bin/pg_ctl" -D "$dir" -m immediate -s stop >/dev/null 2>&1 || true
    exit 1
  done

  # Over TCP as the superuser initdb made (trust); -X: no ~/.psqlrc of whoever runs this.
  if ! "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
      -c "CREATE ROLE gateway LOGIN CREATEDB" -c "CREATE DATABASE gateway OWNER gateway" >/dev/null; then
    echo "pg-test-server: could not create the gateway role and database" >&2
    as_owner "$bin/pg_ctl" -D "$dir" -m immediate -s stop >/dev/null 2>&1 || true
    exit 1
  fi

  uri="postgresql://gateway@127.0.0.1:$port/gateway"
  echo "$uri" >"$dir/uri"
  echo "$uri"
}

stop() {
  [ -e "$dir" ] || return 0
  # Remove only what looks like ours: a cluster (PG_VERSION) or an empty folder.
  if [ ! -f "$dir/PG_VERSION" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "pg-test-server: $dir is not a database cluster; not removing it" >&2
    exit 1
  fi
  if [ -f "$dir/postmaster.pid" ]; then
    local bin
    bin="$(find_bin)"
    run_user="$(stat -c %U "$dir")"
    as_owner "$bin/pg_ctl" -D "$dir" -m fast -w -t 60 -s stop >/dev/null 2>&1 ||
      as_owner "$bin/pg_ctl" -D "$dir" -m immediate -w -s stop >/dev/null 2>&1 || true
  fi
  rm -rf -- "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
