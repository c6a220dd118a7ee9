#!/usr/bin/env bash
# agentd: 100 concurrent streaming sessions against bin/fake-anthropic complete
# with the right text and usage; the 101st session gets `capacity`; turn two
# carries the history; metrics count sessions and tokens; the API key never
# appears in the agent's log.
. "$(dirname "$0")/lib.sh"
fake_port=$(af_free_port); mport=$(af_free_port); gport=$(af_free_port)
key="sk-test-$(date +%s%N)"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port" --api-key "$key"
af_wait_port "127.0.0.1:$fake_port"
ANTHROPIC_API_KEY="$key" ANTHROPIC_BASE_URL="http://127.0.0.1:$fake_port" \
  af_start agentd "$AF_BIN/agentd" --id ag_streams --manager "tcp://127.0.0.1:$mport" \
    --capacity 100 --log-level info
agent_pid=$AF_LAST_PID
"$AF_BUILD/tests/integration/harness_agentd_fleet" --scenario streams --manager-port "$mport" \
  --gateway-port "$gport" --fake "http://127.0.0.1:$fake_port" --n 100 --capacity 100
kill -0 "$agent_pid" || af_fail "agentd died"
# The upstream connections of those concurrent calls stay open for the next
# ones (--upstream-idle-connections, 100): an HTTP/1.1 upstream would
# otherwise see a new TCP (and TLS) handshake for most calls.
hexport=$(printf '%04X' "$fake_port")
kept=$(awk -v p=":$hexport" '$3 ~ p"$" && $4 == "01"' /proc/net/tcp | wc -l)
[ "$kept" -ge 50 ] || af_fail "agentd keeps $kept upstream connections after 100 concurrent calls, want >= 50"
if grep -q -- "$key" "$AF_TMP/agentd.log"; then af_fail "API key leaked into the agent log"; fi
if tr '\0' ' ' <"/proc/$agent_pid/cmdline" | grep -q -- "$key"; then af_fail "API key in argv"; fi
echo "PASS agentd_streams"
