#!/usr/bin/env bash
# Sets up, builds and runs the gateway on config/gateway.yaml (SQLite under data/, loopback).
# Channel credentials come from the environment; any that is unset gets a demo value, with
# a message saying so, so a fresh machine can start the gateway and try its API.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh -DGATEWAY_BUILD_TESTS=OFF

demo() {  # demo NAME VALUE: export NAME=VALUE unless already set
  if [ -z "${!1:-}" ]; then
    echo "run-gateway: $1 is not set; using the demo value '$2' (set $1 for real traffic)" >&2
    export "$1=$2"
  fi
}
demo GATEWAY_API_TOKEN dev-api-token
demo WA_ACCOUNT_ID 110220330440551
demo WA_APP_SECRET demo-wa-app-secret
demo WA_VERIFY_TOKEN demo-wa-verify-token
demo WA_ACCESS_TOKEN demo-wa-access-token
demo FB_ACCOUNT_ID 104050607080901
demo FB_APP_SECRET demo-fb-app-secret
demo FB_VERIFY_TOKEN demo-fb-verify-token
demo FB_ACCESS_TOKEN demo-fb-access-token
demo IG_ACCOUNT_ID 17841400000000101
demo IG_APP_SECRET demo-ig-app-secret
demo IG_VERIFY_TOKEN demo-ig-verify-token
demo IG_ACCESS_TOKEN demo-ig-access-token

exec build/gateway --config config/gateway.yaml
