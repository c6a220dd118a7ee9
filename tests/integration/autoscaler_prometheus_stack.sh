#!/usr/bin/env bash
# --source prometheus on the running stack: the real manager (process
# provider, 10 real agentd) and a real Prometheus that scrapes the manager
# (hypercore_agent_active_count), every agent found through the manager's /sd
# (http_sd: agent_active_sessions, agent_requests_total) and a load source
# standing in for busy agents (the harness's /metrics: 1,200 live sessions).
# 1,200 sessions on 10 agents -> SCALE 15 -> the manager spawns agentd and
# Prometheus sees 15; the load ends -> after the cooldown, SCALE down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_autoscaler.bash"
command -v prometheus >/dev/null || af_fail "prometheus not installed (apt-get install prometheus)"
CTL=$(af_free_port); MET=$(af_free_port); PP=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
stats() { "$CLIENT" "$EP" STATS '{}' 5000 | sed 's/^OK //'; }

af_start manager "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 10 --max-agents 30 --heartbeat-ms 300
af_wait_port "127.0.0.1:$MET"
for _ in $(seq 200); do [ "$(stats | jq .agents.ready)" = 10 ] && break; sleep 0.05; done
af_eq "$(stats | jq .agents.ready)" 10 "pool agentd ready"

echo 1200 >"$AF_TMP/sessions"; : >"$AF_TMP/scale.log"
as_harness --agents 20 --sessions-file "$AF_TMP/sessions" --scale-log "$AF_TMP/scale.log"

cat >"$AF_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: manager
    static_configs:
      - targets: ['127.0.0.1:$MET']
  - job_name: agents
    http_sd_configs:
      - url: 'http://127.0.0.1:$MET/sd'
        refresh_interval: 1s
  - job_name: load
    static_configs:
      - targets: ['127.0.0.1:$HM']
    metric_relabel_configs:   # the stand-in's own fleet is not this stack's
      - source_labels: [__name__]
        regex: hypercore_agent_active_count
        action: drop
YML
af_start prometheus prometheus --config.file="$AF_TMP/prometheus.yml" \
  --storage.tsdb.path="$AF_TMP/tsdb" --web.listen-address="127.0.0.1:$PP"
af_wait_port "127.0.0.1:$PP" 30
q() { curl -sfG "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "none"'; }
for _ in $(seq 200); do
  [ "$(q 'sum(agent_active_sessions)')" = 1200 ] && [ "$(q 'sum(hypercore_agent_active_count)')" = 10 ] && \
    [ "$(q 'count(up{job="agents"} == 1)')" = 10 ] && break
  sleep 0.1
done
af_eq "$(q 'count(up{job="agents"} == 1)')" 10 "agentd scraped through the manager's /sd"
af_eq "$(q 'sum(agent_active_sessions)')" 1200 "sessions in Prometheus"
af_eq "$(q 'sum(hypercore_agent_active_count)')" 10 "agents in Prometheus"

as_start autoscaler --source prometheus --prometheus-url "http://127.0.0.1:$PP" --manager "$EP" \
  --interval-s 0.5 --cooldown-up-s 3 --cooldown-down-s 6 --min-agents 10 --max-agents 30
for _ in $(seq 200); do [ "$(stats | jq .pool)" = 15 ] && break; sleep 0.05; done
af_eq "$(stats | jq .pool)" 15 "pool after the Prometheus-driven scale-up"
grep -q 'decision direction=up reason=utilization_high target=15 current=10 ready=10 .*sessions=1200 .*source=prometheus' \
  "$AF_TMP/autoscaler.log" || af_fail "no prometheus-sourced scale-up decision"
for _ in $(seq 200); do [ "$(q 'sum(hypercore_agent_active_count)')" = 15 ] && break; sleep 0.1; done
af_eq "$(q 'sum(hypercore_agent_active_count)')" 15 "Prometheus sees the new agents"
for _ in $(seq 100); do grep -q 'current=15 ready=15 .*source=prometheus' "$AF_TMP/autoscaler.log" && break; sleep 0.1; done
grep -q 'decision direction=none reason=in_band target=15 current=15 ready=15 .*sessions=1200 .*source=prometheus' \
  "$AF_TMP/autoscaler.log" || af_fail "autoscaler did not settle at 15 through Prometheus"

echo 0 >"$AF_TMP/sessions"
for _ in $(seq 300); do [ "$(stats | jq .pool)" -lt 15 ] && break; sleep 0.05; done
p=$(stats | jq .pool)
[ "$p" -lt 15 ] || af_fail "no scale-down within 15 s"
grep -q 'decision direction=down reason=utilization_low .*sessions=0 .*source=prometheus' "$AF_TMP/autoscaler.log" \
  || af_fail "no prometheus-sourced down decision"
af_log "prometheus-driven: up to 15, down to $p"
echo PASS
