#!/usr/bin/env bash
# deploy/prometheus.yml and its rules pass `promtool check config` and `promtool
# check rules`; the rule unit tests (deploy/rules/tests) pass; and they are not
# vacuous: with an alert's threshold moved out of reach, or an alert deleted,
# `promtool test rules` fails.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || af_fail "promtool not installed (apt-get install prometheus)"
d="$AF_ROOT/deploy"

promtool check config "$d/prometheus.yml" >"$AF_TMP/config.out" 2>&1 \
  || af_fail "promtool check config: $(cat "$AF_TMP/config.out")"
grep -q 'SUCCESS: 3 rule files found' "$AF_TMP/config.out" || af_fail "rule files not found by the config"
promtool check rules "$d/rules/recording.yml" "$d/rules/alerts.yml" >"$AF_TMP/rules.out" 2>&1 \
  || af_fail "promtool check rules: $(cat "$AF_TMP/rules.out")"
promtool test rules "$d/rules/tests/alerts_test.yml" >"$AF_TMP/test.out" 2>&1 \
  || af_fail "promtool test rules: $(cat "$AF_TMP/test.out")"

# Every alert the issue asks for exists and is exercised by a test.
for a in AgentDown AgentfleetDaemonDown AgentHealLoop FleetUtilizationHigh GatewayErrorRateHigh \
         UpstreamRateLimited QuotaRejectionsSpike AutoscalerNotEvaluating; do
  grep -q "alert: $a\$" "$d/rules/alerts.yml" || af_fail "alert $a missing"
  grep -q "alertname: $a\$" "$d/rules/tests/alerts_test.yml" || af_fail "alert $a has no rule test"
done

# Mutations: each must make the rule tests fail.
mutate() { # name sed-expression
  rm -rf "$AF_TMP/m"; mkdir -p "$AF_TMP/m/tests"
  cp "$d/rules/recording.yml" "$AF_TMP/m/"
  sed -e "$2" "$d/rules/alerts.yml" >"$AF_TMP/m/alerts.yml"
  cp "$d/rules/tests/alerts_test.yml" "$AF_TMP/m/tests/"
  cmp -s "$d/rules/alerts.yml" "$AF_TMP/m/alerts.yml" && af_fail "mutation $1 changed nothing"
  if promtool test rules "$AF_TMP/m/tests/alerts_test.yml" >/dev/null 2>&1; then
    af_fail "rule tests still pass with mutation: $1"
  fi
}
mutate "utilization threshold 0.99" 's/agentfleet:utilization:ratio > 0.9/agentfleet:utilization:ratio > 0.99/'
mutate "heal loop needs 50" 's/increase(manager_heals_total\[10m\]) > 5/increase(manager_heals_total[10m]) > 50/'
mutate "429 alert on another type" 's/type="rate_limit_error"/type="overloaded_error"/'
mutate "no for on daemon down" '0,/for: 1m/s//for: 0m/'
mutate "autoscaler staleness 1h" 's/> 150/> 3600/'
mutate "quota spike 100" 's/manager_quota_rejections_total\[5m\]) > 10/manager_quota_rejections_total[5m]) > 100/'
mutate "error ratio 50 %" 's/ratio5m > 0.05/ratio5m > 0.5/'
af_log "PASS: config, rules and rule tests valid; 7 mutations caught"
