#!/usr/bin/env bash
# Runs every test: cmocka unit tests, integration scenarios (one file each, real
# processes on loopback) and a short libFuzzer smoke run of every target.
# Prints one summary line at the end: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
export AF_BIN="${AF_BIN:-bin}" AF_BUILD="${AF_BUILD:-build}"
export AF_ROOT="$PWD"
only="${AF_ONLY:-}"
pass=0 fail=0 failed_names=()
logdir="$AF_BUILD/test-logs"; mkdir -p "$logdir"

if [ -z "$only" ] || [ "$only" = unit ]; then
  for t in "$AF_BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before the summary
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -gt 0 ] && failed_names+=("unit/$name")
  done
fi

if [ -z "$only" ] || [ "$only" = integration ]; then
  for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    start=$(date +%s)
    timeout --kill-after=10 "${AF_TEST_TIMEOUT:-300}" bash "$t" >"$logdir/$name.log" 2>&1; rc=$?
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
      pass=$((pass + 1)); echo "[integration] PASS $name (${secs}s)"
    else
      fail=$((fail + 1)); failed_names+=("integration/$name")
      echo "[integration] FAIL $name rc=$rc (${secs}s); last lines of $logdir/$name.log:"
      tail -n 40 "$logdir/$name.log" | sed 's/^/    /'
    fi
  done
fi

if { [ -z "$only" ] || [ "$only" = fuzz ]; } && [ -z "${AF_SKIP_FUZZ:-}" ] && [ -d build/fuzz/fuzz-bin ]; then
  if AF_BUILD=build/fuzz bash scripts/run-fuzz.sh; then pass=$((pass + 1)); echo "[fuzz] PASS smoke"
  else fail=$((fail + 1)); failed_names+=("fuzz"); echo "[fuzz] FAIL"; fi
fi

[ "${#failed_names[@]}" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
