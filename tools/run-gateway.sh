#!/usr/bin/env bash
# Sets up, builds and runs the gateway on config/gateway.yaml (SQLite under data/, loopback).
# Channel credentials come from the environment; a channel whose variables are unset runs as
# a disabled demo channel (see config/gateway.yaml), and this script says which ones.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh -DGATEWAY_BUILD_TESTS=OFF

for prefix in WA FB IG; do
  unset_vars=()
  for name in ACCOUNT_ID APP_SECRET VERIFY_TOKEN ACCESS_TOKEN ENABLED; do
    var="${prefix}_${name}"
    [ -n "${!var:-}" ] || unset_vars+=("$var")
  done
  if ((${#unset_vars[@]})); then
    echo "run-gateway: ${unset_vars[*]} not set: that channel runs as a disabled demo channel" >&2
  fi
done
[ -n "${GATEWAY_API_TOKEN:-}" ] ||
  echo "run-gateway: GATEWAY_API_TOKEN not set: the CRM API accepts the demo token 'dev-api-token' (loopback only)" >&2

exec build/gateway --config config/gateway.yaml
