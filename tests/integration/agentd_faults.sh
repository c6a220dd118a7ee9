#!/usr/bin/env bash
# agentd: every injected upstream fault behaves as specified: 429/529/5xx and
# timeouts retried with backoff up to --max-retries, 400/401/403/404 not retried,
# the final error carries Anthropic's type, a stream failing midway ends with
# ERROR and leaves no partial turn; the per-session rate limit answers
# rate_limited with retry_after.
. "$(dirname "$0")/lib.sh"
fake_port=$(af_free_port); mport=$(af_free_port); gport=$(af_free_port)
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port"
af_wait_port "127.0.0.1:$fake_port"
ANTHROPIC_API_KEY=sk-test-faults af_start agentd "$AF_BIN/agentd" --id ag_faults \
  --manager "tcp://127.0.0.1:$mport" --anthropic-base-url "http://127.0.0.1:$fake_port" \
  --max-retries 3 --retry-base 0.05 --upstream-timeout-ms 1000 --rate-limit 5
"$AF_BUILD/tests/integration/harness_agentd_fleet" --scenario faults --manager-port "$mport" \
  --gateway-port "$gport" --fake "http://127.0.0.1:$fake_port"
echo "PASS agentd_faults"
