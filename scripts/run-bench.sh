#!/usr/bin/env bash
# Runs every benchmark driver (bench/*.sh). Each prints side-by-side figures and
# ends with one summary line; targets are checked by reading those lines, never
# by timed unit tests. Pass names to run a subset: scripts/run-bench.sh agentd
set -u
cd "$(dirname "$0")/.."
export AF_BIN="${AF_BIN:-bin}" AF_BUILD="${AF_BUILD:-build}" AF_ROOT="$PWD"
names=("$@")
[ "${#names[@]}" -eq 0 ] && for f in bench/*.sh; do [ -f "$f" ] && names+=("$(basename "$f" .sh)"); done
rc=0
for n in "${names[@]}"; do
  echo "== bench/$n"
  bash "bench/$n.sh" || { echo "bench/$n failed"; rc=1; }
done
exit $rc
