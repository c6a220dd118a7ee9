#!/usr/bin/env bash
# agentd: SIGTERM drains: streams in flight finish, new CHATs get `draining`,
# the agent says BYE {reason: sigterm} to the manager and exits 0. This agent
# speaks the JSON codec (the others CBOR), so both wire forms stay covered.
. "$(dirname "$0")/lib.sh"
fake_port=$(af_free_port); mport=$(af_free_port); gport=$(af_free_port)
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port"
af_wait_port "127.0.0.1:$fake_port"
ANTHROPIC_API_KEY=sk-test-drain af_start agentd "$AF_BIN/agentd" --id ag_drain \
  --manager "tcp://127.0.0.1:$mport" --anthropic-base-url "http://127.0.0.1:$fake_port" --codec json
agent_pid=$AF_LAST_PID
"$AF_BUILD/tests/integration/harness_agentd_fleet" --scenario drain --manager-port "$mport" \
  --gateway-port "$gport" --fake "http://127.0.0.1:$fake_port" --agent-pid "$agent_pid"
rc=0; wait "$agent_pid" || rc=$?
af_eq "$rc" 0 "agentd exit status after drain"
grep -q 'event=drained reason=sigterm' "$AF_TMP/agentd.log" || af_fail "no drained line in the log"
echo "PASS agentd_drain"
