#!/usr/bin/env bash
# scripts/deploy: --dry-run changes nothing; a from-scratch deploy into an
# empty prefix and var/ brings the stack up (detached supervisord); then a
# complete outage (supervisord and every daemon killed with -9, agents
# orphaned) is recovered by running scripts/deploy again, which keeps the
# JWT secret and API keys, clears the orphans and serves again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
ops_stack_env
cp "$AF_VAR/agentfleet.env" "$AF_TMP/deploy.env"
rm -rf "$AF_VAR"
prefix="$AF_TMP/opt/agentfleet"
deploy=("$AF_ROOT/scripts/deploy" --prefix "$prefix" --var "$AF_VAR" --env "$AF_TMP/deploy.env"
        --prebuilt "$AF_BIN" --no-deps --no-systemd)
stop_all() { supervisorctl -c "$AF_VAR/supervisorctl.conf" shutdown >/dev/null 2>&1 || true
  for _ in $(seq 300); do [ -z "$(ops_leftovers)" ] && break; sleep 0.1; done; }
trap '_rc=$?; stop_all; (exit $_rc); af_cleanup' EXIT

# The upstream key survives restarts: a restart without ANTHROPIC_API_KEY (by
# systemd, or a redeploy) keeps the real key instead of falling back to the fake.
prep() { AF_VAR="$AF_TMP/keyvar" AF_ENV_FILE= AF_RUN_PREPARE_ONLY=1 bash "$AF_ROOT/scripts/run-local.sh" >/dev/null; cat "$AF_TMP/keyvar/anthropic.key"; }
af_eq "$(prep)" sk-ant-local-fake "upstream key without ANTHROPIC_API_KEY"
af_eq "$(ANTHROPIC_API_KEY=sk-ant-test-1 prep)" sk-ant-test-1 "upstream key given"
af_eq "$(prep)" sk-ant-test-1 "upstream key kept across a restart"
af_eq "$(AF_RUN_FAKE_UPSTREAM=1 prep)" sk-ant-local-fake "AF_RUN_FAKE_UPSTREAM=1"
[ "$(stat -c %a "$AF_TMP/keyvar/anthropic.key")" = 600 ] || af_fail "anthropic.key is not 0600"

bash "${deploy[@]}" --dry-run >"$AF_TMP/dry.out" 2>&1 || af_fail "dry run failed: $(cat "$AF_TMP/dry.out")"
grep -q 'would run' "$AF_TMP/dry.out" || af_fail "dry run printed no steps"
[ ! -e "$prefix" ] && [ ! -e "$AF_VAR" ] || af_fail "dry run changed the disk"
bash "$AF_ROOT/scripts/deploy" --host ops@fleet-1.invalid --dry-run >"$AF_TMP/dryhost.out" 2>&1 \
  || af_fail "remote dry run failed: $(cat "$AF_TMP/dryhost.out")"
grep -q 'ssh ops@fleet-1.invalid .*/opt/agentfleet/scripts/deploy' "$AF_TMP/dryhost.out" \
  || af_fail "remote dry run: $(cat "$AF_TMP/dryhost.out")"
rc=0; bash "$AF_ROOT/scripts/deploy" --bogus >/dev/null 2>&1 || rc=$?
af_eq "$rc" 1 "exit code for an unknown argument"
bash "$AF_ROOT/scripts/deploy" --help | grep -q -- '--prebuilt' || af_fail "deploy --help"

bash "${deploy[@]}" >"$AF_TMP/deploy1.out" 2>&1 || af_fail "deploy failed: $(tail -20 "$AF_TMP/deploy1.out")"
grep -q '^agentfleet is up' "$AF_TMP/deploy1.out" || af_fail "deploy did not report the stack up"
[ -x "$prefix/bin/gateway" ] && [ -x "$prefix/deploy/af-exec" ] || af_fail "prefix not populated"
fc="$prefix/bin/fleetctl"
export FLEET_TOKEN
FLEET_TOKEN=$("$fc" token --user alice)   # finds the secret through AF_VAR
"$fc" chat -m "deployed" 2>/dev/null | grep -q '^You said: deployed' || af_fail "no chat after deploy"
secret=$(cat "$AF_VAR/jwt.secret")
"$fc" keys add --user ops >"$AF_TMP/key" 2>/dev/null
for _ in $(seq 100); do [ "$(curl -fsS "http://127.0.0.1:$OPS_MGR_METRICS/metrics" 2>/dev/null \
  | awk '$1 == "manager_agents{state=\"ready\"}" {print int($2)}')" = 10 ] && break; sleep 0.1; done

# ---- complete outage: everything killed at once ------------------------------------
old_agents=$(pgrep -f "^$prefix/bin/agentd " | tr '\n' ' ')
[ -n "$old_agents" ] || af_fail "no agents running from $prefix"
sv=$(cat "$AF_VAR/run/supervisord.pid")
kill -KILL "$sv"
for p in $(pgrep -f "^$prefix/bin/(manager|gateway|autoscaler|fake-anthropic)( |$)"); do kill -KILL "$p"; done
sleep 0.5
curl -fsS -o /dev/null "$FLEET_URL/healthz" 2>/dev/null && af_fail "gateway still up after the outage"

bash "${deploy[@]}" >"$AF_TMP/deploy2.out" 2>&1 || af_fail "redeploy failed: $(tail -20 "$AF_TMP/deploy2.out")"
grep -q 'stopping orphaned agent' "$AF_TMP/deploy2.out" || af_fail "orphaned agents not handled: $(cat "$AF_TMP/deploy2.out")"
af_eq "$(cat "$AF_VAR/jwt.secret")" "$secret" "JWT secret after redeploy"
"$fc" chat -m "recovered" 2>/dev/null | grep -q '^You said: recovered' || af_fail "no chat after recovery (old token)"
"$fc" --token "$(cat "$AF_TMP/key")" stats >/dev/null || af_fail "API key lost in the recovery"
for _ in $(seq 50); do
  alive=""; for p in $old_agents; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
  [ -z "$alive" ] && break; sleep 0.1
done
[ -z "$alive" ] || af_fail "agents of the dead stack still running:$alive"
stop_all
[ -z "$(ops_leftovers)" ] || af_fail "left running: $(ops_leftovers)"
af_log "PASS: deploy from scratch, complete outage recovered by redeploying"
