#!/usr/bin/env bash
# Cost controls (issue #10) on the whole stack with a real redis-server and
# bin/fake-anthropic: the same temperature-0 request twice reaches the fake
# once and the second answer is identical and marked as a hit (also replayed
# as a stream the official SDK parses); a user over budget gets 429
# budget_exceeded while another user is unaffected; two gateways share one
# budget through Redis; an admin reset lets the user in again; max_tokens
# ceilings, model allow-lists and routing; GET /v1/usage; per-model agent
# metrics; an aborted stream's tokens are counted; with Redis gone the
# gateways go on from memory.
. "$(dirname "$0")/lib.sh"

SDK="$AF_ROOT/tests/sdk"
command -v redis-server >/dev/null || af_fail "redis-server not installed"
af_need_bins fake-anthropic manager agentd gateway
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port); RP=$(af_free_port)
AP1=$(af_free_port); HP1=$(af_free_port); AP2=$(af_free_port); HP2=$(af_free_port)
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
BOB=$("$AF_BIN/gateway" --add-key bob user --keys-file "$KEYS")
ROOT=$("$AF_BIN/gateway" --add-key root admin --keys-file "$KEYS")
DAVE=$("$AF_BIN/gateway" --add-key dave user --keys-file "$KEYS")
ERIN=$("$AF_BIN/gateway" --add-key erin user --keys-file "$KEYS")
cat >"$AF_TMP/cost.json" <<'JSON'
{"max_tokens": {"user": 4096},
 "models": {"user": ["claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022"]},
 "budgets": {"default": 0, "users": {"bob": 60}},
 "routing": {"default": "claude-3-5-sonnet-20241022",
             "rules": [{"name": "short", "model": "claude-3-5-haiku-20241022",
                        "max_prompt_chars": 200, "max_tokens": 1024, "tools": false}]},
 "cache": {"ttl_s": 600}}
JSON
G1="http://127.0.0.1:$HP1"; G2="http://127.0.0.1:$HP2"; F="http://127.0.0.1:$FP"

af_start redis redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no
REDIS_PID=$AF_LAST_PID
af_wait_port "127.0.0.1:$RP"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="$F" af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 1 --max-agents 2 --heartbeat-ms 300 \
  --anthropic-key-file "$AF_TMP/upstream.key"
for i in 1 2; do
  hp=$HP1; ap=$AP1; [ $i = 2 ] && { hp=$HP2; ap=$AP2; }
  af_start "gateway$i" "$AF_BIN/gateway" --listen "127.0.0.1:$hp" --manager "tcp://127.0.0.1:$MP" \
    --agent-listen "tcp://127.0.0.1:$ap" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 100000 \
    --redis-url "redis://127.0.0.1:$RP" --cost-config "$AF_TMP/cost.json" --gateway-id "gw$i"
  af_wait_port "127.0.0.1:$hp"
done
for g in "$G1" "$G2"; do
  for _ in $(seq 150); do
    [ "$(curl -s "$g/readyz" | jq -r .agents 2>/dev/null)" = 1 ] && break; sleep 0.1
  done
  af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$g/readyz")" 200 "readyz at $g"
done
fake_requests() { curl -s "$F/_stats" | jq -r .requests; }
post() { # gateway key body [extra curl args...] -> status; body in $AF_TMP/b, headers in $AF_TMP/h
  local g=$1 k=$2 b=$3; shift 3
  curl -s -o "$AF_TMP/b" -D "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $k" \
    -H 'content-type: application/json' "$@" --data-binary "$b" "$g/v1/messages"
}

