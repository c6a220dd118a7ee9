#!/usr/bin/env bash
# The hypercore provider against bin/fake-hypercore (each VM runs a real
# agentd): spawn, list, delete; injected 500s, a VM that never registers and an
# unreachable API become clear spawn errors with the cause; a VM that dies is
# healed. The VM's env carries only manager endpoint, agent id and join token.
. "$(dirname "$0")/lib.sh"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
mgr() { "$CLIENT" "$EP" "$@" 20000; }
start_pair() { # $1: fake-hypercore flags; $2: manager flags
  CTL=$(af_free_port); MET=$(af_free_port); HC=$(af_free_port)
  EP="tcp://127.0.0.1:$CTL"
  # shellcheck disable=SC2086
  af_start "hc$HC" "$AF_BIN/fake-hypercore" --listen "127.0.0.1:$HC" --agentd-path "$AF_BIN/agentd" $1
  HCPID=$AF_LAST_PID
  af_wait_port "127.0.0.1:$HC"
  # shellcheck disable=SC2086
  HYPERCORE_URL="http://127.0.0.1:$HC" af_start "mgr$CTL" "$AF_BIN/manager" --listen "$EP" \
    --metrics-listen "127.0.0.1:$MET" --provider hypercore --min-agents 0 --heartbeat-ms 500 $2
  MPID=$AF_LAST_PID
  af_wait_port "127.0.0.1:$MET"
}
stop_pair() { kill -TERM "$MPID" "$HCPID"; wait "$MPID" "$HCPID" 2>/dev/null || true; }

