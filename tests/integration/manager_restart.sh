#!/usr/bin/env bash
# Soft state: kill -9 of the manager, restart on the same endpoint, and the
# registry is rebuilt from the agents that re-register: LIST (all) is the same
# (ids, owners, specs) within 5 s.
. "$(dirname "$0")/lib.sh"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
CTL=$(af_free_port); MET=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
mgr() { "$CLIENT" "$EP" "$@" 20000; }
ARGS=(--listen "$EP" --metrics-listen "127.0.0.1:$MET" --agentd-path "$AF_BIN/agentd"
      --min-agents 2 --heartbeat-ms 1000)
snapshot() { mgr LIST '{"role":"admin","all":true}' | sed 's/^OK //' |
  jq -c '[.agents[] | {agent_id, owner, spec, status}] | sort_by(.agent_id)'; }

af_start manager1 "$AF_BIN/manager" "${ARGS[@]}"
M1=$AF_LAST_PID
af_wait_port "127.0.0.1:$MET"
mgr SPAWN '{"user":"erin","count":2,"spec":{"cores":2,"memory_mb":1024}}' >/dev/null || af_fail "spawn erin"
mgr SPAWN '{"user":"frank","spec":{"cores":4,"memory_mb":4096}}' >/dev/null || af_fail "spawn frank"
for _ in $(seq 100); do
  [ "$(mgr STATS '{}' | sed 's/^OK //' | jq .agents.ready)" = 5 ] && break; sleep 0.1
done
before=$(snapshot)
af_eq "$(echo "$before" | jq length)" 5 "agents before"
pids_before=$(pgrep -f -- "--manager $EP" | sort | tr '\n' ' ')

kill -9 "$M1"
wait "$M1" 2>/dev/null || true
af_log "manager killed; agents keep running"
sleep 0.5
af_eq "$(pgrep -f -- "--manager $EP" | sort | tr '\n' ' ')" "$pids_before" "agents survive the manager"

af_start manager2 "$AF_BIN/manager" "${ARGS[@]}"
t0=$(date +%s.%N)
after=""
for _ in $(seq 100); do
  after=$(snapshot 2>/dev/null || true)
  [ "$after" = "$before" ] && break
  sleep 0.05
done
secs=$(echo "$(date +%s.%N) - $t0" | bc)
af_eq "$after" "$before" "LIST after restart"
[ "$(echo "$secs < 5" | bc)" = 1 ] || af_fail "registry rebuilt after ${secs}s"
af_log "registry rebuilt in ${secs}s"
# No duplicate pool agents were spawned on top of the re-registered ones.
sleep 1.5
af_eq "$(snapshot)" "$before" "LIST stable after restart"
# The restarted manager can destroy adopted agents (found by --id in /proc).
id=$(echo "$before" | jq -r '[.[] | select(.owner=="frank")][0].agent_id')
pid=$(pgrep -f -- "--id $id")
mgr DELETE "{\"user\":\"frank\",\"agent_id\":\"$id\"}" >/dev/null || af_fail "delete adopted"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && af_fail "adopted agent not destroyed"
echo "PASS manager_restart"
