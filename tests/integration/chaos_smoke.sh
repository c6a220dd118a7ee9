#!/usr/bin/env bash
# A short run of the chaos test (tests/chaos/chaos.py, `make chaos` runs the
# full one): the same kills (an agent, the manager, a gateway, half the
# agents) with 2.5 s of load between them. Passes when no request and no
# acknowledged turn was lost and the failures after each kill stay within the
# requests in flight at it.
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || af_fail "redis-server not installed"
CHAOS_SETTLE_S=2.5 CHAOS_WORKERS=6 AF_ROOT="$AF_ROOT" AF_BIN="$AF_BIN" \
  timeout --signal=TERM --kill-after=10 120 python3 "$AF_ROOT/tests/chaos/chaos.py" >"$AF_TMP/chaos.out" 2>&1 ||
  { cat "$AF_TMP/chaos.out" >&2; af_fail "chaos smoke run failed"; }
grep -v '^\[' "$AF_TMP/chaos.out" | tail -1 >&2
tail -1 "$AF_TMP/chaos.out" | grep -Eq '^requests=[0-9]+ ok=[0-9]+ failed=[0-9]+ lost=0 turns_lost=0$' ||
  af_fail "unexpected last line: $(tail -1 "$AF_TMP/chaos.out")"
