#!/usr/bin/env bash
# Autoscaler policies side by side on the shipped load traces (simulator,
# deterministic): the table per trace, an SVG of demand vs capacity per policy
# in $AF_BUILD/bench/, a sweep over ramps of every steepness (2,000 -> 50,000,
# linear and exponential, 10 min .. 8 h), and one summary line of predictive
# vs reactive and HPA on the shipped traces.
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
echo "ramp sweep: over-capacity minutes reactive / predictive / hpa, predictive agent-hours vs reactive"
python3 bench/traces/gen_traces.py --ramp-sweep "$out/ramps"
for f in "$out"/ramps/ramp_*.csv; do
  "$AF_BIN/autoscaler" --simulate "$f" --json "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin); r, p, h = d["reactive"], d["predictive"], d["hpa"]
print("  %-28s %6.2f / %6.2f / %6.2f   %+6.1f%%" % (sys.argv[1], r["overload_minutes"], p["overload_minutes"],
      h["overload_minutes"], 100.0 * (p["agent_hours"] / r["agent_hours"] - 1)))' "$(basename "$f" .csv)"
done
( IFS=';'; echo "autoscaler: ${summary[*]}" )
