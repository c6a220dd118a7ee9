#!/usr/bin/env bash
# `AF_RUN_HA=1 make run`: scripts/run-local.sh runs a redis-server of its own and
# two managers (manager = mgr-a, manager-b = mgr-b) sharing the lease, every AF1
# link on CURVE. One leads (whichever took the lease first), the other stands by;
# spawn, list and chat work. kill -9 of the leader: a manager other than the killed
# process leads within 5 s with a higher fencing token (the standby, or the killed
# one's replacement that supervisord starts at once: whichever takes the expired
# lease first), exactly one leads, and
# spawn, list and chat keep working on the old agents and a new one. Ctrl-C stops
# everything, agents included (under HA a manager's clean exit leaves them to
# run-local.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
command -v supervisord >/dev/null || af_fail "supervisord not installed"
command -v redis-server >/dev/null || af_fail "redis-server not installed"
fc="$AF_BIN/fleetctl"

ops_stack_env "AF_MANAGER_MIN_AGENTS=3" "AF_AUTOSCALER_MIN_AGENTS=3"
AF_RUN_HA=1 ops_stack_start 3
af_log "stack up with AF_RUN_HA=1: 3 agents ready"
ops_ctl status >"$AF_TMP/status.out" || true
for prog in redis manager manager-b gateway autoscaler; do
  grep -q "^$prog  *RUNNING" "$AF_TMP/status.out" || af_fail "$prog not running: $(cat "$AF_TMP/status.out")"
done
grep -q "^AF_GATEWAY_MANAGER=$OPS_MGR,$OPS_MGR_B\$" "$AF_VAR/run/ha.env" || af_fail "gateway not given both managers"

metric() { # metrics-port name
  curl -fsS --max-time 1 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v m="$2" '$1 == m {print int($2)}' || true
}
leaders() { echo $(( $(metric "$OPS_MGR_METRICS" manager_leader || echo 0) + $(metric "$OPS_MGR_B_METRICS" manager_leader || echo 0) )); }
for _ in $(seq 100); do
  [ -n "$(metric "$OPS_MGR_B_METRICS" manager_leader)" ] && [ "$(leaders)" = 1 ] && break; sleep 0.1
done
af_eq "$(leaders)" 1 "managers leading"
if [ "$(metric "$OPS_MGR_METRICS" manager_leader)" = 1 ]; then
  lead=manager lead_port=$OPS_MGR_METRICS standby=manager-b standby_port=$OPS_MGR_B_METRICS
else
  lead=manager-b lead_port=$OPS_MGR_B_METRICS standby=manager standby_port=$OPS_MGR_METRICS
fi
af_log "$lead leads, $standby stands by"
fence1=$(metric "$lead_port" manager_fence_token)
[ "${fence1:-0}" -ge 1 ] || af_fail "leader's fencing token: '$fence1'"
for port in "$OPS_MGR_METRICS" "$OPS_MGR_B_METRICS"; do
  n=$(metric "$port" zmq_curve_admitted_total)
  [ "${n:-0}" -ge 3 ] || af_fail "manager on metrics port $port admitted ${n:-no} CURVE handshakes"
done

export FLEET_TOKEN
FLEET_TOKEN=$("$fc" token --user alice)
admin=$("$fc" token --user root --role admin)
agent=$("$fc" agents spawn | awk '{print $1}')
[[ "$agent" == ag_* ]] || af_fail "spawn printed '$agent'"
"$fc" chat "$agent" -m "before failover" >"$AF_TMP/chat1.out" 2>/dev/null || af_fail "chat before failover failed"
grep -q '^You said: before failover' "$AF_TMP/chat1.out" || af_fail "chat reply: $(cat "$AF_TMP/chat1.out")"
af_eq "$("$fc" --token "$admin" --json agents list | jq -r '.count')" 4 "agents listed before failover"
# The standby's registry is warm: it knows all 4 agents too.
for _ in $(seq 60); do [ "$(metric "$standby_port" 'manager_agents{state="ready"}')" = 4 ] && break; sleep 0.1; done
af_eq "$(metric "$standby_port" 'manager_agents{state="ready"}')" 4 "standby's ready agents"

