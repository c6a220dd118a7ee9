#!/usr/bin/env bash
# Autoscaler policies side by side on the shipped load traces (simulator,
# deterministic): the table per trace, an SVG of demand vs capacity per policy
# in $AF_BUILD/bench/, and one summary line of predictive vs reactive and HPA.
set -eu
cd "$(dirname "$0")/.."
AF_BIN="${AF_BIN:-bin}" AF_BUILD="${AF_BUILD:-build}"
out="$AF_BUILD/bench"; mkdir -p "$out"
summary=()
for t in diurnal spike ramp; do
  "$AF_BIN/autoscaler" --simulate "bench/traces/$t.csv" --plot "$out/autoscaler_$t.svg" "$@"
  echo "plot: $out/autoscaler_$t.svg"; echo
  summary+=("$("$AF_BIN/autoscaler" --simulate "bench/traces/$t.csv" --json "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin); r, p, h = d["reactive"], d["predictive"], d["hpa"]
print("%s: over-capacity min predictive %.1f / reactive %.1f / hpa %.1f, agent-h %+.1f%% vs reactive" % (
    sys.argv[1], p["overload_minutes"], r["overload_minutes"], h["overload_minutes"],
    100.0 * (p["agent_hours"] / r["agent_hours"] - 1)))' "$t")")
done
( IFS=';'; echo "autoscaler: ${summary[*]}" )
