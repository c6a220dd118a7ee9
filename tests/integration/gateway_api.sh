#!/usr/bin/env bash
# gateway over real HTTP against a stand-in fleet (harness_gateway_fleet plays
# the manager and agents over ZeroMQ): every endpoint's success and error
# paths, RBAC isolation between users, SSE framing, sessions, cancel on client
# disconnect, an agent dying mid-request (502, then placed again), no
# capacity (503 + Retry-After), error bodies, metrics and the audit log.
. "$(dirname "$0")/lib.sh"

HARNESS="$AF_BUILD/tests/integration/harness_gateway_fleet"
[ -x "$HARNESS" ] || af_fail "build $HARNESS first"
HP=$(af_free_port); MP=$(af_free_port); AP=$(af_free_port)
G="http://127.0.0.1:$HP"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
BOB=$("$AF_BIN/gateway" --add-key bob user --keys-file "$KEYS")
ROOT=$("$AF_BIN/gateway" --add-key root admin --keys-file "$KEYS")
grep -q "$ALICE" "$KEYS" && af_fail "keys file holds a key in clear"

af_start harness "$HARNESS" --manager "tcp://127.0.0.1:$MP" --gateway "tcp://127.0.0.1:$AP" --pool 2 --heartbeat-ms 200
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 200 --ip-rate 10000 \
  --audit-log "$AF_TMP/audit.log" --max-body 4096 --gateway-id gwt
af_wait_port "127.0.0.1:$HP"

