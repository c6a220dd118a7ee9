#!/usr/bin/env bash
# The `make run` stack with AF_RUN_MONITORING=1: supervisord also runs a real
# Prometheus (deploy/prometheus.yml and rules, rendered with the stack's
# addresses) and Alertmanager (deploy/alertmanager.yml). Prometheus finds the
# 10 agents through the manager's service discovery, scrapes everything,
# evaluates the rules, knows the Alertmanager, and its HTTP API gives back
# agent_active_sessions and hypercore_agent_active_count as the fleet has them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
command -v prometheus >/dev/null || af_fail "prometheus not installed"
command -v prometheus-alertmanager >/dev/null || af_fail "prometheus-alertmanager not installed"
fc="$AF_BIN/fleetctl"

ops_stack_env "AF_RUN_MONITORING=1" "AF_RUN_PROMETHEUS_INTERVAL=1s"
ops_stack_start 10
prom="http://127.0.0.1:$OPS_PROM"
for _ in $(seq 200); do curl -fsS -o /dev/null "$prom/-/ready" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "$prom/-/ready" || af_fail "prometheus not ready: $(tail -5 "$AF_VAR/log/prometheus.log")"
for _ in $(seq 50); do grep -q "monitor:  Prometheus $prom" "$AF_TMP/run-local.log" && break; sleep 0.1; done
grep -q "monitor:  Prometheus $prom" "$AF_TMP/run-local.log" || af_fail "banner lacks the Prometheus address"
for prog in prometheus alertmanager; do   # RUNNING once up for startsecs (2 s)
  for _ in $(seq 100); do ops_ctl status "$prog" | grep -q RUNNING && break; sleep 0.1; done
  ops_ctl status "$prog" | grep -q RUNNING || af_fail "$prog not RUNNING under supervisord"
done

# Three live sessions on the pool.
export FLEET_TOKEN
FLEET_TOKEN=$("$fc" token --user alice)
for i in 1 2 3; do "$fc" chat -m "hello $i" >/dev/null 2>&1 || af_fail "chat $i failed"; done

q() { # PromQL -> the single value, or "" when empty
  curl -fsSG "$prom/api/v1/query" --data-urlencode "query=$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else ("" if not r else "many:%d" % len(r)))' 2>/dev/null || true
}
wait_eq() { # query want what
  local got="" i
  for ((i = 0; i < 200; i++)); do got=$(q "$1"); [ "$got" = "$2" ] && return 0; sleep 0.1; done
  af_fail "$3: $1 = '$got', want '$2'"
}
wait_eq 'count(up{job="agents"} == 1)' 10 "agents found through /sd and scraped"
wait_eq 'sum(agent_active_sessions)' 3 "sessions from the agents"
wait_eq 'hypercore_agent_active_count' 10 "agents alive according to the manager"
wait_eq 'sum(up{job=~"gateway|manager|autoscaler"})' 3 "daemons scraped"
wait_eq 'agentfleet:sessions:sum' 3 "recording rule agentfleet:sessions:sum"
wait_eq 'agentfleet:utilization:ratio' 0.003 "recording rule agentfleet:utilization:ratio (3 / 1000)"
wait_eq 'count(agent_active_sessions{agent_id=~"ag_.+",owner="pool"})' 10 "agent_id/owner labels from /sd"

# Every rule loaded and evaluates without error; the Alertmanager is known.
curl -fsS "$prom/api/v1/rules" >"$AF_TMP/rules.json"
python3 - "$AF_TMP/rules.json" <<'PY' || af_fail "rules not healthy"
import json, sys
groups = json.load(open(sys.argv[1]))["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
alerts = [r for r in rules if r["type"] == "alerting"]
bad = [r["name"] for r in rules if r.get("health") not in ("ok", "unknown")]
print(f"{len(rules)} rules loaded, {len(alerts)} alerts, unhealthy: {bad}")
sys.exit(1 if bad or len(alerts) < 8 else 0)
PY
for _ in $(seq 100); do
  af_get -fsS "$prom/api/v1/alertmanagers" | grep -q "127.0.0.1:$OPS_AM" && break; sleep 0.1
done
af_get -fsS "$prom/api/v1/alertmanagers" | grep -q "127.0.0.1:$OPS_AM" || af_fail "prometheus does not know the alertmanager"
curl -fsS -o /dev/null "http://127.0.0.1:$OPS_AM/-/ready" || af_fail "alertmanager not ready"

# SIGTERM to run-local.sh alone (a service manager's stop) stops everything,
# Prometheus and Alertmanager included.
ops_stack_stop term
[ -z "$(ops_leftovers)" ] || af_fail "processes left after SIGTERM: $(ops_leftovers)"
af_log "PASS: prometheus under supervisord reads the fleet back through its HTTP API"
