#!/usr/bin/env bash
# Autoscaler + the real manager (process provider, real agentd processes) on
# short intervals. Load: a stand-in agent owned by a user ("loadgen",
# harness_manager_agent) reporting 1,200 live sessions, next to 9 pool agentd:
# 1,200 sessions on 10 agents -> the autoscaler scales up (+50 %: 15 agents,
# i.e. a pool of 14), the manager spawns real agentd until the pool is 14;
# the sessions end (stand-in leaves) -> after the scale-down cooldown the
# autoscaler scales down and the manager drains pool agents.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_autoscaler.bash"
CTL=$(af_free_port); MET=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
stats() { "$CLIENT" "$EP" STATS '{}' 5000 | sed 's/^OK //'; }

af_start manager "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 9 --max-agents 30 --heartbeat-ms 300
af_wait_port "127.0.0.1:$MET"
for _ in $(seq 200); do [ "$(stats | jq .agents.ready)" = 9 ] && break; sleep 0.05; done
af_eq "$(stats | jq .agents.ready)" 9 "pool agentd ready"

af_start loadgen "$AF_BUILD/tests/integration/harness_manager_agent" --id ag_loadgen \
  --owner loadgen --manager "$EP" --heartbeat-ms 300 --sessions 1200
load_pid=$AF_LAST_PID
for _ in $(seq 100); do [ "$(stats | jq .sessions)" = 1200 ] && break; sleep 0.05; done
af_eq "$(stats | jq -c '[.agents.ready, .sessions, .pool]')" "[10,1200,9]" "1,200 sessions on 10 agents"

as_start autoscaler --manager "$EP" --interval-s 0.5 --cooldown-up-s 3 --cooldown-down-s 6 \
  --min-agents 10 --max-agents 30

# Scale-up: fleet 10 -> 15, the pool (the part SCALE moves) 9 -> 14.
for _ in $(seq 200); do [ "$(stats | jq '.pool')" = 14 ] && break; sleep 0.05; done
grep -q 'decision direction=up reason=utilization_high target=15 current=10 ' "$AF_TMP/autoscaler.log" \
  || af_fail "no scale-up decision"
grep -q 'scale pool target=14 (fleet target 15, 1 agents outside the pool)' "$AF_TMP/autoscaler.log" \
  || af_fail "pool target not derived"
af_eq "$(stats | jq .pool)" 14 "pool after the scale-up"
for _ in $(seq 200); do [ "$(stats | jq .agents.ready)" = 15 ] && break; sleep 0.05; done
af_eq "$(stats | jq .agents.ready)" 15 "real agentd spawned and ready"

# In band (1,200 on 15 = 80 %): no more scaling.
sleep 1.5
af_eq "$(stats | jq .pool)" 14 "pool while in band"

# Sessions end: the stand-in leaves (BYE). Scale-down waits the 6 s cooldown.
kill -TERM "$load_pid"
for _ in $(seq 100); do [ "$(stats | jq .sessions)" = 0 ] && break; sleep 0.05; done
af_eq "$(stats | jq .sessions)" 0 "sessions after the load left"
for _ in $(seq 300); do [ "$(stats | jq .pool)" -lt 14 ] && break; sleep 0.05; done
p=$(stats | jq .pool)
[ "$p" -lt 14 ] || af_fail "no scale-down within 15 s"
grep -q 'decision direction=down reason=utilization_low' "$AF_TMP/autoscaler.log" || af_fail "no down decision"
# The cooldown, from the autoscaler's own clock: first up to first down decision.
gap_ms=$(python3 - "$AF_TMP/autoscaler.log" <<'PY'
import re, sys
from datetime import datetime
ts = {}
for line in open(sys.argv[1]):
    m = re.match(r"ts=(\S+) .*decision direction=(up|down) ", line)
    if m and m.group(2) not in ts:
        ts[m.group(2)] = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
print(int((ts["down"] - ts["up"]).total_seconds() * 1000))
PY
)
[ "$gap_ms" -ge 6000 ] || af_fail "scale-down decided ${gap_ms} ms after the scale-up (cooldown 6 s)"
grep -q 'reason=cooldown' "$AF_TMP/autoscaler.log" || af_fail "no cooldown decision logged"
af_log "scale-up to pool 14, scale-down to pool $p decided ${gap_ms} ms later"
m=$(curl -sf "http://127.0.0.1:$AM/metrics")
grep -q '^autoscaler_decisions_total{direction="down",reason="utilization_low"} [1-9]' <<<"$m" || af_fail "down counter"
grep -q '^autoscaler_scale_requests_total{result="ok"} [2-9]' <<<"$m" || af_fail "ok SCALE counter"
echo PASS
