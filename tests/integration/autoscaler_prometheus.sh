#!/usr/bin/env bash
# Autoscaler with --source prometheus against a real Prometheus server that
# scrapes the stand-in manager's /metrics (agent_active_sessions,
# hypercore_agent_active_count): the queries go through Prometheus' HTTP API
# (libcurl on the loop), the decision uses Prometheus' numbers (sessions,
# agents, request rate, CPU, memory), SCALE goes to the manager. Then Prometheus is stopped: evaluations are skipped and
# counted, the daemon stays up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_autoscaler.bash"
command -v prometheus >/dev/null || af_fail "prometheus not installed (apt-get install prometheus)"

pp=$(af_free_port)
echo 1200 >"$AF_TMP/sessions"
: >"$AF_TMP/scale.log"
as_harness --agents 10 --spawn-delay-ms 300 --sessions-file "$AF_TMP/sessions" \
  --scale-log "$AF_TMP/scale.log"
hm=$HM ctl=$CTL

cat >"$AF_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: harness
    static_configs:
      - targets: ['127.0.0.1:$hm']
YML
af_start prometheus prometheus --config.file="$AF_TMP/prometheus.yml" \
  --storage.tsdb.path="$AF_TMP/tsdb" --web.listen-address="127.0.0.1:$pp"
prom_pid=$AF_LAST_PID
af_wait_port "127.0.0.1:$pp" 30
q() { curl -sfG "http://127.0.0.1:$pp/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 150); do
  q 'sum(agent_active_sessions)' 2>/dev/null | grep -q '"1000"' && break; sleep 0.1
done
q 'sum(agent_active_sessions)' | grep -q '"1000"' || af_fail "prometheus never scraped the harness"

# Time is compressed (0.5 s evaluations), so the forecast horizon is too: a
# 60 s lead over half-second samples would read the scrape-to-scrape jitter
# as a trend and act on it.
as_start autoscaler --source prometheus --prometheus-url "http://127.0.0.1:$pp" \
  --manager "tcp://127.0.0.1:$ctl" --interval-s 0.5 --cooldown-up-s 30 --request-timeout-s 2 \
  --predictive --spawn-lead-s 1
as_pid=$AS_PID am=$AM
for _ in $(seq 100); do [ -s "$AF_TMP/scale.log" ] && break; sleep 0.05; done
[ -s "$AF_TMP/scale.log" ] || af_fail "no SCALE within 5 s"
read -r _ target reason <"$AF_TMP/scale.log"
af_eq "$target" 15 "SCALE target from Prometheus' numbers"
grep -q 'decision direction=up reason=utilization_high target=15 current=10 ready=10 spawning=0 draining=0 sessions=1000 .*source=prometheus' \
  "$AF_TMP/autoscaler.log" || af_fail "no prometheus-sourced decision logged"
# The agent count follows the fleet once Prometheus scrapes again.
for _ in $(seq 100); do
  grep -q 'current=15 ready=15 .*sessions=1200 .*source=prometheus' "$AF_TMP/autoscaler.log" && break; sleep 0.1
done
grep -q 'current=15 ready=15 .*sessions=1200 .*source=prometheus' "$AF_TMP/autoscaler.log" \
  || af_fail "autoscaler never saw 15 agents / 1,200 sessions through Prometheus"

# The request rate comes through too. rate(agent_requests_total[5m]) over a
# server that has scraped for seconds only covers part of its window, so it
# reads low and climbs (60 requests/s once 5 minutes are in): assert it is
# there and rising, not its final value.
for _ in $(seq 100); do
  [ "$(grep -c 'rps=[0-9]*\.[0-9]* .*source=prometheus' "$AF_TMP/autoscaler.log")" -ge 6 ] && \
    grep -q 'rps=[0-9]*\.[1-9][0-9]* .*source=prometheus\|rps=[1-9][0-9]*\.[0-9]* .*source=prometheus' "$AF_TMP/autoscaler.log" && break
  sleep 0.1
done
mapfile -t rates < <(grep -o 'rps=[0-9]*\.[0-9]*' "$AF_TMP/autoscaler.log" | cut -d= -f2 | grep -v '^0\.00$' | grep -v '^-')
[ "${#rates[@]}" -ge 2 ] || af_fail "no request rate from rate(agent_requests_total[5m])"
python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; sys.exit(0 if 0 < a[0] < a[-1] < 80 else 1)" "${rates[@]}" \
  || af_fail "request rate not rising within (0, 80): ${rates[*]}"
grep -q 'cpu_cores=[0-9]*\.[0-9]* memory_bytes=[1-9][0-9]* ' "$AF_TMP/autoscaler.log" || af_fail "no CPU/memory figures"

# Prometheus goes away: evaluations are skipped and counted, no crash.
kill -TERM "$prom_pid"
for _ in $(seq 100); do kill -0 "$prom_pid" 2>/dev/null || break; sleep 0.1; done
for _ in $(seq 60); do
  af_get -sf "http://127.0.0.1:$am/metrics" | grep -q '^autoscaler_source_errors_total{source="prometheus"} [1-9]' && break
  sleep 0.1
done
af_get -sf "http://127.0.0.1:$am/metrics" | grep -q '^autoscaler_source_errors_total{source="prometheus"} [1-9]' \
  || af_fail "source errors not counted"
kill -0 "$as_pid" || af_fail "autoscaler died without Prometheus"
af_eq "$(wc -l <"$AF_TMP/scale.log")" 1 "SCALE count"
echo PASS
