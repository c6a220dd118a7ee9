#!/usr/bin/env bash
# A short run of the chaos test (tests/chaos/chaos.py, `make chaos` runs the
# full one): the same kills (an agent, the manager, Redis, a gateway, the
# autoscaler, half the agents) with 2.5 s of load between them. Passes when
# every daemon kind was killed, the autoscaler scaled the fleet under the load
# and evaluated again after its restart, no request and no acknowledged turn
# was lost and the failures after each kill stay within the requests in flight
# at it.
. "$(dirname "$0")/lib.sh"
af_need_bins fake-anthropic manager agentd gateway autoscaler
command -v redis-server >/dev/null || af_fail "redis-server not installed"
CHAOS_SETTLE_S=2.5 CHAOS_WORKERS=6 AF_ROOT="$AF_ROOT" AF_BIN="$AF_BIN" \
  timeout --signal=TERM --kill-after=10 120 python3 "$AF_ROOT/tests/chaos/chaos.py" >"$AF_TMP/chaos.out" 2>&1 ||
  { cat "$AF_TMP/chaos.out" >&2; af_fail "chaos smoke run failed"; }
grep -v '^\[' "$AF_TMP/chaos.out" | tail -1 >&2
for k in "agent pid" manager redis gateway1 autoscaler "half the agents"; do
  grep -q "kill -9 $k " "$AF_TMP/chaos.out" || af_fail "no kill -9 of $k"
done
grep -q 'autoscaler scaled the fleet 4 -> 6 agents' "$AF_TMP/chaos.out" || af_fail "no scale-up"
grep -q 'the restarted autoscaler evaluates again' "$AF_TMP/chaos.out" || af_fail "autoscaler not back"
tail -1 "$AF_TMP/chaos.out" | grep -Eq '^requests=[0-9]+ ok=[0-9]+ failed=[0-9]+ lost=0 turns_lost=0$' ||
  af_fail "unexpected last line: $(tail -1 "$AF_TMP/chaos.out")"
