#!/usr/bin/env bash
# Installs every Debian package (and npm package) that agentfleet's build, tests,
# fuzzing and benches need, skipping what is already present. Idempotent and fast
# the second time: it only calls apt-get when a package is missing.
set -euo pipefail

PKGS=(
  build-essential pkg-config git curl ca-certificates
  libzmq3-dev libczmq-dev libevent-dev libcurl4-openssl-dev libcjson-dev
  libcbor-dev libssl-dev libhiredis-dev libjwt-dev libcmocka-dev
  clang libclang-rt-14-dev clang-tidy clang-format cppcheck valgrind
  redis-server prometheus prometheus-alertmanager supervisor openssl procps python3 jq bc
)
# Node.js may come from another repository that bundles npm (and conflicts with
# Debian's npm package): only ask Debian for it when the commands are absent.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's prometheus/redis/supervisor packages start services on install;
  # our tests and `make run` start their own instances on their own ports.
  for svc in prometheus prometheus-alertmanager redis-server supervisor prometheus-node-exporter; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
    service "$svc" stop >/dev/null 2>&1 || true
  done
else
  echo "install-deps: all Debian packages present"
fi

# npm packages used by tests: the official Anthropic SDK as the real client
# (tests/sdk) and spec tools (tests/tools). Installed again when a lock file
# changes; otherwise skipped.
here="$(cd "$(dirname "$0")/.." && pwd)"
for dir in "$here"/tests/sdk "$here"/tests/tools; do
  [ -f "$dir/package.json" ] || continue
  stamp="$dir/node_modules/.af-installed"
  if [ ! -f "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ] || \
     { [ -f "$dir/package-lock.json" ] && [ "$dir/package-lock.json" -nt "$stamp" ]; }; then
    echo "install-deps: npm install in ${dir#$here/}"
    if [ -f "$dir/package-lock.json" ]; then
      (cd "$dir" && npm ci --no-audit --no-fund --silent)
    else
      (cd "$dir" && npm install --no-audit --no-fund --silent)
    fi
    touch "$stamp"
  fi
done
