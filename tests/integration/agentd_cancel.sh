#!/usr/bin/env bash
# agentd: CANCEL from the gateway aborts the upstream transfer at once (the fake
# sees the client go away, no more deltas arrive) and the cancelled turn stays
# out of the history.
. "$(dirname "$0")/lib.sh"
fake_port=$(af_free_port); mport=$(af_free_port); gport=$(af_free_port)
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port"
af_wait_port "127.0.0.1:$fake_port"
ANTHROPIC_API_KEY=sk-test-cancel af_start agentd "$AF_BIN/agentd" --id ag_cancel \
  --manager "tcp://127.0.0.1:$mport" --anthropic-base-url "http://127.0.0.1:$fake_port"
"$AF_BUILD/tests/integration/harness_agentd_fleet" --scenario cancel --manager-port "$mport" \
  --gateway-port "$gport" --fake "http://127.0.0.1:$fake_port"
echo "PASS agentd_cancel"
