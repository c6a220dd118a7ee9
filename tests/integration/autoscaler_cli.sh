#!/usr/bin/env bash
# The autoscaler's command line: --simulate on the shipped traces (table, JSON
# keyed by policy, SVG plot), clear refusals of bad traces and bad settings,
# --check-config, --dry-run (decides and logs, sends no SCALE), and a manager
# that is not there (evaluations skipped and counted, no crash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_autoscaler.bash"
as="$AF_BIN/autoscaler"
tr="$AF_ROOT/bench/traces"

# Simulator: table and JSON.
out=$("$as" --simulate "$tr/spike.csv")
for row in agent-hours 'minutes over capacity' 'peak sessions refused' 'minutes below 30% util.' 'scaling actions'; do
  grep -q "^$row" <<<"$out" || af_fail "report row '$row' missing"
done
grep -q 'reactive *predictive *hpa' <<<"$out" || af_fail "report header"
json=$("$as" --simulate "$tr/spike.csv" --json --spawn-delay 90 --plot "$AF_TMP/spike.svg")
python3 - "$json" <<'PY' || af_fail "simulate --json shape: $json"
import json, sys
d = json.loads(sys.argv[1])
assert set(d) == {"reactive", "predictive", "hpa"}, d.keys()
for k, v in d.items():
    for f in ("agent_hours", "overload_minutes", "refused_peak", "underutilized_minutes", "actions"):
        assert isinstance(v[f], (int, float)), (k, f)
assert d["predictive"]["overload_minutes"] < d["reactive"]["overload_minutes"]
PY
grep -q '</svg>' "$AF_TMP/spike.svg" || af_fail "no SVG written"
# Flags reach the simulator: a longer spawn delay means more overload.
o60=$("$as" --simulate "$tr/spike.csv" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reactive"]["overload_minutes"])')
o180=$("$as" --simulate "$tr/spike.csv" --json --spawn-delay 180 | python3 -c 'import json,sys; print(json.load(sys.stdin)["reactive"]["overload_minutes"])')
python3 -c "import sys; sys.exit(0 if $o180 > $o60 else 1)" || af_fail "spawn delay ignored ($o60 vs $o180)"
# Deterministic: the same run twice prints the same bytes.
a=$("$as" --simulate "$tr/diurnal.csv" --json --aggressive); b=$("$as" --simulate "$tr/diurnal.csv" --json --aggressive)
af_eq "$a" "$b" "simulator output differs between runs"

# Bad traces and settings: exit non-zero with a message naming the problem.
printf '0,10\n0,20\n' >"$AF_TMP/bad.csv"
if "$as" --simulate "$AF_TMP/bad.csv" 2>"$AF_TMP/err"; then af_fail "bad trace accepted"; fi
grep -q 'line 2: seconds must increase' "$AF_TMP/err" || af_fail "bad trace message: $(cat "$AF_TMP/err")"
if "$as" --simulate /nonexistent.csv 2>"$AF_TMP/err"; then af_fail "missing trace accepted"; fi
grep -q 'nonexistent.csv' "$AF_TMP/err" || af_fail "missing trace message"
rc=0; "$as" --down-threshold 0.9 --check-config 2>"$AF_TMP/err" || rc=$?
af_eq "$rc" 2 "exit status for a bad threshold"
grep -q 'down-threshold' "$AF_TMP/err" || af_fail "threshold message: $(cat "$AF_TMP/err")"
rc=0; "$as" --source carrier-pigeon --check-config 2>"$AF_TMP/err" || rc=$?
af_eq "$rc" 2 "exit status for a bad source"
rc=0; "$as" --max-agents 5 --check-config 2>"$AF_TMP/err" || rc=$?
af_eq "$rc" 2 "exit status for max < min"
af_eq "$("$as" --check-config --predictive --aggressive)" "configuration OK" "check-config"
AF_AUTOSCALER_MIN_AGENTS=abc "$as" --check-config 2>"$AF_TMP/err" && af_fail "bad env accepted"
grep -q 'AF_AUTOSCALER_MIN_AGENTS' "$AF_TMP/err" || af_fail "env error does not name the variable"

# Dry run against the stand-in manager: decisions logged, no SCALE sent.
echo 5000 >"$AF_TMP/sessions"; : >"$AF_TMP/scale.log"
as_harness --agents 20 --sessions-file "$AF_TMP/sessions" --scale-log "$AF_TMP/scale.log" --codec json
as_start dry --manager "tcp://127.0.0.1:$CTL" --interval-s 0.2 --dry-run --aggressive \
  --predictive --codec json
for _ in $(seq 50); do grep -q 'decision direction=up' "$AF_TMP/dry.log" && break; sleep 0.1; done
grep -q 'decision direction=up reason=utilization_high target=30 current=20 .* dry_run=1' "$AF_TMP/dry.log" \
  || af_fail "dry-run decision not logged"
sleep 0.5
af_eq "$(wc -c <"$AF_TMP/scale.log")" 0 "dry-run sent a SCALE"

# No manager at all: skipped evaluations are counted; the daemon stays up.
dead=$(af_free_port)
as_start nomgr --manager "tcp://127.0.0.1:$dead" --interval-s 0.1 --request-timeout-s 0.3
pid=$AS_PID am2=$AM
sleep 1
kill -0 "$pid" || af_fail "autoscaler died without a manager"
af_get -sf "http://127.0.0.1:$am2/metrics" | grep -q '^autoscaler_source_errors_total{source="manager"} [1-9]' \
  || af_fail "manager errors not counted"
# Port already taken: a clear error, exit 1.
rc=0; "$as" --manager "tcp://127.0.0.1:$dead" --metrics-listen "127.0.0.1:$am2" 2>"$AF_TMP/err" || rc=$?
af_eq "$rc" 1 "exit status when the metrics port is taken"
echo PASS
