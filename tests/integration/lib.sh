# Shared helpers for integration scenarios (source it: `. "$(dirname "$0")/lib.sh"`).
# Every scenario is one file, runs real processes on loopback, exits 0 on pass,
# and leaves nothing running (af_cleanup runs on exit).
set -euo pipefail
AF_ROOT="${AF_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
AF_BIN="${AF_BIN:-bin}"; case "$AF_BIN" in /*) ;; *) AF_BIN="$AF_ROOT/$AF_BIN";; esac
AF_BUILD="${AF_BUILD:-build}"; case "$AF_BUILD" in /*) ;; *) AF_BUILD="$AF_ROOT/$AF_BUILD";; esac
AF_TMP="$(mktemp -d /tmp/af-test.XXXXXX)"
_af_pids=()

af_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
af_fail() { echo "FAIL: $*" >&2; exit 1; }

# A free TCP port on 127.0.0.1 (the kernel picks; small race accepted in tests).
af_free_port() { python3 "$AF_ROOT/tests/tools/free_port.py"; }

# Waits until host:port accepts connections (default 10 s).
af_wait_port() {
  local hp="$1" secs="${2:-10}" i
  for ((i = 0; i < secs * 20; i++)); do
    if (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  af_fail "nothing listening on $hp after ${secs}s"
}

# Starts a command in the background, logging to $AF_TMP/<name>.log; remembers
# its pid for cleanup. Usage: af_start NAME cmd args...; pid in $AF_LAST_PID.
af_start() {
  local name="$1"; shift
  "$@" >"$AF_TMP/$name.log" 2>&1 &
  AF_LAST_PID=$!
  _af_pids+=("$AF_LAST_PID")
}

# af_reap PID...: on exit, also stop these processes: agents a scenario orphaned
# on purpose by killing their manager. By pid, taken before the kill: a command
# line pattern could match another scenario's daemons once a port is reused.
_af_reap=()
af_reap() { _af_reap+=("$@"); }

af_cleanup() {
  local rc=$?
  for p in "${_af_pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for r in "${_af_reap[@]:-}"; do [ -n "$r" ] && kill -KILL "$r" 2>/dev/null || true; done
  for p in "${_af_pids[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$AF_TMP"/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f"; }; done >&2
  fi
  rm -rf "$AF_TMP"
  exit "$rc"
}
trap af_cleanup EXIT

# curl for a pipe into `grep -q`: grep exits at the first match, and under
# pipefail curl's EPIPE/SIGPIPE on the rest of a large body (/metrics) would
# fail the pipeline although the line was found.
af_get() { curl "$@" || true; }

# Asserts "$1" == "$2" with a message.
af_eq() { [ "$1" = "$2" ] || af_fail "${3:-values differ}: got '$1', want '$2'"; }

# Fails unless every named program is built in $AF_BIN.
af_need_bins() {
  local b
  for b in "$@"; do [ -x "$AF_BIN/$b" ] || af_fail "missing $AF_BIN/$b"; done
}

# Waits until the gateway at URL $1 reports $2 ready agents on /readyz (one
# read decides: no second read that could see a moment later). $3 names what
# is awaited in the failure message.
af_wait_agents() {
  local n="" i
  for ((i = 0; i < 200; i++)); do
    n=$(curl -s "$1/readyz" | jq -r .agents 2>/dev/null || true)
    [ "$n" = "$2" ] && return 0
    sleep 0.1
  done
  af_fail "${3:-agents at $1}: got '$n', want '$2'"
}