af_log "response cache: one upstream call for the same temperature-0 request"
n0=$(fake_requests)
REQ='{"model":"claude-3-5-sonnet-20241022","max_tokens":64,"temperature":0,"cache":true,"messages":[{"role":"user","content":"cache me please"}]}'
af_eq "$(post "$G1" "$ALICE" "$REQ")" 200 "first call ($(cat "$AF_TMP/b"))"
grep -qi '^x-agentfleet-cache: miss' "$AF_TMP/h" || af_fail "first call not marked miss"
cp "$AF_TMP/b" "$AF_TMP/first.json"
# Same request, other field order and whitespace, on the other gateway.
REQ2='{ "messages": [ {"content":"cache me please", "role":"user"} ],  "cache": true, "temperature": 0, "max_tokens": 64, "model": "claude-3-5-sonnet-20241022" }'
af_eq "$(post "$G2" "$ALICE" "$REQ2")" 200 "second call"
grep -qi '^x-agentfleet-cache: hit' "$AF_TMP/h" || af_fail "second call not marked hit: $(cat "$AF_TMP/h")"
cmp -s "$AF_TMP/b" "$AF_TMP/first.json" || af_fail "cached answer differs: $(cat "$AF_TMP/b") vs $(cat "$AF_TMP/first.json")"
af_eq "$(( $(fake_requests) - n0 ))" 1 "upstream calls for two identical requests"
# Another user does not share alice's entry; temperature 1 is never cached.
af_eq "$(post "$G1" "$BOB" "$REQ")" 200 "bob, same request"
grep -qi '^x-agentfleet-cache: miss' "$AF_TMP/h" || af_fail "bob got alice's cached reply"
n1=$(fake_requests)
HOT='{"model":"claude-3-5-sonnet-20241022","max_tokens":64,"temperature":1,"cache":true,"messages":[{"role":"user","content":"hot"}]}'
post "$G1" "$ALICE" "$HOT" >/dev/null; post "$G1" "$ALICE" "$HOT" >/dev/null
af_eq "$(( $(fake_requests) - n1 ))" 2 "temperature 1 is not cached"
af_eq "$(post "$G1" "$ALICE" '{"model":"claude-3-5-sonnet-20241022","max_tokens":64,"cache":"yes","messages":[{"role":"user","content":"x"}]}')" 400 "cache must be a bool"

af_log "official SDK: a cached reply replayed as a stream"
[ -d "$SDK/node_modules/@anthropic-ai/sdk" ] || af_fail "SDK not installed (npm install in tests/sdk)"
n2=$(fake_requests)
node "$SDK/cache_replay.mjs" "$G1" "$ALICE" "replay this through the sdk" >"$AF_TMP/sdk.json" \
  || af_fail "SDK replay: $(cat "$AF_TMP/sdk.json")"
af_eq "$(jq -r .create.cache "$AF_TMP/sdk.json")" miss "SDK create: first is a miss"
af_eq "$(jq -r .stream.cache "$AF_TMP/sdk.json")" hit "SDK stream: replayed from the cache"
af_eq "$(jq -r .stream.text "$AF_TMP/sdk.json")" "$(jq -r .create.text "$AF_TMP/sdk.json")" "replayed text"
af_eq "$(jq -r '.stream.events | join(",")' "$AF_TMP/sdk.json")" \
  "message_start,content_block_start,content_block_delta,content_block_stop,message_delta,message_stop" \
  "replayed SSE event sequence (ping is not surfaced by the SDK)"
af_eq "$(( $(fake_requests) - n2 ))" 1 "SDK create + cached stream: one upstream call"

af_log "max_tokens ceiling, model allow-list, routing"
af_eq "$(post "$G1" "$ALICE" '{"model":"claude-3-5-sonnet-20241022","max_tokens":5000,"messages":[{"role":"user","content":"x"}]}')" 400 "max_tokens above the user ceiling"
grep -q 'max_tokens: 5000 is above the ceiling of 4096' "$AF_TMP/b" || af_fail "ceiling message: $(cat "$AF_TMP/b")"
af_eq "$(post "$G1" "$ROOT" '{"model":"claude-3-5-sonnet-20241022","max_tokens":5000,"messages":[{"role":"user","content":"x"}]}')" 200 "admins have a higher ceiling"
af_eq "$(post "$G1" "$ALICE" '{"model":"claude-3-opus-20240229","max_tokens":10,"messages":[{"role":"user","content":"x"}]}')" 403 "model outside the user allow-list"
af_eq "$(post "$G1" "$ALICE" '{"max_tokens":100,"messages":[{"role":"user","content":"short"}]}')" 200 "no model named"
af_eq "$(jq -r .model "$AF_TMP/b")" claude-3-5-haiku-20241022 "short prompt routed to haiku"
LONG=$(printf 'word %.0s' $(seq 60))
af_eq "$(post "$G1" "$ALICE" "{\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"$LONG\"}]}")" 200 "long prompt"
af_eq "$(jq -r .model "$AF_TMP/b")" claude-3-5-sonnet-20241022 "long prompt routed to sonnet"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" --data-binary '{"message":"hi"}' "$G1/v1/chat")
af_eq "$c" 200 "chat without a model"; af_eq "$(jq -r .model "$AF_TMP/b")" claude-3-5-haiku-20241022 "chat routed"
grep -q 'gateway_model_routed_total{model="claude-3-5-haiku-20241022",rule="short"}' <<<"$(curl -s "$G1/metrics")" \
  || af_fail "routing decisions not counted"

