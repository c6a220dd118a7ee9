#!/usr/bin/env bash
# deploy/alertmanager.yml passes `amtool check-config`, and routes alerts the
# way its comments say: critical pages, info goes to the digest, the rest to chat.
. "$(dirname "$0")/lib.sh"
command -v amtool >/dev/null || af_fail "amtool not installed (apt-get install prometheus-alertmanager)"
cfg="$AF_ROOT/deploy/alertmanager.yml"
amtool check-config "$cfg" >"$AF_TMP/check.out" 2>&1 || af_fail "amtool check-config: $(cat "$AF_TMP/check.out")"
grep -q SUCCESS "$AF_TMP/check.out" || af_fail "no SUCCESS from amtool"
route() { # want labels...
  local want="$1"; shift
  amtool config routes test --config.file="$cfg" --verify.receivers="$want" "$@" >"$AF_TMP/route.out" 2>&1 \
    || af_fail "labels $* routed to $(cat "$AF_TMP/route.out"), want $want"
}
route ops-pager alertname=AgentHealLoop severity=critical
route ops-pager alertname=AgentfleetDaemonDown severity=critical job=manager
route ops-digest alertname=QuotaRejectionsSpike severity=info
route ops-chat alertname=AgentDown severity=warning
# Every severity the alert rules use has a route.
for s in $(sed -n 's/^ *severity: *//p' "$AF_ROOT/deploy/rules/alerts.yml" | sort -u); do
  amtool config routes test --config.file="$cfg" severity="$s" >/dev/null 2>&1 || af_fail "severity $s not routed"
done
# The check is not vacuous: a broken config is refused.
sed 's/receiver: ops-pager/receiver: no-such-receiver/' "$cfg" >"$AF_TMP/bad.yml"
if amtool check-config "$AF_TMP/bad.yml" >/dev/null 2>&1; then af_fail "amtool accepted an unknown receiver"; fi
af_log "PASS: alertmanager config valid, routes as documented"
