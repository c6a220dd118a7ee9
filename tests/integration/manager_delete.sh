#!/usr/bin/env bash
# DELETE drains and destroys the agent: no process is left, LIST and GET no
# longer show it; another user's agent is not_found; a clean manager exit
# leaves no agentd behind. Then, with stand-in agents of known boot time and
# load that ignore SIGTERM: STATS utilization and spawn_seconds p50/p99, the
# spawn histogram and hypercore_agent_active_count match what was done, and
# DELETE escalates SIGTERM -> SIGKILL after --kill-grace-ms (agent_sigkill).
. "$(dirname "$0")/lib.sh"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
CTL=$(af_free_port); MET=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
mgr() { "$CLIENT" "$EP" "$@" 20000; }

af_start manager "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 2 --heartbeat-ms 1000
MPID=$AF_LAST_PID
af_wait_port "127.0.0.1:$MET"

out=$(mgr SPAWN '{"user":"dave","count":2}') || af_fail "spawn: $out"
id=$(echo "${out#OK }" | jq -r '.agents[0].agent_id')
keep=$(echo "${out#OK }" | jq -r '.agents[1].agent_id')
pid=$(pgrep -f -- "--id $id") || af_fail "no process for $id"

out=$(mgr DELETE "{\"user\":\"mallory\",\"agent_id\":\"$id\"}") && af_fail "mallory deleted dave's agent"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" not_found "other user's DELETE"
out=$(mgr GET "{\"user\":\"mallory\",\"agent_id\":\"$id\"}") && af_fail "mallory saw dave's agent"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" not_found "other user's GET"
af_eq "$(mgr GET "{\"user\":\"dave\",\"agent_id\":\"$id\"}" | sed 's/^OK //' | jq -r .agent.status)" ready "GET by owner"

