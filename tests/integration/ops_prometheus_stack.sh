#!/usr/bin/env bash
# A real Prometheus with deploy/prometheus.yml (ports and intervals adapted)
# against the running stack: it finds the 10 agents through the manager's
# service discovery, scrapes everything, loads the recording and alert rules,
# and its HTTP API gives back agent_active_sessions and
# hypercore_agent_active_count as the fleet has them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
command -v prometheus >/dev/null || af_fail "prometheus not installed"
fc="$AF_BIN/fleetctl"

ops_stack_env
ops_stack_start 10
pp=$(af_free_port)
mkdir -p "$AF_TMP/prom/rules"
cp "$AF_ROOT/deploy/rules/"*.yml "$AF_TMP/prom/rules/"
sed -e "s/scrape_interval: 15s/scrape_interval: 1s/" \
    -e "s/evaluation_interval: 15s/evaluation_interval: 1s/" \
    -e "s/scrape_timeout: 10s/scrape_timeout: 1s/" \
    -e "s/refresh_interval: 15s/refresh_interval: 1s/" \
    -e "s/127.0.0.1:8080/127.0.0.1:$OPS_HTTP/" \
    -e "s/127.0.0.1:9101/127.0.0.1:$OPS_MGR_METRICS/g" \
    -e "s/127.0.0.1:9102/127.0.0.1:$OPS_AS_METRICS/" \
    -e "s/127.0.0.1:9093/127.0.0.1:$(af_free_port)/" \
    "$AF_ROOT/deploy/prometheus.yml" >"$AF_TMP/prom/prometheus.yml"
sed -i 's/interval: 15s/interval: 1s/' "$AF_TMP/prom/rules/recording.yml"
promtool check config "$AF_TMP/prom/prometheus.yml" >/dev/null || af_fail "adapted config invalid"
af_start prometheus prometheus --config.file="$AF_TMP/prom/prometheus.yml" \
  --storage.tsdb.path="$AF_TMP/prom/data" --web.listen-address="127.0.0.1:$pp"
af_wait_port "127.0.0.1:$pp" 30

# Three live sessions on the pool.
export FLEET_TOKEN
FLEET_TOKEN=$("$fc" token --user alice)
for i in 1 2 3; do "$fc" chat -m "hello $i" >/dev/null 2>&1 || af_fail "chat $i failed"; done

q() { # PromQL -> the single value, or "" when empty
  curl -fsSG "http://127.0.0.1:$pp/api/v1/query" --data-urlencode "query=$1" 2>/dev/null | python3 -c '
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

# Every rule loaded and evaluates without error.
curl -fsS "http://127.0.0.1:$pp/api/v1/rules" >"$AF_TMP/rules.json"
python3 - "$AF_TMP/rules.json" <<'PY' || af_fail "rules not healthy"
import json, sys
groups = json.load(open(sys.argv[1]))["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
alerts = [r for r in rules if r["type"] == "alerting"]
bad = [r["name"] for r in rules if r.get("health") not in ("ok", "unknown")]
print(f"{len(rules)} rules loaded, {len(alerts)} alerts, unhealthy: {bad}")
sys.exit(1 if bad or len(alerts) < 8 else 0)
PY
# SIGTERM to run-local.sh alone (a service manager's stop) stops everything too.
ops_stack_stop term
[ -z "$(ops_leftovers)" ] || af_fail "processes left after SIGTERM: $(ops_leftovers)"
af_log "PASS: prometheus reads the fleet back through its HTTP API"
