#!/usr/bin/env bash
# Control plane over real agentd processes: PLACE (named, pool, capacity),
# SCALE (admin only, up and down, idle drained first), STATS, GATEWAY_HELLO,
# service discovery, refusal of unknown verbs and broken frames, and spawn
# errors of the process provider (agent exits at once; agent never READY).
. "$(dirname "$0")/lib.sh"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
CTL=$(af_free_port); MET=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
mgr() { "$CLIENT" "$EP" "$@" 20000; }
code() { echo "${1#ERROR }" | jq -r .code; }

af_start manager "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 1 --max-agents 4 --capacity 2 --heartbeat-ms 500
af_wait_port "127.0.0.1:$MET"
for _ in $(seq 100); do
  [ "$(mgr STATS '{}' | sed 's/^OK //' | jq .agents.ready)" = 1 ] && break; sleep 0.05
done
stats=$(mgr STATS '{}' | sed 's/^OK //')
af_eq "$(echo "$stats" | jq -c '[.agents.ready, .pool, .capacity]')" "[1,1,100]" "STATS with one pool agent"

# PLACE: least-loaded pool agent; the agent's own capacity (agentd says 100)
# bounds it; a named agent of another user is not_found.
pool=$(mgr PLACE '{"user":"ivy","session_id":"se_1"}' | sed 's/^OK //' | jq -r .agent_id)
[ -n "$pool" ] && [ "$pool" != null ] || af_fail "PLACE on pool"
mine=$(mgr SPAWN '{"user":"ivy"}' | sed 's/^OK //' | jq -r '.agents[0].agent_id')
af_eq "$(mgr PLACE "{\"user\":\"ivy\",\"agent_id\":\"$mine\"}" | sed 's/^OK //' | jq -r .agent_id)" "$mine" "PLACE named"
out=$(mgr PLACE "{\"user\":\"jack\",\"agent_id\":\"$mine\"}") && af_fail "jack placed on ivy's agent"
af_eq "$(code "$out")" not_found "PLACE on another user's agent"
out=$(mgr PLACE '{"session_id":"x"}') && af_fail "PLACE without user"
af_eq "$(code "$out")" invalid_request "PLACE without user"