af_log "kill -9 the leader ($lead)"
old=$(ops_ctl pid "$lead")
[ "${old:-0}" -gt 0 ] || af_fail "$lead has no pid"
t0=$(date +%s%N)
kill -KILL "$old"
new_leader=""
for _ in $(seq 100); do
  if [ "$(metric "$standby_port" manager_leader)" = 1 ]; then new_leader=$standby port=$standby_port; break; fi
  # supervisord restarts the killed manager at once: a new process that may win
  # the expired lease instead.
  p=$(ops_ctl pid "$lead" 2>/dev/null || echo 0)
  if [ "${p:-0}" -gt 0 ] && [ "$p" != "$old" ] && [ "$(metric "$lead_port" manager_leader)" = 1 ]; then
    new_leader="$lead (restarted as $p)" port=$lead_port; break
  fi
  sleep 0.05
done
took=$(( ($(date +%s%N) - t0) / 1000000 ))
[ -n "$new_leader" ] || af_fail "no manager leads 5 s after the leader was killed"
[ "$took" -lt 5000 ] || af_fail "takeover took $took ms (limit 5000)"
af_log "$new_leader leads after $took ms"
fence2=$(metric "$port" manager_fence_token)
[ "${fence2:-0}" -gt "$fence1" ] || af_fail "new leader's token $fence2 is not above $fence1"
# The killed manager is back (supervisord) and exactly one of the two leads.
for _ in $(seq 50); do
  p=$(ops_ctl pid "$lead" 2>/dev/null || echo 0)
  [ "${p:-0}" -gt 0 ] && [ "$p" != "$old" ] && [ -n "$(metric "$lead_port" manager_leader)" ] && break
  sleep 0.1
done
af_eq "$(leaders)" 1 "managers leading after the failover"

af_log "after failover: list, chat on the old agent, spawn, chat on the new one"
ok=0
for _ in $(seq 50); do
  if [ "$("$fc" --token "$admin" --json agents list 2>/dev/null | jq -r '.count' 2>/dev/null)" = 4 ]; then ok=1; break; fi
  sleep 0.1
done
[ "$ok" = 1 ] || af_fail "agents list after failover: $("$fc" --token "$admin" --json agents list 2>&1 | head -c 300)"
"$fc" chat "$agent" -m "after failover" >"$AF_TMP/chat2.out" 2>"$AF_TMP/chat2.err" \
  || af_fail "chat on $agent after failover: $(cat "$AF_TMP/chat2.err")"
grep -q '^You said: after failover' "$AF_TMP/chat2.out" || af_fail "chat reply after failover: $(cat "$AF_TMP/chat2.out")"
agent2=$("$fc" agents spawn | awk '{print $1}')
[[ "$agent2" == ag_* ]] || af_fail "spawn after failover printed '$agent2'"
"$fc" chat "$agent2" -m "new agent" >"$AF_TMP/chat3.out" 2>/dev/null || af_fail "chat on $agent2 failed"
grep -q '^You said: new agent' "$AF_TMP/chat3.out" || af_fail "chat reply on $agent2: $(cat "$AF_TMP/chat3.out")"
sleep 1 # a pool re-spawn or a duplicate would show by now
af_eq "$("$fc" --token "$admin" --json agents list | jq -r '.count')" 5 "agents listed after the spawn (3 pool + 2)"
n=$(for p in $(pgrep -f "^$AF_BIN/agentd " || true); do
      if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "AF_VAR=$AF_VAR"; then echo "$p"; fi
    done | wc -l)
af_eq "$n" 5 "agent processes (none lost, none twice)"

ops_stack_stop
grep -q '^agentfleet stopped' "$AF_TMP/run-local.log" || af_fail "run-local did not finish"
! grep -q 'WARNING' "$AF_TMP/run-local.log" || af_fail "run-local warned: $(grep WARNING "$AF_TMP/run-local.log")"
left=$(ops_leftovers)
[ -z "$left" ] || { ps -o pid,args -p $left >&2; af_fail "processes left after Ctrl-C: $left"; }
af_log "PASS: two managers under supervisord, failover in $took ms to $new_leader; Ctrl-C left nothing running"