af_log "budgets: bob (60 tokens/day) runs out, alice does not, both gateways agree"
code=200
for i in $(seq 20); do
  code=$(post "$G1" "$BOB" "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"spend tokens $i\"}]}")
  [ "$code" = 200 ] || break
done
af_eq "$code" 429 "bob over budget"
af_eq "$(jq -r .error.type "$AF_TMP/b")" budget_exceeded "error type"
[ "$(jq -r .error.reset_at "$AF_TMP/b")" = "$(date -u -d tomorrow +%Y-%m-%dT00:00:00Z)" ] || af_fail "reset_at: $(cat "$AF_TMP/b")"
grep -qi '^retry-after: [0-9]' "$AF_TMP/h" || af_fail "no Retry-After"
af_eq "$(post "$G2" "$BOB" '{"model":"claude-3-5-haiku-20241022","max_tokens":8,"messages":[{"role":"user","content":"other gateway"}]}')" 429 "bob over budget on the second gateway too"
af_eq "$(post "$G2" "$BOB" "$REQ")" 200 "over budget, bob still gets his cached reply (it costs nothing)"
grep -qi '^x-agentfleet-cache: hit' "$AF_TMP/h" || af_fail "bob's cached reply was not a hit"
af_eq "$(post "$G2" "$ALICE" '{"model":"claude-3-5-haiku-20241022","max_tokens":8,"messages":[{"role":"user","content":"alice still fine"}]}')" 200 "alice unaffected"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $BOB" "$G2/v1/usage")
af_eq "$c" 200 "bob's own usage"
af_eq "$(jq -r .budget.exceeded "$AF_TMP/b")" true "usage shows the budget spent"
[ "$(jq -r .today.input_tokens "$AF_TMP/b")" -gt 0 ] || af_fail "bob's input tokens: $(cat "$AF_TMP/b")"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" "$G1/v1/usage?user=alice")" 403 "bob reads alice's usage"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" -X POST "$G1/v1/budgets/bob/reset")" 403 "bob resets his own budget"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $ROOT" -X POST "$G1/v1/budgets/bob/reset")" 200 "admin resets bob's budget"
af_eq "$(post "$G2" "$BOB" '{"model":"claude-3-5-haiku-20241022","max_tokens":8,"messages":[{"role":"user","content":"after reset"}]}')" 200 "bob after the reset (other gateway)"

af_log "usage report"
c=$(curl -s -o "$AF_TMP/u" -w '%{http_code}' -H "x-api-key: $ROOT" "$G2/v1/usage?user=alice")
af_eq "$c" 200 "admin reads alice's usage"
af_eq "$(jq -r .user "$AF_TMP/u")" alice "report user"
af_eq "$(jq -r .today.cache_hits "$AF_TMP/u")" 2 "alice's cache hits (curl + SDK stream)"
[ "$(jq -r '.today.by_model["claude-3-5-haiku-20241022"].requests' "$AF_TMP/u")" -ge 3 ] || af_fail "haiku requests: $(cat "$AF_TMP/u")"
[ "$(jq -r '.last_30_days.requests' "$AF_TMP/u")" = "$(jq -r '.today.requests' "$AF_TMP/u")" ] || af_fail "30-day total"
python3 -c "import json,sys; u=json.load(open(sys.argv[1])); assert u['today']['cost_usd'] > 0, u; assert u['today']['tokens_saved'] > 0, u" "$AF_TMP/u" \
  || af_fail "cost or tokens saved missing: $(cat "$AF_TMP/u")"
m=$(curl -s "$G1/metrics")
grep -q '^gateway_cache_hits_total [1-9]' <<<"$m" || af_fail "gateway_cache_hits_total"
grep -q '^gateway_user_tokens_total{user="bob",direction="input"} [1-9]' <<<"$m" || af_fail "per-user token counter"
grep -q '^gateway_budget_exceeded_total{user="bob"} [1-9]' <<<"$m" || af_fail "budget exceeded counter"
agent_metrics() { for t in $(curl -s "http://127.0.0.1:$MMP/sd" | jq -r '.[].targets[0]'); do curl -s "http://$t/metrics"; done; }
grep -q '^agent_requests_total{model="claude-3-5-haiku-20241022",status="ok"} [1-9]' <<<"$(agent_metrics)" \
  || af_fail "agent_requests_total{model,status} at the agents"

af_log "an aborted stream still counts its tokens (agentd's ERROR cancelled carries usage)"
curl -s -N --max-time 1 -o /dev/null -H "x-api-key: $DAVE" -H 'content-type: application/json' \
  --data-binary '{"model":"claude-3-5-haiku-20241022","max_tokens":512,"stream":true,"messages":[{"role":"user","content":"a long one [[words:200]] [[tps:20]]"}]}' \
  "$G1/v1/messages" || true
