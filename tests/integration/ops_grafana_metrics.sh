#!/usr/bin/env bash
# deploy/grafana/agentfleet.json: the datasource is a variable, every panel has
# a query, and every metric its expressions (and the recording and alert
# rules) name is one the daemons really export: the names are read from the
# running gateway's, manager's, autoscaler's and an agent's /metrics. promtool
# parses every panel expression. A misspelt metric is caught.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || af_fail "promtool not installed"
mgr=$(af_free_port); mm=$(af_free_port); am=$(af_free_port); gw=$(af_free_port); ag=$(af_free_port)
af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$mgr" --metrics-listen "127.0.0.1:$mm" \
  --min-agents 1 --max-agents 2
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$gw" --manager "tcp://127.0.0.1:$mgr" \
  --agent-listen "tcp://127.0.0.1:$ag"
af_start autoscaler "$AF_BIN/autoscaler" --manager "tcp://127.0.0.1:$mgr" --metrics-listen "127.0.0.1:$am" \
  --min-agents 1 --max-agents 2
af_wait_port "127.0.0.1:$mm"; af_wait_port "127.0.0.1:$gw"; af_wait_port "127.0.0.1:$am"
target=
for _ in $(seq 100); do
  target=$(curl -fsS "http://127.0.0.1:$mm/sd" 2>/dev/null | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(d[0]["targets"][0] if d else "")' 2>/dev/null || true)
  [ -n "$target" ] && break; sleep 0.1
done
[ -n "$target" ] || af_fail "no agent in the manager's service discovery"
curl -fsS "http://127.0.0.1:$gw/metrics" >"$AF_TMP/gateway.prom"
curl -fsS "http://127.0.0.1:$mm/metrics" >"$AF_TMP/manager.prom"
curl -fsS "http://127.0.0.1:$am/metrics" >"$AF_TMP/autoscaler.prom"
curl -fsS "http://$target/metrics" >"$AF_TMP/agent.prom"
for f in gateway manager autoscaler agent; do
  grep -q '^# TYPE ' "$AF_TMP/$f.prom" || af_fail "$f exported no metric families"
done
check="$AF_ROOT/tests/integration/ops/promql_names.py"
expo=("$AF_TMP/gateway.prom" "$AF_TMP/manager.prom" "$AF_TMP/autoscaler.prom" "$AF_TMP/agent.prom")
python3 "$check" --exposition "${expo[@]}" \
  --rules "$AF_ROOT/deploy/rules/recording.yml" "$AF_ROOT/deploy/rules/alerts.yml" \
  --dashboard "$AF_ROOT/deploy/grafana/agentfleet.json" --emit-rules "$AF_TMP/panels.yml" \
  >"$AF_TMP/check.out" 2>&1 || af_fail "$(cat "$AF_TMP/check.out")"
cat "$AF_TMP/check.out"
promtool check rules "$AF_TMP/panels.yml" >"$AF_TMP/promtool.out" 2>&1 \
  || af_fail "a panel expression does not parse: $(cat "$AF_TMP/promtool.out")"

# The panels the issue asks for are there.
for title in "Agents by state" "Sessions" "Utilization vs thresholds" "Requests by status" \
             "Gateway latency p50 / p99" "Tokens" "Errors by type" "Scaling decisions"; do
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
sys.exit(0 if any(p.get("title")==sys.argv[2] for p in d["panels"]) else 1)' \
    "$AF_ROOT/deploy/grafana/agentfleet.json" "$title" || af_fail "no panel '$title'"
done

# Not vacuous: a misspelt metric in a panel is reported.
sed 's/agent_tokens_total/agent_token_total/' "$AF_ROOT/deploy/grafana/agentfleet.json" >"$AF_TMP/bad.json"
if python3 "$check" --exposition "${expo[@]}" --rules "$AF_ROOT/deploy/rules/recording.yml" \
     --dashboard "$AF_TMP/bad.json" >"$AF_TMP/bad.out" 2>&1; then
  af_fail "a misspelt metric went unnoticed"
fi
grep -q 'unknown metric agent_token_total' "$AF_TMP/bad.out" || af_fail "wrong report: $(cat "$AF_TMP/bad.out")"
af_log "PASS: dashboard and rules use only exported metrics"
