#!/usr/bin/env bash
# DELETE drains and destroys the agent: no process is left, LIST and GET no
# longer show it; another user's agent is not_found; a clean manager exit
# leaves no agentd behind.
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
echo "PASS manager_delete"
