#!/usr/bin/env bash
# deploy/rules/usage.yml (issue #10) passes `promtool check rules`, is loaded
# by deploy/prometheus.yml, and its rule tests pass; they are not vacuous:
# each mutation of a threshold, a floor or a `for` makes them fail.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || af_fail "promtool not installed (apt-get install prometheus)"
d="$AF_ROOT/deploy"

promtool check rules "$d/rules/usage.yml" >"$AF_TMP/rules.out" 2>&1 \
  || af_fail "promtool check rules: $(cat "$AF_TMP/rules.out")"
grep -q 'SUCCESS: 3 rules found' "$AF_TMP/rules.out" || af_fail "usage rules: $(cat "$AF_TMP/rules.out")"
grep -q '^  - rules/usage.yml$' "$d/prometheus.yml" || af_fail "deploy/prometheus.yml does not load rules/usage.yml"
promtool check config "$d/prometheus.yml" >"$AF_TMP/config.out" 2>&1 \
  || af_fail "promtool check config: $(cat "$AF_TMP/config.out")"
promtool test rules "$d/rules/tests/usage_test.yml" >"$AF_TMP/test.out" 2>&1 \
  || af_fail "promtool test rules: $(cat "$AF_TMP/test.out")"
for a in UserTokenRateUnusual CacheHitRatioCollapsed UserBudgetExhausted; do
  grep -q "alert: $a\$" "$d/rules/usage.yml" || af_fail "alert $a missing"
  grep -q "alertname: $a\$" "$d/rules/tests/usage_test.yml" || af_fail "alert $a has no rule test"
done

mutate() { # name sed-expression
  rm -rf "$AF_TMP/m"; mkdir -p "$AF_TMP/m/tests"
  sed -e "$2" "$d/rules/usage.yml" >"$AF_TMP/m/usage.yml"
  cp "$d/rules/tests/usage_test.yml" "$AF_TMP/m/tests/"
  cmp -s "$d/rules/usage.yml" "$AF_TMP/m/usage.yml" && af_fail "mutation $1 changed nothing"
  if promtool test rules "$AF_TMP/m/tests/usage_test.yml" >/dev/null 2>&1; then
    af_fail "rule tests still pass with mutation: $1"
  fi
}
mutate "token rate 50x the average" 's/> 5 \* sum by (user)/> 50 * sum by (user)/'
mutate "token floor out of reach" 's|> 1000 / 60|> 100000 / 60|'
mutate "no token floor (quiet users page)" 's|> 1000 / 60|> 1 / 60|'
mutate "token alert waits 3h" '0,/for: 15m/s//for: 3h/'
mutate "cache ratio 1 % of the daily" 's/< 0.5 \* (sum/< 0.01 * (sum/'
mutate "budget alert needs 5 refusals" 's/increase(gateway_budget_exceeded_total\[10m\])) > 0/increase(gateway_budget_exceeded_total[10m])) > 5/'
af_log "PASS: usage rules valid and loaded; rule tests pass; 6 mutations caught"