# req METHOD PATH KEY [BODY] -> $code, body in $AF_TMP/body, headers in $AF_TMP/hdr
req() {
  local m="$1" p="$2" k="$3" b="${4:-}"
  local args=(-s -o "$AF_TMP/body" -D "$AF_TMP/hdr" -w '%{http_code}' -X "$m" "$G$p")
  [ -n "$k" ] && args+=(-H "x-api-key: $k")
  [ -n "$b" ] && args+=(-H 'content-type: application/json' --data-binary "$b")
  code=$(curl "${args[@]}")
}
body() { cat "$AF_TMP/body"; }
jf() { jq -r "$1" "$AF_TMP/body"; }
hdr() { grep -i "^$1:" "$AF_TMP/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
expect() { # expect CODE TYPE?  — status and, for errors, the error type
  af_eq "$code" "$1" "status of ${2:-request}: $(body)"
  if [ "$1" -ge 400 ]; then
    af_eq "$(jf .error.type)" "$2" "error type"
    [ -n "$(jf .error.message)" ] || af_fail "error without message"
  fi
}

for _ in $(seq 50); do req GET /readyz ""; [ "$code" = 200 ] && [ "$(jf .agents)" = 2 ] && break; sleep 0.1; done
expect 200; af_eq "$(jf .agents)" 2 "ready agents"
req GET /healthz ""; expect 200

af_log "routing errors"
req GET /nope "$ALICE"; expect 404 not_found_error
req PUT /v1/agents "$ALICE"; expect 405 invalid_request_error
af_eq "$(hdr Allow)" "GET, POST" "Allow"
req GET /v1/chat "$ALICE"; expect 405 invalid_request_error; af_eq "$(hdr Allow)" "POST" "Allow"
req GET /v1/agents ""; expect 401 authentication_error
[ -n "$(hdr WWW-Authenticate)" ] || af_fail "401 without WWW-Authenticate"
req GET /v1/agents "afk_not_a_key"; expect 401 authentication_error

af_log "spawn, list, get"
req POST /v1/agents "$ALICE" '{"spec":{"cores":1,"memory_mb":512}}'; expect 201
A1=$(jf .agent_id); af_eq "$(jf .url)" "/v1/agents/$A1" "url"; af_eq "$(jf .status)" ready "status"
req POST /v1/agents/spawn "$BOB" ''; expect 201; B1=$(jf .agent_id)
req POST /v1/agents "$ALICE" '{"spec":{"cores":99}}'; expect 400 invalid_request_error
body | grep -q cores || af_fail "400 does not name cores: $(body)"
req POST /v1/agents "$ALICE" '{"spec":{"image":"evil:latest"}}'; expect 400 invalid_request_error
body | grep -q image || af_fail "manager's invalid_request not passed on: $(body)"
req POST /v1/agents "$ALICE" '{"spec":'; expect 400 invalid_request_error
body | grep -q "byte" || af_fail "bad JSON error does not say where: $(body)"
big=$(head -c 6000 /dev/zero | tr '\0' a)
req POST /v1/agents "$ALICE" "{\"x\":\"$big\"}"; expect 413 request_too_large
req GET /v1/agents "$ALICE"; expect 200
af_eq "$(jf '.agents | length')" 1 "alice sees only her agent"; af_eq "$(jf '.agents[0].agent_id')" "$A1" "alice's agent"
req GET /v1/agents "$ROOT"; expect 200
[ "$(jf '.agents | length')" -ge 4 ] || af_fail "admin does not see all agents: $(body)"
req GET "/v1/agents/$A1" "$ALICE"; expect 200; af_eq "$(jf .owner)" alice "owner"
req GET "/v1/agents/$A1" "$BOB"; expect 404 not_found_error
req GET "/v1/agents/$A1" "$ROOT"; expect 200

af_log "chat: own agent, other's agent, pool, aliases, validation"
req POST "/v1/agents/$A1/chat" "$ALICE" '{"message":"hello there"}'; expect 200
af_eq "$(jf .content)" "You said: hello there" "content"; af_eq "$(jf .status)" completed "status"
S1=$(jf .session_id); [[ "$S1" == se_* ]] || af_fail "session id $S1"
af_eq "$(jf .usage.tokens)" "$(( $(jf .usage.input_tokens) + $(jf .usage.output_tokens) ))" "usage.tokens"
req POST "/v1/agents/$A1/chat" "$ALICE" "{\"session_id\":\"$S1\",\"prompt\":\"again\",\"system_prompt\":\"s\"}"; expect 200
af_eq "$(jf .session_id)" "$S1" "same session"
req POST "/v1/agents/$A1/chat" "$BOB" '{"message":"hi"}'; expect 404 not_found_error
req POST "/v1/agents/$B1/chat" "$BOB" "{\"session_id\":\"$S1\",\"message\":\"steal\"}"; expect 404 not_found_error
req POST "/v1/agents/$A1/chat" "$ALICE" '{}'; expect 400 invalid_request_error
body | grep -q "message" || af_fail "400 does not name message"
req POST "/v1/agents/$A1/chat" "$ALICE" '{"message":"x","temperature":7}'; expect 400 invalid_request_error
body | grep -q "temperature" || af_fail "400 does not name temperature"
req POST /v1/chat "$BOB" '{"message":"pool please"}'; expect 200
af_eq "$(jf .content)" "You said: pool please" "pool chat"; SB=$(jf .session_id)

af_log "sessions"
req GET "/v1/sessions/$S1" "$ALICE"; expect 200
af_eq "$(jf '.messages | length')" 4 "history length"; af_eq "$(jf '.messages[3].content')" "You said: again" "history"
req GET "/v1/sessions/$S1" "$BOB"; expect 404 not_found_error
req DELETE "/v1/sessions/$S1" "$BOB"; expect 404 not_found_error
req GET "/v1/sessions/se_unknown" "$ALICE"; expect 404 not_found_error
req DELETE "/v1/sessions/$SB" "$BOB"; expect 200; af_eq "$(jf .status)" deleted "session delete"
req GET "/v1/sessions/$SB" "$BOB"; expect 404 not_found_error

af_log "streaming"
curl -s -N -o "$AF_TMP/sse" -D "$AF_TMP/hdr" -H "x-api-key: $ALICE" -X POST "$G/v1/agents/$A1/chat" \
  --data-binary '{"message":"stream me now","stream":true}'
grep -qi '^content-type: text/event-stream' "$AF_TMP/hdr" || af_fail "not SSE: $(cat "$AF_TMP/hdr")"
deltas=$(grep -c '^event: delta' "$AF_TMP/sse"); af_eq "$deltas" 5 "delta events"
af_eq "$(grep -c '^event: done' "$AF_TMP/sse")" 1 "one done"
text=$(grep -A1 '^event: delta' "$AF_TMP/sse" | sed -n 's/^data: //p' | jq -j .text)
af_eq "$text" "You said: stream me now" "deltas add up"
done_json=$(grep -A1 '^event: done' "$AF_TMP/sse" | sed -n 's/^data: //p')
af_eq "$(echo "$done_json" | jq -r .content)" "$text" "done content"
af_eq "$(tail -c 2 "$AF_TMP/sse" | od -An -c | tr -d ' ')" '\n\n' "stream ends with a blank line"

af_log "cancel on client disconnect (stream and non-stream)"
curl -s -N --max-time 0.6 -H "x-api-key: $ALICE" -X POST "$G/v1/chat" \
  --data-binary '{"message":"[[slow]]","stream":true}' >/dev/null || true
curl -s --max-time 0.6 -H "x-api-key: $ALICE" -X POST "$G/v1/chat" \
  --data-binary '{"message":"[[slow]]"}' >/dev/null || true
for _ in $(seq 40); do [ "$(grep -c '^CANCEL' "$AF_TMP/harness.log")" -ge 2 ] && break; sleep 0.05; done
af_eq "$(grep -c '^CANCEL' "$AF_TMP/harness.log")" 2 "CANCELs sent to the agent"

af_log "upstream errors map to HTTP"
req POST /v1/chat "$ALICE" '{"message":"[[error:rate_limited]]"}'; expect 429 rate_limit_error
af_eq "$(hdr Retry-After)" 3 "Retry-After from the agent"
req POST /v1/chat "$ALICE" '{"message":"[[error:overloaded_error]]"}'; expect 529 overloaded_error
req POST /v1/chat "$ALICE" '{"message":"[[error:authentication_error]]"}'; expect 502 api_error
req POST /v1/chat "$ALICE" '{"message":"[[error:invalid_request_error]]"}'; expect 400 invalid_request_error

af_log "stats, scale (admin only)"
req GET /v1/stats "$ALICE"; expect 200; [ "$(jf .agents.ready)" -ge 1 ] || af_fail "stats: $(body)"
req POST /v1/scale "$ALICE" '{"target":5}'; expect 403 permission_error
req POST /v1/scale "$ROOT" '{"target":5}'; expect 200; af_eq "$(jf .target)" 5 "scale target"
req POST /v1/scale "$ROOT" '{"target":"many"}'; expect 400 invalid_request_error

af_log "delete, alias, other's agent"
req DELETE "/v1/agents/$A1" "$BOB"; expect 404 not_found_error
req DELETE /v1/agents/delete "$BOB" "{\"agent_id\":\"$A1\"}"; expect 404 not_found_error
req DELETE /v1/agents/delete "$BOB" '{}'; expect 400 invalid_request_error
req DELETE /v1/agents/delete "$ALICE" "{\"agent_id\":\"$A1\"}"; expect 200
af_eq "$(jf .status)" deleted "deleted"
req GET "/v1/agents/$A1" "$ALICE"; expect 404 not_found_error
req DELETE "/v1/agents/$B1" "$BOB"; expect 200

af_log "stateless calls: the pool cache's refresh PLACE runs beside the call, not before it"
HARNESS_PID=$(pgrep -f "harness_gateway_fleet --manager tcp://127.0.0.1:$MP" | head -1)
MSG='{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}'
req POST /v1/messages "$ALICE" "$MSG"; expect 200
kill -USR1 "$HARNESS_PID" # the manager now leaves pool PLACEs unanswered
sleep 0.3                 # past the cache's 100 ms refresh interval, inside its 2 s TTL
code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' --max-time 2 -H "x-api-key: $ALICE" \
  -H 'content-type: application/json' --data-binary "$MSG" "$G/v1/messages") || true
kill -USR1 "$HARNESS_PID"
af_eq "$code" 200 "a stateless call while the refresh PLACE goes unanswered: $(body)"
af_eq "$(jf .content[0].text)" "You said: hi" "reply from the cached pool agent"
[ "$(grep -c '^PLACE_IGNORED' "$AF_TMP/harness.log")" -ge 1 ] || af_fail "the cache did not ask the manager to PLACE again"
af_log "an agent dying mid-request: 502, then the session is placed again"
req POST /v1/chat "$ALICE" '{"message":"first"}'; expect 200; SD=$(jf .session_id); AD=$(jf .agent_id)
req POST /v1/chat "$ALICE" "{\"session_id\":\"$SD\",\"message\":\"[[die]]\"}"; expect 502 api_error
req POST /v1/chat "$ALICE" "{\"session_id\":\"$SD\",\"message\":\"after\"}"; expect 200
[ "$(jf .agent_id)" != "$AD" ] || af_fail "session not placed on another agent"
af_log "an agent dying mid-stream: the stream ends with an error event"
curl -s -N -o "$AF_TMP/sse2" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST "$G/v1/messages" \
  --data-binary '{"model":"m","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"[[die-midstream]]"}]}' >"$AF_TMP/code2"
af_eq "$(cat "$AF_TMP/code2")" 200 "stream status (sent before the agent died)"
af_eq "$(grep -c '^event: content_block_delta' "$AF_TMP/sse2")" 2 "deltas before the failure"
af_eq "$(grep '^event:' "$AF_TMP/sse2" | tail -1)" "event: error" "last event"
af_eq "$(tail -n 2 "$AF_TMP/sse2" | sed -n 's/^data: //p' | jq -r .error.type)" api_error "error event type"
af_log "no capacity: 503 with Retry-After"
req POST /v1/chat "$ALICE" '{"message":"nobody left"}'; expect 503 overloaded_error
[ -n "$(hdr Retry-After)" ] || af_fail "503 without Retry-After"
req GET /readyz ""; expect 503 overloaded_error

af_log "metrics and audit"
curl -s "$G/metrics" >"$AF_TMP/metrics"
grep -q 'gateway_requests_total{route="/v1/agents/{id}/chat",code="200"}' "$AF_TMP/metrics" || af_fail "requests_total"
grep -q 'gateway_requests_total{route="/v1/chat",code="499"} 2' "$AF_TMP/metrics" || af_fail "499 count"
grep -q '^gateway_auth_failures_total{reason="missing"} 1' "$AF_TMP/metrics" || af_fail "auth failures"
grep -q '^gateway_request_duration_seconds_count' "$AF_TMP/metrics" || af_fail "duration histogram"
grep -q '^gateway_inflight_requests 1' "$AF_TMP/metrics" || af_fail "inflight gauge"
jq -s -e 'any(.[]; .event=="spawn" and .user=="alice" and .status==201)' "$AF_TMP/audit.log" >/dev/null || af_fail "spawn not audited"
jq -s -e 'any(.[]; .event=="delete" and .user=="bob" and .status==404)' "$AF_TMP/audit.log" >/dev/null || af_fail "refused delete not audited"
jq -s -e 'any(.[]; .event=="scale" and .user=="alice" and .status==403)' "$AF_TMP/audit.log" >/dev/null || af_fail "refused scale not audited"
jq -s -e 'any(.[]; .event=="admin_action" and .user=="root" and .detail=="GET /v1/agents")' "$AF_TMP/audit.log" >/dev/null || af_fail "admin listing not audited"
jq -s -e 'any(.[]; .event=="auth_failure" and .ip=="127.0.0.1" and (.request_id|length)>0)' "$AF_TMP/audit.log" >/dev/null || af_fail "auth failure not audited"
for k in "$ALICE" "$BOB" "$ROOT" afk_not_a_key; do
  grep -q -- "$k" "$AF_TMP/audit.log" "$AF_TMP/gateway.log" && af_fail "a key reached a log"
done

af_log "manager gone: fail fast with 503"
kill -TERM "${_af_pids[0]}"; wait "${_af_pids[0]}" 2>/dev/null || true
sleep 1 # 3 heartbeat intervals of 200 ms, and some
start=$(date +%s%N)
req GET /v1/agents "$ALICE"; expect 503 overloaded_error
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 1000 ] || af_fail "503 was not fast"
[ -n "$(hdr Retry-After)" ] || af_fail "503 without Retry-After"
req GET /readyz ""; expect 503 overloaded_error; af_eq "$(jf .manager)" false "readyz manager"

af_log "graceful shutdown"
kill -TERM "$(pgrep -f "gateway --listen 127.0.0.1:$HP" | head -1)"
for _ in $(seq 50); do pgrep -f "gateway --listen 127.0.0.1:$HP" >/dev/null || break; sleep 0.1; done
pgrep -f "gateway --listen 127.0.0.1:$HP" >/dev/null && af_fail "gateway ignored SIGTERM"
grep -q 'event=stopped' "$AF_TMP/gateway.log" || af_fail "no clean stop"
echo PASS
