#!/usr/bin/env bash
# Installs the Debian packages the gateway and its tests need (only those missing) and
# builds into build/. Used by run-gateway.sh and run-tests.sh; safe to run again.
set -euo pipefail

# ca-certificates: the CA store the gateway checks the Graph API's certificate against (a
# "recommends" only, which --no-install-recommends would leave out).
PACKAGES=(cmake g++ make pkg-config libpoco-dev libyaml-cpp-dev libspdlog-dev libgtest-dev libgmock-dev
          libssl-dev libsqlite3-dev libpq-dev rapidjson-dev postgresql clang libclang-rt-14-dev wrk
          ca-certificates)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$(dirname "$0")/.."
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
cmake -S . -B build -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" >/dev/null
cmake --build build -j"$(nproc)"
