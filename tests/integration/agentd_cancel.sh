#!/usr/bin/env bash
# agentd: CANCEL from the gateway aborts the upstream transfer at once (the fake
# sees the client go away, no more deltas arrive) and the cancelled turn stays
# out of the history. The API key here comes from the manager's WELCOME (no
# ANTHROPIC_API_KEY in the agent's environment) and never reaches its log.
. "$(dirname "$0")/lib.sh"
fake_port=$(af_free_port); mport=$(af_free_port); gport=$(af_free_port)
key="sk-welcome-$(date +%s%N)"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port" --api-key "$key"
af_wait_port "127.0.0.1:$fake_port"
env -u ANTHROPIC_API_KEY "$AF_BIN/agentd" --id ag_cancel --manager "tcp://127.0.0.1:$mport" \
  --anthropic-base-url "http://127.0.0.1:$fake_port" --log-level debug >"$AF_TMP/agentd.log" 2>&1 &
_af_pids+=($!)
"$AF_BUILD/tests/integration/harness_agentd_fleet" --scenario cancel --manager-port "$mport" \
  --gateway-port "$gport" --fake "http://127.0.0.1:$fake_port" --welcome-key "$key"
if grep -q -- "$key" "$AF_TMP/agentd.log"; then af_fail "API key from WELCOME leaked into the log"; fi
grep -q 'event=api_key_from_manager' "$AF_TMP/agentd.log" || af_fail "agent did not take the key from WELCOME"
echo "PASS agentd_cancel"
