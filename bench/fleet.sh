#!/usr/bin/env bash
# bench/fleet [N] (default 1000): the manager spawns N local agents through the
# process provider; measures the time until all are READY, then the manager's
# CPU share (of one core) and RSS while N agents heartbeat for 30 s.
# Agents: the light harness agent (tests/integration/harness_manager_agent,
# same AF1 behaviour as agentd towards the manager, no sessions or API client)
# by default; AF_BENCH_AGENT=agentd uses the real bin/agentd.
# Env: AF_BENCH_SECONDS (default 30), AF_BENCH_HEARTBEAT_MS (default 1000).
# Last line: agents=N ready_s=X manager_cpu_pct=X manager_rss_mib=X
set -euo pipefail
N="${1:-1000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${AF_BIN:-bin}"; case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN";; esac
BUILD="${AF_BUILD:-build}"; case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD";; esac
SECS="${AF_BENCH_SECONDS:-30}"
HB="${AF_BENCH_HEARTBEAT_MS:-1000}"
CLIENT="$BUILD/tests/integration/harness_manager_client"
PROBE="$BUILD/bench/bench_manager_fleet"
if [ "${AF_BENCH_AGENT:-harness}" = agentd ]; then AGENT="$BIN/agentd"; else
  AGENT="$BUILD/tests/integration/harness_manager_agent"; fi
for f in "$BIN/manager" "$CLIENT" "$PROBE" "$AGENT"; do
  [ -x "$f" ] || { echo "bench/fleet: $f missing (make bin/manager build/bench/bench_manager_fleet build/tests/integration/harness_manager_client build/tests/integration/harness_manager_agent)" >&2; exit 2; }
done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CTL=$(port); MET=$(port)
EP="tcp://127.0.0.1:$CTL"
LOG="$(mktemp /tmp/af-bench-fleet.XXXXXX)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

t0=$(date +%s.%N)
"$BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" --agentd-path "$AGENT" \
  --min-agents "$N" --max-agents "$N" --heartbeat-ms "$HB" --spawn-timeout-ms 60000 \
  --kill-grace-ms 5000 --log-level warn >"$LOG" 2>&1 &
MPID=$!
cleanup() {
  kill -TERM "$MPID" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$MPID" 2>/dev/null || true
  rm -f "$LOG"
}
trap cleanup EXIT
out=$("$PROBE" "$EP" "$N" "$t0" 120) || { echo "bench/fleet: not all READY: $out" >&2; tail "$LOG" >&2; exit 1; }
ready_s=$(echo "$out" | sed -n 's/^ready_s=\([0-9.]*\).*/\1/p')
echo "all $N agents READY in ${ready_s}s; measuring the manager for ${SECS}s" >&2

ticks() { awk '{print $14 + $15}' "/proc/$MPID/stat"; }
hz=$(getconf CLK_TCK)
c0=$(ticks); w0=$(date +%s.%N)
sleep "$SECS"
c1=$(ticks); w1=$(date +%s.%N)
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$MPID/status")
stats=$("$CLIENT" "$EP" STATS '{}' 5000 | sed 's/^OK //')
still=$(echo "$stats" | jq .agents.ready)
dead=$(curl -sf "127.0.0.1:$MET/metrics" | awk '/^manager_heals_total/ {print $2}')
echo "after ${SECS}s: ready=$still heals=${dead:-0} spawn_p50=$(echo "$stats" | jq .spawn_seconds.p50)s spawn_p99=$(echo "$stats" | jq .spawn_seconds.p99)s" >&2
cpu=$(echo "scale=2; ($c1 - $c0) * 100 / $hz / ($w1 - $w0)" | bc)
rss=$(echo "scale=1; $rss_kb / 1024" | bc)
printf 'agents=%d ready_s=%.2f manager_cpu_pct=%.2f manager_rss_mib=%.1f\n' "$N" "$ready_s" "$cpu" "$rss"
