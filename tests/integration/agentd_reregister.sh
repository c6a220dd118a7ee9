#!/usr/bin/env bash
# agentd: chats keep working while the manager is silent; when the manager comes
# back without knowing the agent (restart), the agent sends READY again with its
# owner, spec and live sessions; GATEWAYS adds a gateway the agent then serves
# and removing it from the list disconnects it; a DRAIN from the manager is answered OK, lets
# the stream in flight finish, then BYE {reason: drained} and exit 0.
. "$(dirname "$0")/lib.sh"
fake_port=$(af_free_port); mport=$(af_free_port); gport=$(af_free_port); gport2=$(af_free_port)
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port"
af_wait_port "127.0.0.1:$fake_port"
ANTHROPIC_API_KEY=sk-test-rereg af_start agentd "$AF_BIN/agentd" --id ag_rereg --owner alice \
  --manager "tcp://127.0.0.1:$mport" --anthropic-base-url "http://127.0.0.1:$fake_port"
agent_pid=$AF_LAST_PID
"$AF_BUILD/tests/integration/harness_agentd_fleet" --scenario reregister --manager-port "$mport" \
  --gateway-port "$gport" --gateway2-port "$gport2" --fake "http://127.0.0.1:$fake_port"
rc=0; wait "$agent_pid" || rc=$?
af_eq "$rc" 0 "agentd exit status after DRAIN"
echo "PASS agentd_reregister"
