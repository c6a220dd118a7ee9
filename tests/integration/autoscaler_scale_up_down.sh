#!/usr/bin/env bash
# Autoscaler against a stand-in manager (harness_autoscaler_manager) on short
# intervals: 1,200 sessions on 10 agents -> one SCALE up by a +50 % step (15);
# no second scale-up inside the cooldown; sessions end -> SCALE down only after
# the scale-down cooldown; metrics and decision logs show inputs and reasons;
# SIGTERM ends it cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_autoscaler.bash"

echo 1200 >"$AF_TMP/sessions"
: >"$AF_TMP/scale.log"
as_harness --agents 10 --spawn-delay-ms 300 --sessions-file "$AF_TMP/sessions" \
  --scale-log "$AF_TMP/scale.log"
as_start autoscaler --manager "tcp://127.0.0.1:$CTL" --interval-s 0.25 --cooldown-up-s 1.5 \
  --cooldown-down-s 3 --request-timeout-s 1
as_pid=$AS_PID am=$AM

# Scale-up: 1,200 sessions want 12 agents; 10 hold 1,000 (100 %): one step, 15.
for _ in $(seq 100); do [ -s "$AF_TMP/scale.log" ] && break; sleep 0.05; done
[ -s "$AF_TMP/scale.log" ] || af_fail "no SCALE within 5 s"
read -r t_up target reason <"$AF_TMP/scale.log"
af_eq "$target" 15 "first SCALE target"
case "$reason" in utilization_high:*) ;; *) af_fail "reason '$reason'";; esac
grep -q 'decision direction=up reason=utilization_high target=15 current=10 ready=10 spawning=0 draining=0 sessions=1000 utilization=1.000' \
  "$AF_TMP/autoscaler.log" || af_fail "decision log line with inputs missing"

# 1,200 on 15 agents is 80 %: in band, nothing more (and nothing inside the cooldown).
sleep 2
af_eq "$(wc -l <"$AF_TMP/scale.log")" 1 "SCALE count while in band"
m=$(curl -sf "http://127.0.0.1:$am/metrics")
grep -q '^autoscaler_current_agents 15$' <<<"$m" || af_fail "current_agents: $(grep current_agents <<<"$m")"
grep -q '^autoscaler_desired_agents 15$' <<<"$m" || af_fail "desired_agents"
grep -Eq '^autoscaler_utilization_ratio 0\.80*[0-9]?$' <<<"$m" || af_fail "utilization: $(grep utilization_ratio <<<"$m")"
grep -q '^autoscaler_decisions_total{direction="up",reason="utilization_high"} 1$' <<<"$m" || af_fail "up decision counter"
grep -q '^autoscaler_decisions_total{direction="none",reason="in_band"} [1-9]' <<<"$m" || af_fail "in_band counter"
grep -q '^autoscaler_scale_requests_total{result="ok"} 1$' <<<"$m" || af_fail "scale ok counter"
ts=$(sed -n 's/^autoscaler_last_evaluation_timestamp_seconds \([0-9.e+]*\)$/\1/p' <<<"$m")
python3 -c "import sys,time; sys.exit(0 if abs(time.time()-float('$ts'))<5 else 1)" || af_fail "stale evaluation timestamp $ts"

# Sessions end: a scale-down, but not before 3 s after the scale-up.
echo 0 >"$AF_TMP/sessions"
for _ in $(seq 200); do [ "$(wc -l <"$AF_TMP/scale.log")" -ge 2 ] && break; sleep 0.05; done
[ "$(wc -l <"$AF_TMP/scale.log")" -ge 2 ] || af_fail "no scale-down within 10 s"
read -r t_down target reason < <(sed -n 2p "$AF_TMP/scale.log")
case "$reason" in utilization_low:*) ;; *) af_fail "down reason '$reason'";; esac
[ "$target" -lt 15 ] && [ "$target" -ge 10 ] || af_fail "down target $target"
gap=$((t_down - t_up))
[ "$gap" -ge 3000 ] || af_fail "scale-down ${gap} ms after the scale-up: inside the 3 s cooldown"
af_log "scale-up to 15, scale-down to $target after ${gap} ms"
grep -q 'reason=cooldown' "$AF_TMP/autoscaler.log" || af_fail "no cooldown decision logged"

# Clean shutdown on SIGTERM.
kill -TERM "$as_pid"
for _ in $(seq 50); do kill -0 "$as_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$as_pid" 2>/dev/null && af_fail "autoscaler ignored SIGTERM"
wait "$as_pid" || af_fail "autoscaler exit status $?"
grep -q 'autoscaler stopped' "$AF_TMP/autoscaler.log" || af_fail "no shutdown line"
echo PASS
