#!/usr/bin/env bash
# kill -9 of a real agentd: the manager notices, destroys it and spawns a
# replacement with the same owner and spec that is READY within 5 s.
. "$(dirname "$0")/lib.sh"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
CTL=$(af_free_port); MET=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
mgr() { "$CLIENT" "$EP" "$@" 20000; }

af_start manager "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 1 --heartbeat-ms 1000
af_wait_port "127.0.0.1:$MET"

out=$(mgr SPAWN '{"user":"carol","spec":{"cores":2,"memory_mb":2048}}') || af_fail "spawn: $out"
id=$(echo "${out#OK }" | jq -r '.agents[0].agent_id')
pid=$(pgrep -f -- "--id $id") || af_fail "no process for $id"
# The process provider: own process group, RLIMIT_DATA = memory_mb, no key in env.
# (Sanitizer builds skip RLIMIT_DATA: their shadow memory would exceed it.)
if ! ldd "$AF_BIN/manager" | grep -q libasan; then
  af_eq "$(awk '/^Max data size/ {print $4}' "/proc/$pid/limits")" $((2048 * 1024 * 1024)) "RLIMIT_DATA"
fi
af_eq "$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits")" 4096 "RLIMIT_NOFILE"
af_eq "$(ps -o pgid= -p "$pid" | tr -d ' ')" "$pid" "own process group"
tr '\0' '\n' < "/proc/$pid/environ" | grep -q '^ANTHROPIC_API_KEY=' && af_fail "key in agent env"
af_log "killing agent $id pid $pid"
kill -9 "$pid"
t0=$(date +%s.%N)
new=""
for _ in $(seq 100); do
  l=$(mgr LIST '{"user":"carol"}' | sed 's/^OK //')
  new=$(echo "$l" | jq -r --arg old "$id" '[.agents[] | select(.agent_id != $old and .status == "ready")][0].agent_id // empty')
  [ -n "$new" ] && break
  sleep 0.05
done
secs=$(echo "$(date +%s.%N) - $t0" | bc)
[ -n "$new" ] || af_fail "no READY replacement within 5 s"
af_log "replacement $new READY after ${secs}s"
[ "$(echo "$secs < 5" | bc)" = 1 ] || af_fail "replacement took ${secs}s"
l=$(mgr LIST '{"user":"carol"}' | sed 's/^OK //')
af_eq "$(echo "$l" | jq '.agents | length')" 1 "carol has exactly one agent"
af_eq "$(echo "$l" | jq -c '.agents[0].spec')" '{"cores":2,"memory_mb":2048,"image":"agentd:latest"}' "same spec"
af_eq "$(echo "$l" | jq -r '.agents[0].owner')" carol "same owner"
pgrep -f -- "--id $new" >/dev/null || af_fail "replacement has no process"
af_get -sf "127.0.0.1:$MET/metrics" | grep -q '^manager_heals_total 1$' || af_fail "heal not counted"

# A frozen agent (SIGSTOP: alive but silent) is declared dead after 3 missed
# heartbeats and replaced too.
pid=$(pgrep -f -- "--id $new")
kill -STOP "$pid"
t0=$(date +%s.%N)
third=""
for _ in $(seq 160); do
  third=$(mgr LIST '{"user":"carol"}' | sed 's/^OK //' | jq -r --arg old "$new" '[.agents[] | select(.agent_id != $old and .status == "ready")][0].agent_id // empty')
  [ -n "$third" ] && break
  sleep 0.05
done
[ -n "$third" ] || af_fail "silent agent not replaced"
secs=$(echo "$(date +%s.%N) - $t0" | bc)
af_log "silent agent replaced after ${secs}s (expiry 3 x 1000 ms)"
# Silence counts from its last heartbeat, up to 1 s before the STOP: dead
# after 3 missed intervals means 2..4 s after the STOP (tick granularity 1 s).
[ "$(echo "$secs >= 1.9" | bc)" = 1 ] || af_fail "declared dead too early (${secs}s)"
for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && af_fail "silent agent's process was not destroyed"

# A pool agent that dies is replaced by the pool upkeep (same owner "pool").
pool=$(mgr LIST '{"role":"admin","all":true}' | sed 's/^OK //' | jq -r '[.agents[] | select(.owner=="pool")][0].agent_id')
ppid=$(pgrep -f -- "--id $pool") || af_fail "no pool agent process"
kill -9 "$ppid"
np=""
for _ in $(seq 100); do
  np=$(mgr LIST '{"role":"admin","all":true}' | sed 's/^OK //' | jq -r --arg old "$pool" '[.agents[] | select(.owner=="pool" and .agent_id != $old and .status=="ready")][0].agent_id // empty')
  [ -n "$np" ] && break; sleep 0.05
done
[ -n "$np" ] || af_fail "dead pool agent not replaced within 5 s"
af_eq "$(mgr STATS '{}' | sed 's/^OK //' | jq .pool)" 1 "pool back at its target"
echo "PASS manager_heal"