for _ in $(seq 40); do
  grep -q '^gateway_user_tokens_total{user="dave",direction="output"} [1-9]' <<<"$(curl -s "$G1/metrics")" && break; sleep 0.1
done
grep -q '^gateway_user_tokens_total{user="dave",direction="input"} [1-9]' <<<"$(curl -s "$G1/metrics")" \
  || af_fail "dave's aborted stream: no input tokens counted"
grep -q '^gateway_user_tokens_total{user="dave",direction="output"} [1-9]' <<<"$(curl -s "$G1/metrics")" \
  || af_fail "dave's aborted stream: no output tokens counted"
c=$(curl -s -o "$AF_TMP/d" -w '%{http_code}' -H "x-api-key: $DAVE" "$G2/v1/usage")
af_eq "$c" 200 "dave's usage"
[ "$(jq -r .budget.used "$AF_TMP/d")" -gt 0 ] || af_fail "aborted call not in dave's budget: $(cat "$AF_TMP/d")"
grep -q '^agent_requests_total{model="claude-3-5-haiku-20241022",status="cancelled"} [1-9]' <<<"$(agent_metrics)" \
  || af_fail "cancelled request not counted by model"
af_log "a stream that fails mid-way still counts its tokens"
curl -s -N -o "$AF_TMP/mid" -H "x-api-key: $ERIN" -H 'content-type: application/json' \
  --data-binary '{"model":"claude-3-5-haiku-20241022","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"fail mid-way [[words:20]] [[fault:midstream]]"}]}' \
  "$G1/v1/messages"
grep -q '^event: error' "$AF_TMP/mid" || af_fail "mid-stream failure not surfaced: $(cat "$AF_TMP/mid")"
c=$(curl -s -o "$AF_TMP/e" -w '%{http_code}' -H "x-api-key: $ERIN" "$G1/v1/usage")
af_eq "$c" 200 "erin's usage"
[ "$(jq -r '.today.by_model["claude-3-5-haiku-20241022"].output_tokens' "$AF_TMP/e")" -ge 1 ] \
  || af_fail "a failed stream's tokens were not counted: $(cat "$AF_TMP/e")"

af_log "what Redis holds: usage hashes kept 32 days, cached replies with the configured TTL"
DAY=$(( $(date -u +%s) / 86400 ))
ttl=$(redis-cli -p "$RP" ttl "af:usage:alice:$DAY")
[ "$ttl" -gt $((31 * 86400)) ] && [ "$ttl" -le $((32 * 86400)) ] || af_fail "usage hash TTL: $ttl"
af_eq "$(redis-cli -p "$RP" hget "af:usage:alice:$DAY" 'h:claude-3-5-sonnet-20241022')" 1 "alice's curl cache hit in Redis"
n=0; for k in $(redis-cli -p "$RP" --scan --pattern 'af:cache:*'); do
  t=$(redis-cli -p "$RP" ttl "$k"); [ "$t" -gt 0 ] && [ "$t" -le 600 ] || af_fail "cache entry $k TTL $t"; n=$((n + 1))
done
[ "$n" -ge 3 ] || af_fail "cached replies in Redis: $n"

af_log "Redis gone: the gateways keep serving from memory (cache and counters per gateway)"
kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
for _ in $(seq 50); do grep -q 'event=redis_down' "$AF_TMP/gateway1.log" && break; sleep 0.1; done
grep -q 'event=redis_down' "$AF_TMP/gateway1.log" || af_fail "gateway1 did not notice Redis going"
DOWN='{"model":"claude-3-5-haiku-20241022","max_tokens":16,"temperature":0,"cache":true,"messages":[{"role":"user","content":"redis is down"}]}'
af_eq "$(post "$G1" "$ALICE" "$DOWN")" 200 "a call with Redis down"
grep -qi '^x-agentfleet-cache: miss' "$AF_TMP/h" || af_fail "first call with Redis down not a miss"
af_eq "$(post "$G1" "$ALICE" "$DOWN")" 200 "the same call again"
grep -qi '^x-agentfleet-cache: hit' "$AF_TMP/h" || af_fail "the memory cache did not answer with Redis down"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $ALICE" "$G1/v1/usage")" 200 "usage with Redis down"
af_log "PASS: cache, SDK replay, ceilings, allow-list, routing, shared budgets, usage, aborted calls counted, Redis loss degrades to memory"
