#!/usr/bin/env bash
# --predictive against the stand-in manager: sessions climb steadily (+240/s)
# on 20 agents; the forecast one lead (2 s) ahead crosses 80 % while the live
# utilization is still below it, so the SCALE comes early, with reason
# "forecast" — which the reactive rules alone can never produce.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_autoscaler.bash"
echo 1000 >"$AF_TMP/sessions"; : >"$AF_TMP/scale.log"
as_harness --agents 20 --spawn-delay-ms 300 --sessions-file "$AF_TMP/sessions" \
  --scale-log "$AF_TMP/scale.log"
as_start autoscaler --manager "tcp://127.0.0.1:$CTL" --interval-s 0.25 --predictive \
  --spawn-lead-s 2 --cooldown-up-s 60
am=$AM
sleep 1   # a few flat samples first: no trend, no action
af_eq "$(wc -c <"$AF_TMP/scale.log")" 0 "SCALE on flat load"
s=1000
while [ "$s" -lt 1590 ] && [ ! -s "$AF_TMP/scale.log" ]; do
  s=$((s + 30)); echo "$s" >"$AF_TMP/sessions.tmp"; mv "$AF_TMP/sessions.tmp" "$AF_TMP/sessions"
  sleep 0.125
done
[ -s "$AF_TMP/scale.log" ] || af_fail "no SCALE before utilization reached 80 % (sessions $s)"
read -r _ target reason <"$AF_TMP/scale.log"
case "$reason" in forecast:*) ;; *) af_fail "first SCALE reason '$reason', want forecast";; esac
line=$(grep -m1 'decision direction=up' "$AF_TMP/autoscaler.log")
util=$(sed -n 's/.* utilization=\([0-9.]*\) .*/\1/p' <<<"$line")
python3 -c "import sys; sys.exit(0 if float('$util') < 0.8 else 1)" || af_fail "scaled at utilization $util: not early"
grep -q 'reason=forecast' <<<"$line" || af_fail "decision line: $line"
[ "$target" -gt 20 ] || af_fail "target $target"
af_log "forecast scale-up to $target at utilization $util (sessions ~$s of 1,600 that trip the reactive rule)"
af_get -sf "http://127.0.0.1:$am/metrics" | grep -q '^autoscaler_decisions_total{direction="up",reason="forecast"} 1$' \
  || af_fail "forecast decision not counted"
echo PASS
