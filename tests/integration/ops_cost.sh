#!/usr/bin/env bash
# `make run` applies cost controls: the env file names var/cost.json, made
# from deploy/cost.example.json, and the running gateway enforces it: the
# user max_tokens ceiling (400 naming max_tokens), the admin's higher one, the
# user model allow-list (403), short requests routed to Haiku and others to
# Sonnet, a daily budget per user in GET /v1/usage and fleetctl usage; an
# edited file applies at the gateway's restart (a low budget then gives 429
# budget_exceeded). A broken file stops the start with the field named; an
# env file from before cost controls gets the line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
fc="$AF_BIN/fleetctl"
example="$AF_ROOT/deploy/cost.example.json"
haiku=claude-3-5-haiku-20241022 sonnet=claude-3-5-sonnet-20241022

# The example is the realistic default the docs describe, not a test fixture.
python3 - "$example" <<'PY' || af_fail "deploy/cost.example.json is not the documented default"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["max_tokens"] == {"user": 4096, "admin": 8192}, c["max_tokens"]
assert c["models"]["admin"] == ["*"] and "claude-3-5-haiku-20241022" in c["models"]["user"], c["models"]
assert c["budgets"]["default"] >= 100000 and not c["budgets"].get("users"), c["budgets"]
r = c["routing"]["rules"][0]
assert r["model"] == "claude-3-5-haiku-20241022" and r["max_tokens"] <= 1024, r
PY

ops_stack_env
grep -qx 'AF_GATEWAY_COST_CONFIG=${AF_VAR}/cost.json' "$AF_VAR/agentfleet.env" \
  || af_fail "the env file does not name var/cost.json"
ops_stack_start 10
cmp -s "$example" "$AF_VAR/cost.json" || af_fail "var/cost.json is not a copy of deploy/cost.example.json"
tr '\0' '\n' <"/proc/$(ops_ctl pid gateway)/environ" | grep -qx "AF_GATEWAY_COST_CONFIG=$AF_VAR/cost.json" \
  || af_fail "the gateway does not run with AF_GATEWAY_COST_CONFIG=$AF_VAR/cost.json"
alice=$("$fc" token --user alice) admin=$("$fc" token --user root --role admin)

# msg TOKEN BODY: POST /v1/messages; status in $code, body in $AF_TMP/body.
msg() {
  code=$(curl -sS -o "$AF_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $1" \
         -H 'content-type: application/json' "$FLEET_URL/v1/messages" -d "$2")
}
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$AF_TMP/body" "$1"; }
hi='"messages":[{"role":"user","content":"hi"}]'

# ---- ceilings and allow-lists -----------------------------------------------------------
msg "$alice" "{\"max_tokens\":5000,$hi}"
af_eq "$code" 400 "user request over the max_tokens ceiling ($(cat "$AF_TMP/body"))"
af_eq "$(field 'd["error"]["type"]')" invalid_request_error "error type over the ceiling"
grep -q 'max_tokens: 5000 is above the ceiling of 4096 for role user' "$AF_TMP/body" \
  || af_fail "ceiling message: $(cat "$AF_TMP/body")"
msg "$admin" "{\"max_tokens\":5000,$hi}"
af_eq "$code" 200 "admin request at 5000 max_tokens ($(cat "$AF_TMP/body"))"
msg "$admin" "{\"max_tokens\":9000,$hi}"
af_eq "$code" 400 "admin request over the admin ceiling"
msg "$alice" "{\"model\":\"claude-3-opus-20240229\",\"max_tokens\":64,$hi}"
af_eq "$code" 403 "user request for a model outside the allow-list ($(cat "$AF_TMP/body"))"
grep -q 'model: claude-3-opus-20240229 is not allowed for role user' "$AF_TMP/body" \
  || af_fail "allow-list message: $(cat "$AF_TMP/body")"
msg "$admin" "{\"model\":\"claude-3-opus-20240229\",\"max_tokens\":64,$hi}"
af_eq "$code" 200 "admin request for any model"

# ---- routing: short requests to Haiku, the rest to Sonnet --------------------------------
msg "$alice" "{\"max_tokens\":256,$hi}"
af_eq "$code" 200 "short request"
af_eq "$(field 'd["model"]')" "$haiku" "model of a short request"
long=$(printf 'x%.0s' $(seq 2100))
msg "$alice" "{\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"$long\"}]}"
af_eq "$(field 'd["model"]')" "$sonnet" "model of a 2100-character prompt"
msg "$alice" "{\"max_tokens\":2048,$hi}"
af_eq "$(field 'd["model"]')" "$sonnet" "model of a short prompt asking for 2048 tokens"
"$fc" --token "$alice" chat -m "hello" >/dev/null 2>&1 || af_fail "fleetctl chat failed"
af_get -fsS "$FLEET_URL/metrics" | grep -q "^gateway_model_routed_total{model=\"$haiku\",rule=\"short\"} [2-9]" \
  || af_fail "gateway_model_routed_total has no short->haiku count of 2+"

