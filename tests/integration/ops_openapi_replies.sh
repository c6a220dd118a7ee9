#!/usr/bin/env bash
# The gateway's real replies match docs/openapi.yaml: against the `make run`
# stack, every documented operation is called (successes and the usual
# failures: 400, 401, 403, 404, 405-free paths) and each reply's status must be
# documented for that operation and its JSON must match the documented schema.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
[ -d "$AF_ROOT/tests/tools/node_modules/ajv" ] || af_fail "ajv missing: (cd tests/tools && npm install)"
ops_stack_env
ops_stack_start 10
fc="$AF_BIN/fleetctl"
alice=$("$fc" token --user alice)
admin=$("$fc" token --user root --role admin)
: >"$AF_TMP/list"
n=0
call() { # token method path [body]
  local tok="$1" m="$2" p="$3" body="${4:-}" code
  n=$((n + 1))
  local args=(-s -o "$AF_TMP/r$n.json" -w '%{http_code}' -X "$m" "$FLEET_URL$p")
  [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  code=$(curl "${args[@]}")
  echo "$m $p $code $AF_TMP/r$n.json" >>"$AF_TMP/list"
  LAST="$AF_TMP/r$n.json"
}
call "$alice" POST /v1/agents '{"spec":{"cores":2},"count":1}'
agent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$LAST")
call "$alice" POST /v1/agents/spawn ''
second=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$LAST")
call "$alice" GET /v1/agents
call "$admin" GET /v1/agents
call "$alice" GET "/v1/agents/$agent"
call "$alice" GET /v1/agents/ag_nobody
call "$alice" POST "/v1/agents/$agent/chat" '{"message":"hello"}'
session=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session_id"])' "$LAST")
call "$alice" POST /v1/chat '{"message":"pool"}'
call "$alice" POST /v1/chat '{"message":""}'
call "$alice" POST /v1/chat '{"message":"x","colour":"red"}'
call "$alice" GET "/v1/sessions/$session"
call "$alice" DELETE "/v1/sessions/$session"
call "$alice" GET "/v1/sessions/$session"
call "$alice" GET /v1/stats
call "$alice" POST /v1/scale '{"target":11}'
call "$admin" POST /v1/scale '{"target":11,"reason":"openapi"}'
call "$admin" POST /v1/scale '{"target":-1}'
call "$alice" POST /v1/messages '{"model":"claude-3-5-sonnet-20241022","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
call "$alice" POST /v1/messages '{"max_tokens":64,"messages":[]}'
call "$alice" GET /v1/usage
call "$alice" GET "/v1/usage?user=bob"
call "$admin" POST /v1/budgets/alice/reset
call "$alice" POST /v1/budgets/alice/reset
call "" GET /v1/stats
call "not.a.token" GET /v1/agents
call "$alice" DELETE /v1/agents/delete "{\"agent_id\":\"$second\"}"
call "$alice" DELETE "/v1/agents/$agent"
call "" GET /healthz
call "" GET /readyz
node "$AF_ROOT/tests/integration/ops/openapi_check.mjs" "$AF_ROOT/docs/openapi.yaml" "$AF_TMP/list" \
  >"$AF_TMP/check.out" 2>&1 || af_fail "replies differ from docs/openapi.yaml:
$(cat "$AF_TMP/check.out")
$(cut -d' ' -f1-3 "$AF_TMP/list")"
cat "$AF_TMP/check.out"
# Not vacuous: a reply missing a required field, and an undocumented status, are caught.
echo '{"agents":"not-a-list"}' >"$AF_TMP/bad.json"
printf 'GET /v1/agents 200 %s\nGET /v1/stats 418 %s\n' "$AF_TMP/bad.json" "$AF_TMP/bad.json" >"$AF_TMP/badlist"
if node "$AF_ROOT/tests/integration/ops/openapi_check.mjs" "$AF_ROOT/docs/openapi.yaml" "$AF_TMP/badlist" \
   >"$AF_TMP/bad.out" 2>&1; then af_fail "a malformed reply passed"; fi
grep -q 'status 418 not documented' "$AF_TMP/bad.out" || af_fail "undocumented status not reported: $(cat "$AF_TMP/bad.out")"
ops_stack_stop
af_log "PASS: $(wc -l <"$AF_TMP/list") live replies match docs/openapi.yaml"
