#!/usr/bin/env bash
# A user spawns 50 real agentd agents; the 51st is refused with quota_exceeded;
# bad specs are refused naming the field; the refusal is counted.
. "$(dirname "$0")/lib.sh"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
CTL=$(af_free_port); MET=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
mgr() { "$CLIENT" "$EP" "$@" 60000; }

af_start manager "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 0 --quota 50 --heartbeat-ms 1000
af_wait_port "127.0.0.1:$MET"

start=$(date +%s.%N)
out=$(mgr SPAWN '{"user":"alice","spec":{"cores":1,"memory_mb":512,"image":"agentd:latest"},"count":50}') \
  || af_fail "SPAWN of 50 failed: $out"
secs=$(echo "$(date +%s.%N) - $start" | bc)
af_log "50 agents READY in ${secs}s"
af_eq "$(echo "${out#OK }" | jq '.agents | length')" 50 "agents in SPAWN reply"
af_eq "$(echo "${out#OK }" | jq -r '[.agents[].status] | unique | join(",")')" ready "statuses"
af_eq "$(echo "${out#OK }" | jq -r '.agents[0].url | startswith("/v1/agents/ag_")')" true "url shape"
# Real processes: one agentd per agent.
n=$(pgrep -f -- "--manager $EP" | wc -l || true)
af_eq "$n" 50 "agentd processes"

out=$(mgr SPAWN '{"user":"alice"}') && af_fail "51st spawn succeeded: $out"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" quota_exceeded "51st agent"
# Another user is not affected by alice's quota.
out=$(mgr SPAWN '{"user":"bob"}') || af_fail "bob's spawn failed: $out"

out=$(mgr SPAWN '{"user":"bob","spec":{"cores":9}}') && af_fail "cores 9 accepted"
echo "$out" | grep -q 'spec.cores' || af_fail "error does not name spec.cores: $out"
out=$(mgr SPAWN '{"user":"bob","spec":{"memory_mb":100}}') && af_fail "memory 100 accepted"
echo "$out" | grep -q 'spec.memory_mb' || af_fail "error does not name spec.memory_mb: $out"
out=$(mgr SPAWN '{"user":"bob","spec":{"image":"ubuntu:latest"}}') && af_fail "image accepted"
echo "$out" | grep -q 'spec.image' || af_fail "error does not name spec.image: $out"
af_eq "$(echo "${out#ERROR }" | jq -r .code)" invalid_request "bad spec code"

af_eq "$(mgr LIST '{"user":"alice"}' | sed 's/^OK //' | jq '.agents | length')" 50 "alice's LIST"
metrics=$(curl -sf "127.0.0.1:$MET/metrics")
echo "$metrics" | grep -q '^manager_quota_rejections_total 1$' || af_fail "quota rejection not counted"
echo "$metrics" | grep -q '^manager_agents{state="ready"} 51$' || af_fail "manager_agents ready != 51"
echo "$metrics" | grep -q 'manager_requests_total{verb="SPAWN",code="quota_exceeded"} 1' || af_fail "requests_total"
echo "PASS manager_quota"