# SCALE: admin only; up to 3, then down to 1 (drained agents exit).
out=$(mgr SCALE '{"target":3,"role":"user","user":"ivy"}') && af_fail "user scaled"
af_eq "$(code "$out")" forbidden "SCALE as user"
out=$(mgr SCALE '{"target":3,"role":"admin","reason":"test"}') || af_fail "scale up: $out"
af_eq "$(echo "${out#OK }" | jq -c '[.target,.spawning]')" "[3,2]" "SCALE up reply"
for _ in $(seq 100); do
  [ "$(mgr STATS '{}' | sed 's/^OK //' | jq .pool)" = 3 ] && \
  [ "$(mgr STATS '{}' | sed 's/^OK //' | jq .agents.spawning)" = 0 ] && break; sleep 0.05
done
af_eq "$(mgr STATS '{}' | sed 's/^OK //' | jq .pool)" 3 "pool after SCALE up"
out=$(mgr SCALE '{"target":99,"role":"admin"}') || af_fail "scale clamp"
af_eq "$(echo "${out#OK }" | jq .target)" 4 "target clamped to --max-agents"
# A pool agent with a live session (a harness agent reporting 1 session joins
# the pool): scale-down drains the idle ones and keeps it.
af_start busy "$AF_BUILD/tests/integration/harness_manager_agent" --id ag_busy --owner pool \
  --manager "$EP" --sessions 1 --heartbeat-ms 500
# (4 agentd pool agents after the clamped SCALE, plus the busy one). The
# session PLACEd on a pool agent above counts as a reservation until that
# agent's next heartbeat says it holds none, so wait for both.
for _ in $(seq 100); do
  st=$(mgr STATS '{}' | sed 's/^OK //')
  [ "$(echo "$st" | jq -c '[.agents.ready, .sessions]')" = "[6,1]" ] && break; sleep 0.05
done
af_eq "$(mgr STATS '{}' | sed 's/^OK //' | jq .pool)" 5 "pool with the busy agent"
af_eq "$(mgr STATS '{}' | sed 's/^OK //' | jq .sessions)" 1 "sessions reported by the busy agent"
out=$(mgr SCALE '{"target":1,"role":"admin"}') || af_fail "scale down: $out"
af_eq "$(echo "${out#OK }" | jq -c '[.target,.draining]')" "[1,4]" "SCALE down reply"
for _ in $(seq 100); do
  [ "$(mgr LIST '{"role":"admin","all":true}' | sed 's/^OK //' | jq '[.agents[] | select(.owner=="pool")] | length')" = 1 ] && break
  sleep 0.05
done
left=$(mgr LIST '{"role":"admin","all":true}' | sed 's/^OK //' | jq -r '[.agents[] | select(.owner=="pool")] | map(.agent_id) | join(",")')
af_eq "$left" ag_busy "pool agent with the session is kept"
for _ in $(seq 50); do
  [ "$(pgrep -f -- "--manager $EP" | wc -l || true)" = 2 ] && break; sleep 0.1
done
af_eq "$(pgrep -f -- "--manager $EP" | wc -l || true)" 2 "processes after scale-down (busy pool agent + ivy's)"

# GATEWAY_HELLO
out=$(mgr GATEWAY_HELLO '{"gateway_id":"gw-1","endpoint":"tcp://127.0.0.1:1"}') || af_fail "hello: $out"
af_eq "$(echo "${out#OK }" | jq .heartbeat_ms)" 500 "GATEWAY_HELLO reply"
out=$(mgr GATEWAY_HELLO '{"gateway_id":"gw-1","endpoint":"http://x"}') && af_fail "bad endpoint accepted"

# Service discovery: every live agent with agent_id and owner labels, at the
# metrics address its READY gave: the bound one, or --metrics-advertise (flag
# or env AF_AGENTD_METRICS_ADVERTISE) for an agent scraped from elsewhere.
af_start adv1 "$AF_BIN/agentd" --id ag_adv1 --owner ivy --manager "$EP" --heartbeat-ms 500 \
  --metrics-listen 127.0.0.1:0 --metrics-advertise vm-1.hc.test:9090
AF_AGENTD_METRICS_ADVERTISE=198.51.100.7:9090 af_start adv2 "$AF_BIN/agentd" --id ag_adv2 \
  --owner ivy --manager "$EP" --heartbeat-ms 500
for _ in $(seq 100); do
  [ "$(curl -sf "127.0.0.1:$MET/sd" | jq length)" = 4 ] && break; sleep 0.05
done
sd=$(curl -sf "127.0.0.1:$MET/sd")
af_eq "$(echo "$sd" | jq length)" 4 "SD targets"
af_eq "$(echo "$sd" | jq -r --arg id "$mine" '.[] | select(.labels.agent_id==$id) | .labels.owner')" ivy "SD labels"
af_eq "$(echo "$sd" | jq -r '[.[] | select(.labels.agent_id | test("^ag_adv") | not) | .targets[0] | test("^127\\.0\\.0\\.1:[0-9]+$")] | all')" true "SD targets of agents that advertise nothing: $sd"
af_eq "$(echo "$sd" | jq -r '.[] | select(.labels.agent_id=="ag_adv1") | .targets | join(",")')" vm-1.hc.test:9090 "SD target of --metrics-advertise"
af_eq "$(echo "$sd" | jq -r '.[] | select(.labels.agent_id=="ag_adv2") | .targets | join(",")')" 198.51.100.7:9090 "SD target of AF_AGENTD_METRICS_ADVERTISE"
# Advertising does not move the listener: /metrics is still served where it is bound.
bound=$(grep -o 'event=agent_started id=ag_adv1 .* metrics=[0-9.:]*' "$AF_TMP/adv1.log" | grep -o 'metrics=[0-9.:]*' | cut -d= -f2)
af_get -sf "http://$bound/metrics" | grep -q '^agent_active_sessions 0' || af_fail "adv1 /metrics at bound $bound"

# Refusals: unknown verb (counted), verbs the manager does not serve, bad body.
out=$(mgr CHAT '{"session_id":"s"}') && af_fail "CHAT accepted"
af_eq "$(code "$out")" unknown_verb "CHAT to manager"
out=$(mgr FROBNICATE '{}') && af_fail "unknown verb accepted"
af_eq "$(code "$out")" unknown_verb "unknown verb"
out=$(mgr LIST '{"all":true}') && af_fail "LIST all without admin"
af_eq "$(code "$out")" forbidden "LIST all as user"
out=$(mgr SPAWN '{"user":"ivy","count":0}') && af_fail "count 0"
af_eq "$(code "$out")" invalid_request "count 0"
af_get -sf "127.0.0.1:$MET/metrics" | grep -q 'manager_requests_total{verb="CHAT",code="unknown_verb"} 1' \
  || af_fail "unknown verb not counted"

# Process provider spawn errors: an agent that exits at once, one never READY.
cat > "$AF_TMP/exits.sh" <<'SH'
#!/bin/sh
echo "agentd: cannot start (test)" >&2
exit 3
SH
cat > "$AF_TMP/never-ready.sh" <<'SH'
#!/bin/sh
while :; do sleep 0.1; done
SH
chmod +x "$AF_TMP/exits.sh" "$AF_TMP/never-ready.sh"
C2=$(af_free_port); M2=$(af_free_port); EP="tcp://127.0.0.1:$C2"
af_start mgr-exits "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$M2" \
  --agentd-path "$AF_TMP/exits.sh" --min-agents 0
af_wait_port "127.0.0.1:$M2"
out=$(mgr SPAWN '{"user":"kim"}') && af_fail "spawn of a crashing agent succeeded"
af_eq "$(code "$out")" spawn_failed "crashing agent"
echo "$out" | grep -q 'exited before READY: agentd exited with status 3' || af_fail "cause: $out"
C3=$(af_free_port); M3=$(af_free_port); EP="tcp://127.0.0.1:$C3"
af_start mgr-never "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$M3" \
  --agentd-path "$AF_TMP/never-ready.sh" --min-agents 0 --spawn-timeout-ms 1000 --kill-grace-ms 500
af_wait_port "127.0.0.1:$M3"
out=$(mgr SPAWN '{"user":"kim","count":2}') && af_fail "spawn of a silent agent succeeded"
af_eq "$(code "$out")" timeout "never READY"
echo "$out" | grep -q 'did not report READY within 1000 ms' || af_fail "cause: $out"
for _ in $(seq 30); do pgrep -f "^/bin/sh .*never-ready.sh" >/dev/null || break; sleep 0.1; done
pgrep -f "^/bin/sh .*never-ready.sh" >/dev/null && af_fail "timed-out agents still running"
af_eq "$(mgr LIST '{"user":"kim"}' | sed 's/^OK //' | jq '.agents | length')" 0 "no half-made agents"
echo "PASS manager_control"
