#!/usr/bin/env bash
# Runs every libFuzzer target: first replays, once each, every file of its seed
# corpus (tests/fuzz/corpus/<target>/) and of its crash reproducers
# (tests/fuzz/crashes/<target>/), so a fixed crash stays fixed; then fuzzes it
# for AF_FUZZ_SECONDS from those files. New corpus entries go to build/; a
# crash, leak, timeout or out-of-memory input found lands in
# tests/fuzz/crashes/<target>/ (commit it with the fix: it is replayed from then on).
set -u
cd "$(dirname "$0")/.."
build="${AF_BUILD:-build/fuzz}" secs="${AF_FUZZ_SECONDS:-60}" rc=0
crashes=tests/fuzz/crashes
# A hang is a finding (timeout-*), not a 20-minute wait; slow-but-finishing
# inputs are not written out (they would be replayed as if they were crashes).
opts=(-rss_limit_mb=2048 -timeout=30 -report_slow_units=100000)
for f in "$build"/fuzz-bin/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  work="$build/corpus/$name"; mkdir -p "$work" "$crashes/$name"
  seeds=(); for d in "tests/fuzz/corpus/$name" "$crashes/$name"; do [ -d "$d" ] && seeds+=("$d"); done
  mapfile -t files < <(find "${seeds[@]}" -type f ! -name '.*' 2>/dev/null | sort)
  if [ "${#files[@]}" -gt 0 ] &&
     ! "$f" "${opts[@]}" "${files[@]}" >"$build/$name.replay.log" 2>&1; then
    echo "[fuzz] $name FAILED replaying its corpus and crash reproducers (see $build/$name.replay.log):"
    tail -n 30 "$build/$name.replay.log" | sed 's/^/    /'; rc=1; continue
  fi
  if "$f" "${opts[@]}" -max_total_time="$secs" -max_len=65536 -print_final_stats=0 \
       -artifact_prefix="$crashes/$name/" "$work" "${seeds[@]}" >"$build/$name.log" 2>&1; then
    echo "[fuzz] $name ok: replayed ${#files[@]} files;" \
      "$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$build/$name.log" | tail -1)"
  else
    echo "[fuzz] $name FAILED (see $build/$name.log; reproducer in $crashes/$name/):"
    tail -n 30 "$build/$name.log" | sed 's/^/    /'; rc=1
  fi
done
# A reproducer whose target is gone would silently stop being checked.
for d in "$crashes"/*/; do
  [ -d "$d" ] || continue
  name=$(basename "$d")
  if [ ! -x "$build/fuzz-bin/$name" ] && [ -n "$(find "$d" -type f ! -name '.*' | head -1)" ]; then
    echo "[fuzz] $crashes/$name holds reproducers but $build/fuzz-bin/$name is not built"; rc=1
  fi
done
exit $rc
