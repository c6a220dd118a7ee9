#!/usr/bin/env bash
# Runs every libFuzzer target for AF_FUZZ_SECONDS each, starting from its seed
# corpus in tests/fuzz/corpus/<target>/ (new finds go to build/, not the repo).
set -u
cd "$(dirname "$0")/.."
build="${AF_BUILD:-build/fuzz}" secs="${AF_FUZZ_SECONDS:-60}" rc=0
for f in "$build"/fuzz-bin/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  work="$build/corpus/$name"; mkdir -p "$work"
  seeds="tests/fuzz/corpus/$name"; [ -d "$seeds" ] || seeds=""
  if "$f" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 \
       -artifact_prefix="$build/" "$work" $seeds >"$build/$name.log" 2>&1; then
    echo "[fuzz] $name ok: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$build/$name.log" | tail -1)"
  else
    echo "[fuzz] $name FAILED (see $build/$name.log):"; tail -n 30 "$build/$name.log" | sed 's/^/    /'; rc=1
  fi
done
exit $rc
