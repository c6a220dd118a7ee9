#!/usr/bin/env bash
# agentd: SHUTDOWN from the manager exits at once: the stream in flight ends
# with ERROR cancelled, its upstream transfer is aborted (the fake sees it), the
# agent says BYE {reason: shutdown} and exits 0. Before that: an idle session
# expires after --session-ttl (1 s here).
. "$(dirname "$0")/lib.sh"
fake_port=$(af_free_port); mport=$(af_free_port); gport=$(af_free_port)
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port"
af_wait_port "127.0.0.1:$fake_port"
ANTHROPIC_API_KEY=sk-test-shutdown af_start agentd "$AF_BIN/agentd" --id ag_shutdown \
  --manager "tcp://127.0.0.1:$mport" --anthropic-base-url "http://127.0.0.1:$fake_port" --session-ttl 1
agent_pid=$AF_LAST_PID
"$AF_BUILD/tests/integration/harness_agentd_fleet" --scenario shutdown --manager-port "$mport" \
  --gateway-port "$gport" --fake "http://127.0.0.1:$fake_port"
rc=0; wait "$agent_pid" || rc=$?
af_eq "$rc" 0 "agentd exit status after SHUTDOWN"
echo "PASS agentd_shutdown"