out=$(mgr DELETE "{\"user\":\"dave\",\"agent_id\":\"$id\"}") || af_fail "delete: $out"
af_eq "$(echo "${out#OK }" | jq -r .status)" deleted "DELETE status"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && af_fail "agent process $pid still alive 5 s after DELETE"
pgrep -f -- "--id $id" >/dev/null && af_fail "a process for $id is still running"
af_eq "$(mgr LIST '{"user":"dave"}' | sed 's/^OK //' | jq -r '[.agents[].agent_id] | join(",")')" "$keep" "LIST after DELETE"
out=$(mgr GET "{\"user\":\"dave\",\"agent_id\":\"$id\"}") && af_fail "deleted agent still visible"
# Deleted agents are not healed.
sleep 1.5
af_eq "$(mgr LIST '{"user":"dave"}' | sed 's/^OK //' | jq '.agents | length')" 1 "no replacement after DELETE"
# An admin may delete anyone's agent.
mgr DELETE "{\"user\":\"root\",\"role\":\"admin\",\"agent_id\":\"$keep\"}" >/dev/null || af_fail "admin delete"

# Clean exit: every agentd (the 2 pool agents) goes with the manager.
af_eq "$(pgrep -f -- "--manager $EP" | wc -l || true)" 2 "pool agents before exit"
kill -TERM "$MPID"
for _ in $(seq 100); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$MPID" 2>/dev/null && af_fail "manager did not exit on SIGTERM"
n=$(pgrep -f -- "--manager $EP" | wc -l || true)
af_eq "$n" 0 "agentd processes left after the manager's clean exit"

# --- 2. Known spawns, known load, agents that ignore SIGTERM -----------------
# The k-th spawn boots after DELAYS[k] s, then runs a harness agent reporting k
# live sessions; the wrapper (the process the manager spawned, leading its
# process group) ignores SIGTERM and outlives its agent until SIGKILL.
cat > "$AF_TMP/stubborn.sh" <<SH
#!/bin/bash
trap '' TERM
n=\$(( \$(cat "$AF_TMP/spawns" 2>/dev/null || echo 0) + 1 )); echo \$n > "$AF_TMP/spawns"
delays=(0 0.2 0.6 1.0)
sleep \${delays[\$n]:-0}
"$AF_BUILD/tests/integration/harness_manager_agent" "\$@" --sessions \$n &
wait
while :; do sleep 0.2; done
SH
chmod +x "$AF_TMP/stubborn.sh"
GRACE=1500
CTL=$(af_free_port); MET=$(af_free_port); EP="tcp://127.0.0.1:$CTL"
af_start mgr2 "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_TMP/stubborn.sh" --min-agents 0 --capacity 100 --heartbeat-ms 500 \
  --kill-grace-ms "$GRACE"
af_wait_port "127.0.0.1:$MET"
metric() { af_get -sf "127.0.0.1:$MET/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
# within LO HI X: LO <= X < HI
within() { awk -v lo="$1" -v hi="$2" -v x="$3" 'BEGIN { exit !(x >= lo && x < hi) }'; }

ids=()
for k in 1 2 3; do # one at a time: the k-th spawn is the k-th boot delay
  out=$(mgr SPAWN '{"user":"erin"}') || af_fail "spawn $k: $out"
  ids+=("$(echo "${out#OK }" | jq -r '.agents[0].agent_id')")
done
for _ in $(seq 60); do
  [ "$(mgr STATS '{}' | sed 's/^OK //' | jq -c '[.agents.ready, .sessions]')" = "[3,6]" ] && break
  sleep 0.05
done
st=$(mgr STATS '{}' | sed 's/^OK //')
af_eq "$(echo "$st" | jq -c '[.agents.ready, .sessions]')" "[3,6]" "3 ready agents holding 1+2+3 sessions"
# 6 sessions on 3 ready agents of --capacity 100 each.
af_eq "$(echo "$st" | jq .utilization)" 0.02 "STATS utilization"
af_eq "$(echo "$st" | jq .spawn_seconds.count)" 3 "STATS spawn_seconds.count"
# Boots of 0.2, 0.6 and 1.0 s: the median is the 0.6 s one, p99 the slowest
# (each plus the start-up of a harness agent, well under 0.4 s here).
p50=$(echo "$st" | jq .spawn_seconds.p50); p99=$(echo "$st" | jq .spawn_seconds.p99)
af_log "STATS utilization=$(echo "$st" | jq .utilization) spawn_seconds p50=$p50 p99=$p99"
within 0.6 1.0 "$p50" || af_fail "STATS spawn_seconds.p50 $p50, want the 0.6 s boot (0.6..1.0)"
within 1.0 1.4 "$p99" || af_fail "STATS spawn_seconds.p99 $p99, want the 1.0 s boot (1.0..1.4)"
af_eq "$(metric manager_spawn_duration_seconds_count)" 3 "manager_spawn_duration_seconds_count"
af_eq "$(metric 'manager_spawn_duration_seconds_bucket{le="0.1"}')" 0 "spawns under 0.1 s"
af_eq "$(metric 'manager_spawn_duration_seconds_bucket{le="+Inf"}')" 3 "spawns in the +Inf bucket"
within 1.8 3.0 "$(metric manager_spawn_duration_seconds_sum)" || af_fail "spawn duration sum $(metric manager_spawn_duration_seconds_sum), want 1.8..3.0"
af_eq "$(metric hypercore_agent_active_count)" 3 "hypercore_agent_active_count with 3 agents"

# DELETE of an agent that ignores SIGTERM: its agent leaves on DRAIN, the
# wrapper stays through the grace and is SIGKILLed after it.
id=${ids[2]}
wpid=$(pgrep -f -- "stubborn.sh --id $id") || af_fail "no wrapper process for $id"
t0=$(date +%s%N)
mgr DELETE "{\"user\":\"erin\",\"agent_id\":\"$id\"}" >/dev/null || af_fail "delete $id"
sleep 0.7
kill -0 "$wpid" 2>/dev/null || af_fail "wrapper $wpid gone before the grace: SIGTERM was not ignored?"
grep -q "event=agent_sigkill agent_id=$id" "$AF_TMP/mgr2.log" && af_fail "SIGKILL before the grace"
for _ in $(seq 60); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$wpid" 2>/dev/null && af_fail "agent $id (pid $wpid) still alive $((GRACE + 2300)) ms after DELETE"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
af_log "agent ignoring SIGTERM gone $ms ms after DELETE (grace $GRACE ms)"
[ "$ms" -ge $((GRACE - 200)) ] || af_fail "agent $id gone after $ms ms, before the ${GRACE} ms grace"
grep -q "event=agent_sigkill agent_id=$id pid=$wpid grace_ms=$GRACE" "$AF_TMP/mgr2.log" \
  || af_fail "no agent_sigkill logged for $id"
pgrep -f -- "--id $id" >/dev/null && af_fail "a process of $id survived the SIGKILL"

# The rest go the same way; then no agent is active and no spawn was added.
for id in "${ids[0]}" "${ids[1]}"; do
  mgr DELETE "{\"user\":\"erin\",\"agent_id\":\"$id\"}" >/dev/null || af_fail "delete $id"
done
for _ in $(seq 80); do
  [ "$(metric hypercore_agent_active_count)" = 0 ] && ! pgrep -f -- "stubborn.sh --id" >/dev/null && break
  sleep 0.05
done
af_eq "$(metric hypercore_agent_active_count)" 0 "hypercore_agent_active_count after DELETE of all"
pgrep -f -- "stubborn.sh --id" >/dev/null && af_fail "stand-in agents left after DELETE"
af_eq "$(grep -c 'event=agent_sigkill' "$AF_TMP/mgr2.log")" 3 "agent_sigkill lines"
af_eq "$(metric manager_spawn_duration_seconds_count)" 3 "spawn count after DELETE (no heal)"
echo "PASS manager_delete"