# ---- budgets: /v1/usage, fleetctl usage ---------------------------------------------------
curl -fsS -o "$AF_TMP/body" -H "Authorization: Bearer $alice" "$FLEET_URL/v1/usage" || af_fail "GET /v1/usage"
python3 - "$AF_TMP/body" <<'PY' || af_fail "usage: $(cat "$AF_TMP/body")"
import json, sys
d = json.load(open(sys.argv[1]))
b, t = d["budget"], d["today"]
assert d["user"] == "alice" and b["daily_tokens"] == 1000000, b
assert 0 < b["used"] < 10000 and b["remaining"] == 1000000 - b["used"] and not b["exceeded"], b
assert t["requests"] == 4 and set(t["by_model"]) == {"claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022"}, t
PY
"$fc" --token "$alice" usage >"$AF_TMP/usage.out" || af_fail "fleetctl usage failed"
grep -q '1000000' "$AF_TMP/usage.out" || af_fail "fleetctl usage does not show the budget: $(cat "$AF_TMP/usage.out")"

# ---- an edited file applies at the gateway's restart ---------------------------------------
python3 - "$AF_VAR/cost.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["budgets"]["default"] = 100
json.dump(c, open(sys.argv[1], "w"))
PY
ops_ctl restart gateway >/dev/null
for _ in $(seq 100); do curl -fsS -o /dev/null "$FLEET_URL/readyz" 2>/dev/null && break; sleep 0.1; done
bob=$("$fc" token --user bob)
n=0
for n in $(seq 1 10); do
  msg "$bob" "{\"max_tokens\":64,$hi}"
  [ "$code" = 200 ] || break
done
af_eq "$code" 429 "request $n of bob over a budget of 100 ($(cat "$AF_TMP/body"))"
af_eq "$(field 'd["error"]["type"]')" budget_exceeded "error type over the budget"
af_eq "$(field 'd["error"]["budget"]')" 100 "budget in the error"
[ "$n" -ge 2 ] || af_fail "refused at bob's first request: the budget was not fresh"
af_log "budget of 100: bob refused at request $n"
ops_stack_stop

# ---- a broken file stops the start; an old env file gets the line ------------------------------
echo '{"budgets": {"default": -5}}' >"$AF_VAR/cost.json"
rc=0; AF_RUN_PREPARE_ONLY=1 bash "$AF_ROOT/scripts/run-local.sh" >"$AF_TMP/broken.out" 2>&1 || rc=$?
af_eq "$rc" 1 "run-local.sh exit code with a broken cost config"
grep -q 'gateway: .*budgets.default: must be an integer' "$AF_TMP/broken.out" \
  || af_fail "broken cost config message: $(cat "$AF_TMP/broken.out")"
old="$AF_TMP/oldvar"
mkdir -p "$old"
grep -v 'AF_GATEWAY_COST_CONFIG' "$AF_VAR/agentfleet.env" >"$old/agentfleet.env"
AF_VAR="$old" AF_RUN_PREPARE_ONLY=1 bash "$AF_ROOT/scripts/run-local.sh" >"$AF_TMP/old.out" 2>&1 \
  || af_fail "prepare with an old env file: $(cat "$AF_TMP/old.out")"
grep -qx 'AF_GATEWAY_COST_CONFIG=${AF_VAR}/cost.json' "$old/agentfleet.env" || af_fail "old env file did not get the line"
cmp -s "$example" "$old/cost.json" || af_fail "no cost.json made for the old env file"
# An empty value is the operator's choice (built-in defaults) and stays.
sed -i 's|^AF_GATEWAY_COST_CONFIG=.*|AF_GATEWAY_COST_CONFIG=|' "$old/agentfleet.env"
rm "$old/cost.json"
AF_VAR="$old" AF_RUN_PREPARE_ONLY=1 bash "$AF_ROOT/scripts/run-local.sh" >/dev/null 2>&1 || af_fail "prepare with cost controls off"
af_eq "$(grep -c 'AF_GATEWAY_COST_CONFIG' "$old/agentfleet.env")" 1 "cost lines in an env file that turned them off"
[ ! -e "$old/cost.json" ] || af_fail "cost.json made although the env file turned cost controls off"
af_log "PASS: make run's cost controls (ceilings, allow-list, routing, budget) applied and editable"