# 1. spawn, list, delete
start_pair "--boot-delay-ms 100" ""
out=$(mgr SPAWN '{"user":"gina","count":2,"spec":{"cores":2,"memory_mb":1024}}') || af_fail "spawn: $out"
ids=$(echo "${out#OK }" | jq -r '[.agents[].agent_id] | sort | join(",")')
vms=$(curl -sf "127.0.0.1:$HC/list")
af_eq "$(echo "$vms" | jq '[.[] | select(.status=="running")] | length')" 2 "VMs running at Hypercore"
af_eq "$(mgr LIST '{"user":"gina"}' | sed 's/^OK //' | jq -r '[.agents[] | select(.status=="ready") | .agent_id] | sort | join(",")')" "$ids" "LIST"
af_eq "$(mgr LIST '{"user":"gina"}' | sed 's/^OK //' | jq -r '.agents[0].owner')" gina "owner kept from the spawn"
metric() { af_get -sf "127.0.0.1:$MET/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
af_eq "$(metric hypercore_agent_active_count)" 2 "hypercore_agent_active_count with 2 VMs"
af_eq "$(metric manager_spawn_duration_seconds_count)" 2 "manager_spawn_duration_seconds_count"
# The VM's environment: exactly the three bootstrap variables, no key.
vm_pid=$(pgrep -f -x "$AF_BIN/agentd" | head -1)
envs=$(tr '\0' '\n' < "/proc/$vm_pid/environ" | cut -d= -f1 | sort | tr '\n' ' ')
af_eq "$envs" "AF_AGENTD_ID AF_AGENTD_JOIN_TOKEN AF_AGENTD_MANAGER " "VM bootstrap env"
first=${ids%%,*}
mgr DELETE "{\"user\":\"gina\",\"agent_id\":\"$first\"}" >/dev/null || af_fail "delete"
for _ in $(seq 50); do
  [ "$(curl -sf "127.0.0.1:$HC/list" | jq length)" = 1 ] && break; sleep 0.1
done
af_eq "$(curl -sf "127.0.0.1:$HC/list" | jq length)" 1 "VMs after DELETE"
af_eq "$(mgr LIST '{"user":"gina"}' | sed 's/^OK //' | jq '.agents | length')" 1 "LIST after DELETE"
for _ in $(seq 50); do [ "$(metric hypercore_agent_active_count)" = 1 ] && break; sleep 0.1; done
af_eq "$(metric hypercore_agent_active_count)" 1 "hypercore_agent_active_count after DELETE"
# Soft state: kill -9 of the manager. The VM booted with only its id, yet its
# agent re-registers with the new manager as gina's, with its spec (learned in
# WELCOME), not as a pool agent anyone could be placed on.
kill -KILL "$MPID"; wait "$MPID" 2>/dev/null || true
HYPERCORE_URL="http://127.0.0.1:$HC" af_start "mgr2$CTL" "$AF_BIN/manager" --listen "$EP" \
  --metrics-listen "127.0.0.1:$MET" --provider hypercore --min-agents 0 --heartbeat-ms 500
MPID=$AF_LAST_PID
af_wait_port "127.0.0.1:$MET"
all() { mgr LIST '{"role":"admin","all":true}' | sed 's/^OK //'; }
for _ in $(seq 150); do [ "$(all | jq '.agents | length')" = 1 ] && break; sleep 0.1; done
af_eq "$(all | jq -c '.agents[] | [.agent_id, .owner, .spec.cores, .spec.memory_mb]')" \
  "[\"${ids#*,}\",\"gina\",2,1024]" "VM agent after a manager restart"
stop_pair

# 2. Hypercore answers 500: spawn_failed with the cause.
start_pair "--fail-spawn 1" ""
out=$(mgr SPAWN '{"user":"gina"}') && af_fail "spawn with 500 succeeded"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" spawn_failed "500 code"
echo "$out" | grep -q 'HTTP 500: injected failure' || af_fail "cause missing: $out"
mgr SPAWN '{"user":"gina"}' >/dev/null || af_fail "spawn after the failure"
stop_pair

# 3. A VM that never registers (boot slower than the spawn timeout): timeout,
#    the VM is deleted.
start_pair "--boot-delay-ms 5000" "--spawn-timeout-ms 1500"
out=$(mgr SPAWN '{"user":"gina"}') && af_fail "slow boot succeeded"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" timeout "slow boot code"
echo "$out" | grep -q 'did not report READY within 1500 ms' || af_fail "cause missing: $out"
for _ in $(seq 30); do [ "$(curl -sf "127.0.0.1:$HC/list" | jq length)" = 0 ] && break; sleep 0.1; done
af_eq "$(curl -sf "127.0.0.1:$HC/list" | jq length)" 0 "timed-out VM deleted"
stop_pair

# 4. A VM that dies is replaced (heartbeat expiry, 3 x 500 ms).
start_pair "--die-after-ms 1500" ""
out=$(mgr SPAWN '{"user":"hank"}') || af_fail "spawn: $out"
id=$(echo "${out#OK }" | jq -r '.agents[0].agent_id')
healed=""
for _ in $(seq 80); do
  healed=$(mgr LIST '{"user":"hank"}' | sed 's/^OK //' | jq -r --arg old "$id" '[.agents[] | select(.agent_id != $old)][0].agent_id // empty')
  [ -n "$healed" ] && break; sleep 0.1
done
[ -n "$healed" ] || af_fail "dead VM not replaced"
stop_pair

# 5. Hypercore unreachable: spawn_failed naming the connection error.
CTL=$(af_free_port); MET=$(af_free_port); DEAD=$(af_free_port); EP="tcp://127.0.0.1:$CTL"
af_start mgr-unreach "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --provider hypercore --hypercore-url "http://127.0.0.1:$DEAD" --min-agents 0
af_wait_port "127.0.0.1:$MET"
out=$(mgr SPAWN '{"user":"gina"}') && af_fail "spawn without Hypercore succeeded"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" spawn_failed "unreachable code"
echo "$out" | grep -qi 'hypercore POST /spawn: .*connect' || af_fail "cause missing: $out"

# 6. Hypercore accepts the connection but never answers: the call times out.
HANG=$(af_free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); conns = []
while True: conns.append(s.accept()[0])
' "$HANG" & _af_pids+=($!)
af_wait_port "127.0.0.1:$HANG"
CTL=$(af_free_port); MET=$(af_free_port); EP="tcp://127.0.0.1:$CTL"
af_start mgr-hang "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --provider hypercore --hypercore-url "http://127.0.0.1:$HANG" --hypercore-timeout-ms 500 --min-agents 0
af_wait_port "127.0.0.1:$MET"
out=$(mgr SPAWN '{"user":"gina"}') && af_fail "spawn against a hanging Hypercore succeeded"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" spawn_failed "hanging API code"
echo "$out" | grep -q 'hypercore POST /spawn: timeout after 500 ms' || af_fail "cause missing: $out"
af_get -sf "127.0.0.1:$MET/metrics" | grep -q 'manager_spawn_failures_total{reason="spawn_failed"} 1' \
  || af_fail "spawn failure not counted"
echo "PASS manager_hypercore"
