#!/usr/bin/env bash
# The whole stack on loopback: bin/fake-anthropic <- agentd (spawned by
# bin/manager's process provider) <- gateway, driven over HTTP. The official
# @anthropic-ai/sdk gives the same text and usage through the gateway as
# straight at the fake (create and stream), errors keep their class/status,
# an SDK abort becomes a CANCEL the fake sees as an aborted stream; the fleet
# API works end to end (spawn, chat, history, isolation, delete, stats,
# scale); an agent killed mid-request gives 502 and the session is placed again.
. "$(dirname "$0")/lib.sh"

SDK="$AF_ROOT/tests/sdk"
[ -d "$SDK/node_modules/@anthropic-ai/sdk" ] || af_fail "SDK not installed (npm install in tests/sdk)"
af_need_bins fake-anthropic manager agentd gateway
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port)
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
BOB=$("$AF_BIN/gateway" --add-key bob user --keys-file "$KEYS")
ROOT=$("$AF_BIN/gateway" --add-key root admin --keys-file "$KEYS")
G="http://127.0.0.1:$HP"; F="http://127.0.0.1:$FP"

af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="$F" af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 2 --max-agents 4 --heartbeat-ms 300 \
  --anthropic-key-file "$AF_TMP/upstream.key"
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 100000 \
  --audit-log "$AF_TMP/audit.log"
af_wait_port "127.0.0.1:$HP"
for _ in $(seq 150); do
  [ "$(curl -s "$G/readyz" | jq -r .agents 2>/dev/null)" = 2 ] && break; sleep 0.1
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$G/readyz")" 200 "readyz with the real fleet"

jget() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

af_log "official SDK: direct vs through the gateway"
for target in direct gateway; do
  if [ $target = direct ]; then base="$F"; key="$UPKEY"; else base="$G"; key="$ALICE"; fi
  node "$SDK/check.mjs" --base-url "$base" --api-key "$key" --prompt "hello through the fleet" \
    --max-tokens 64 --cases create,stream,auth --bad-key "afk_wrong" --expect-stop-reason end_turn \
    >"$AF_TMP/sdk-$target.json" || { cat "$AF_TMP/sdk-$target.json" >&2; af_fail "SDK check failed ($target)"; }
done
for c in 0 1; do
  for f in text usage stop_reason; do
    d=$(jget "j['cases'][$c]['$f']" <"$AF_TMP/sdk-direct.json")
    g=$(jget "j['cases'][$c]['$f']" <"$AF_TMP/sdk-gateway.json")
    af_eq "$g" "$d" "SDK case $c $f through the gateway"
  done
done
af_eq "$(jget "j['cases'][1]['deltas']" <"$AF_TMP/sdk-gateway.json")" \
      "$(jget "j['cases'][1]['deltas']" <"$AF_TMP/sdk-direct.json")" "stream deltas"
af_eq "$(jget "j['cases'][2]['error']['class']" <"$AF_TMP/sdk-gateway.json")" AuthenticationError "bad gateway key"
af_eq "$(jget "j['cases'][1]['events']" <"$AF_TMP/sdk-gateway.json")" \
      "$(jget "j['cases'][1]['events']" <"$AF_TMP/sdk-direct.json")" "SSE event sequence"

af_log "SDK errors and abort through the gateway"
node "$SDK/check.mjs" --base-url "$G" --api-key "$ALICE" --cases error,cancel --max-retries 0 \
  --error-prompt "please fail [[fault:529]]" --expect-error-status 529 --expect-error-type overloaded_error \
  --expect-error-class OverloadedError \
  --cancel-prompt "a long one [[words:200]] [[tps:20]]" --cancel-after 2 \
  >"$AF_TMP/sdk-err.json" || { cat "$AF_TMP/sdk-err.json" >&2; af_fail "SDK error/cancel cases"; }
