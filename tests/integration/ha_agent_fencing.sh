#!/usr/bin/env bash
# Agent-side fencing (issue #9, HA): an agentd that has heard fencing token 5 (in
# WELCOME) refuses a DRAIN carrying token 3 — a stale leader acting — with ERROR
# not_leader and keeps serving; the DRAIN carrying token 5 is obeyed (OK, drains, exits).
. "$(dirname "$0")/lib.sh"

H="$AF_BUILD/tests/integration/harness_agentd_fence"
[ -x "$H" ] || af_fail "missing $H"
[ -x "$AF_BIN/agentd" ] || af_fail "missing $AF_BIN/agentd"
MP=$(af_free_port)
af_start harness "$H" "tcp://127.0.0.1:$MP"; HPID=$AF_LAST_PID
af_start agent "$AF_BIN/agentd" --id ag_fence --manager "tcp://127.0.0.1:$MP" --heartbeat-ms 300 \
  --codec json
APID=$AF_LAST_PID
rc=0; wait "$HPID" || rc=$?
cat "$AF_TMP/harness.log" >&2
af_eq "$rc" 0 "harness verdict"
grep -q 'event=stale_leader_refused verb=DRAIN fence=3 newest=5' "$AF_TMP/agent.log" \
  || af_fail "agentd did not log the stale DRAIN"
for _ in $(seq 50); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$APID" 2>/dev/null && af_fail "agentd did not drain on the current leader's DRAIN"
[ "$(grep -c 'event=draining' "$AF_TMP/agent.log")" = 1 ] || af_fail "agentd drained $(grep -c 'event=draining' "$AF_TMP/agent.log") times, want once"
af_log "PASS ha_agent_fencing"