for _ in $(seq 40); do [ "$(curl -s "$F/_stats" | jq -r .aborted)" -ge 1 ] && break; sleep 0.1; done
[ "$(curl -s "$F/_stats" | jq -r .aborted)" -ge 1 ] || af_fail "the SDK abort did not cancel the upstream stream"

af_log "fleet API end to end"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary '{}' "$G/v1/agents")
af_eq "$c" 201 "spawn ($(cat "$AF_TMP/b"))"; A1=$(jq -r .agent_id "$AF_TMP/b")
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"message":"remember this"}' "$G/v1/agents/$A1/chat")
af_eq "$c" 200 "chat on own agent ($(cat "$AF_TMP/b"))"; S1=$(jq -r .session_id "$AF_TMP/b")
af_eq "$(jq -r .content "$AF_TMP/b")" "You said: remember this" "content from the fake via agentd"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary "{\"session_id\":\"$S1\",\"message\":\"second\",\"stream\":true}" "$G/v1/agents/$A1/chat")
af_eq "$c" 200 "streamed chat"; grep -q '^event: done' "$AF_TMP/b" || af_fail "no done event"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" "$G/v1/sessions/$S1")
af_eq "$c" 200 "history"; af_eq "$(jq -r '.messages | length' "$AF_TMP/b")" 4 "history turns"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" "$G/v1/sessions/$S1")" 404 "bob reads alice's session"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" "$G/v1/agents/$A1")" 404 "bob sees alice's agent"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" -X POST --data-binary '{"message":"x"}' "$G/v1/agents/$A1/chat")" 404 "bob chats on alice's agent"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" -X DELETE "$G/v1/agents/$A1")" 404 "bob deletes alice's agent"
af_eq "$(curl -s -H "x-api-key: $ALICE" "$G/v1/agents" | jq -r '.agents | length')" 1 "alice lists her agent"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ROOT" "$G/v1/stats")
af_eq "$c" 200 "stats"; [ "$(jq -r .agents.total "$AF_TMP/b")" -ge 3 ] || af_fail "stats: $(cat "$AF_TMP/b")"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary '{"target":3}' "$G/v1/scale")" 403 "user scale"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ROOT" -X POST --data-binary '{"target":3}' "$G/v1/scale")
af_eq "$c" 200 "admin scale ($(cat "$AF_TMP/b"))"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $ALICE" -X DELETE "$G/v1/agents/$A1")" 200 "delete own agent"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $ALICE" "$G/v1/agents/$A1")" 404 "deleted agent is gone"

af_log "an agent killed mid-request: 502, then placed again"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $BOB" -X POST --data-binary '{"message":"first"}' "$G/v1/chat")
af_eq "$c" 200 "pool chat"; SB=$(jq -r .session_id "$AF_TMP/b"); AB=$(jq -r .agent_id "$AF_TMP/b")
curl -s -o "$AF_TMP/slow" -w '%{http_code}' -H "x-api-key: $BOB" -X POST \
  --data-binary "{\"session_id\":\"$SB\",\"message\":\"slow [[latency:4000]]\"}" "$G/v1/chat" >"$AF_TMP/slow.code" &
cpid=$!
sleep 0.7
pkill -KILL -f -- "--id $AB " || pkill -KILL -f -- "--id $AB\$" || af_fail "cannot find agent $AB"
wait "$cpid" || true
af_eq "$(cat "$AF_TMP/slow.code")" 502 "request on the killed agent ($(cat "$AF_TMP/slow"))"
af_eq "$(jq -r .error.type "$AF_TMP/slow")" api_error "502 body"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $BOB" -X POST \
  --data-binary "{\"session_id\":\"$SB\",\"message\":\"after\"}" "$G/v1/chat")
af_eq "$c" 200 "the session is placed again ($(cat "$AF_TMP/b"))"
[ "$(jq -r .agent_id "$AF_TMP/b")" != "$AB" ] || af_fail "placed on the dead agent"
grep -q "$UPKEY" "$AF_TMP/gateway.log" "$AF_TMP/audit.log" && af_fail "the upstream key reached the gateway's logs"
echo PASS
