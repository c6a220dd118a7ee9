#!/usr/bin/env bash
# Cost controls across a Redis outage (issue #10), with a real redis-server
# (append-only file, so a restart keeps its data) and two gateways on it.
# Cache size: gateway_cache_bytes rises by the stored reply's size on a
# miss+store, does not move on a hit, counts one entry once when two identical
# misses both store it (the overwrite replaces the size), and is back to 0 once
# the TTL (5 s here) has passed; gateway_cache_misses_total and
# gateway_cache_tokens_saved_total have the exact values.
# Usage: tokens spent while Redis is down are written back when it returns,
# once: GET /v1/usage on either gateway shows the sum of before and during the
# outage, the budget counts them (429 on both gateways), and while Redis is
# down the budget is Redis' last value plus the local counts (a user whose
# outage spending alone is under the budget but whose day total is over it is
# refused).
. "$(dirname "$0")/lib.sh"

command -v redis-server >/dev/null || af_fail "redis-server not installed"
af_need_bins fake-anthropic manager agentd gateway
FP=$(af_free_port); MP=$(af_free_port); RP=$(af_free_port)
AP1=$(af_free_port); HP1=$(af_free_port); AP2=$(af_free_port); HP2=$(af_free_port)
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
CARL=$("$AF_BIN/gateway" --add-key carl user --keys-file "$KEYS")
BUDGET=350
cat >"$AF_TMP/cost.json" <<JSON
{"budgets": {"default": 0, "users": {"carl": $BUDGET}},
 "cache": {"ttl_s": 5}}
JSON
G1="http://127.0.0.1:$HP1"; G2="http://127.0.0.1:$HP2"; F="http://127.0.0.1:$FP"
R() { redis-cli -p "$RP" "$@"; }
start_redis() {
  af_start "redis$1" redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync always --dir "$AF_TMP"
  REDIS_PID=$AF_LAST_PID
  af_wait_port "127.0.0.1:$RP"
}
metric() { # url name -> value (0 when absent)
  curl -s "$1/metrics" | awk -v n="$2" '$1 == n { v = $2 } END { print (v == "" ? 0 : v + 0) }'
}
redis_up() { # url 0|1: waits until gateway_redis_up says so
  for _ in $(seq 100); do [ "$(metric "$1" gateway_redis_up)" = "$2" ] && return 0; sleep 0.1; done
  af_fail "gateway_redis_up at $1 is not $2"
}

start_redis 1
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="$F" af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --min-agents 1 --max-agents 1 --heartbeat-ms 300 --anthropic-key-file "$AF_TMP/upstream.key"
for i in 1 2; do
  hp=$HP1; ap=$AP1; [ $i = 2 ] && { hp=$HP2; ap=$AP2; }
  af_start "gateway$i" "$AF_BIN/gateway" --listen "127.0.0.1:$hp" --manager "tcp://127.0.0.1:$MP" \
    --agent-listen "tcp://127.0.0.1:$ap" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 100000 \
    --redis-url "redis://127.0.0.1:$RP" --cost-config "$AF_TMP/cost.json" --gateway-id "gw$i"
  af_wait_port "127.0.0.1:$hp"
done
af_wait_agents "$G1" 1 "agents at gateway 1"
af_wait_agents "$G2" 1 "agents at gateway 2"
post() { # gateway key body -> status; body in $AF_TMP/b, headers in $AF_TMP/h
  curl -s -o "$AF_TMP/b" -D "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $2" \
    -H 'content-type: application/json' --data-binary "$3" "$1/v1/messages"
}

af_log "cache size: a miss stores, a hit does not move it, the TTL takes it back to 0"
af_eq "$(metric "$G1" gateway_cache_bytes)" 0 "cache bytes before any store"
REQ='{"model":"claude-3-5-haiku-20241022","max_tokens":64,"temperature":0,"cache":true,"messages":[{"role":"user","content":"size me [[words:12]]"}]}'
af_eq "$(post "$G1" "$ALICE" "$REQ")" 200 "first call"
grep -qi '^x-agentfleet-cache: miss' "$AF_TMP/h" || af_fail "first call not a miss"
IN=$(jq -r .usage.input_tokens "$AF_TMP/b"); OUT=$(jq -r .usage.output_tokens "$AF_TMP/b")
KEY=$(R --scan --pattern 'af:cache:*' | head -1)
[ -n "$KEY" ] || af_fail "no entry in Redis"
SIZE=$(R strlen "$KEY")
[ "$SIZE" -gt 50 ] || af_fail "stored reply size $SIZE"
for _ in $(seq 20); do [ "$(metric "$G1" gateway_cache_bytes)" = "$SIZE" ] && break; sleep 0.1; done
af_eq "$(metric "$G1" gateway_cache_bytes)" "$SIZE" "gateway_cache_bytes after a miss+store"
af_eq "$(R get af:cache_bytes)" "$SIZE" "the shared total in Redis"
af_eq "$(metric "$G1" gateway_cache_misses_total)" 1 "misses after the first call"
af_eq "$(post "$G2" "$ALICE" "$REQ")" 200 "second call (other gateway)"
grep -qi '^x-agentfleet-cache: hit' "$AF_TMP/h" || af_fail "second call not a hit"
af_eq "$(metric "$G1" gateway_cache_bytes)" "$SIZE" "gateway_cache_bytes after a hit"
af_eq "$(metric "$G2" gateway_cache_hits_total)" 1 "hits at gateway 2"
af_eq "$(metric "$G2" gateway_cache_misses_total)" 0 "misses at gateway 2"
af_eq "$(metric "$G2" 'gateway_cache_tokens_saved_total{direction="input"}')" "$IN" "input tokens saved"
af_eq "$(metric "$G2" 'gateway_cache_tokens_saved_total{direction="output"}')" "$OUT" "output tokens saved"
[ "$OUT" -ge 12 ] || af_fail "output tokens of the cached reply: $OUT"

af_log "two identical misses both store: one entry, counted once"
REQ2='{"model":"claude-3-5-haiku-20241022","max_tokens":64,"temperature":0,"cache":true,"messages":[{"role":"user","content":"twice [[words:8]] [[latency:1000]]"}]}'
post "$G1" "$ALICE" "$REQ2" >/dev/null & P1=$!
curl -s -o "$AF_TMP/b2" -D "$AF_TMP/h2" -H "x-api-key: $ALICE" -H 'content-type: application/json' \
  --data-binary "$REQ2" "$G2/v1/messages" & P2=$!
wait "$P1" "$P2"
grep -qi '^x-agentfleet-cache: miss' "$AF_TMP/h" || af_fail "concurrent call 1 not a miss"
grep -qi '^x-agentfleet-cache: miss' "$AF_TMP/h2" || af_fail "concurrent call 2 not a miss"
af_eq "$(( $(metric "$G1" gateway_cache_misses_total) + $(metric "$G2" gateway_cache_misses_total) ))" 3 "misses on both gateways"
# One atomic read: the entries indexed, the sum of their stored sizes, the total.
SUM='local s = 0 local ks = redis.call("ZRANGE", KEYS[1], 0, -1)
for _, k in ipairs(ks) do s = s + redis.call("STRLEN", "af:cache:" .. k) end
return {#ks, s, tonumber(redis.call("GET", KEYS[2]) or 0)}'
read -r N TOTAL SHARED <<<"$(R eval "$SUM" 2 af:cache_index af:cache_bytes | tr '\n' ' ')"
af_eq "$N" 2 "entries in the index"
af_eq "$SHARED" "$TOTAL" "shared total = sum of the stored replies"
for g in "$G1" "$G2"; do
  for _ in $(seq 20); do [ "$(metric "$g" gateway_cache_bytes)" = "$TOTAL" ] && break; sleep 0.1; done
  af_eq "$(metric "$g" gateway_cache_bytes)" "$TOTAL" "gateway_cache_bytes at $g = sum of the stored replies"
done
for _ in $(seq 150); do
  [ "$(metric "$G1" gateway_cache_bytes)" = 0 ] && [ "$(metric "$G2" gateway_cache_bytes)" = 0 ] && break
  sleep 0.1
done
af_eq "$(metric "$G1" gateway_cache_bytes)" 0 "gateway 1: cache bytes after the TTL"
af_eq "$(metric "$G2" gateway_cache_bytes)" 0 "gateway 2: cache bytes after the TTL"
af_eq "$(R zcard af:cache_index)" 0 "index after the TTL"
af_eq "$(R hlen af:cache_sizes)" 0 "sizes after the TTL"

af_log "usage: spend with Redis up, during an outage, and after it"
spend() { # gateway n -> status of the call; tokens of a 200 added to SPENT
  local c
  c=$(post "$1" "$CARL" "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":200,\"messages\":[{\"role\":\"user\",\"content\":\"spend $2 [[words:100]]\"}]}")
  [ "$c" = 200 ] && SPENT=$((SPENT + $(jq -r '.usage.input_tokens + .usage.output_tokens' "$AF_TMP/b")))
  echo "$c" >"$AF_TMP/code"
}
usage() { # gateway -> GET /v1/usage into $AF_TMP/u
  af_eq "$(curl -s -o "$AF_TMP/u" -w '%{http_code}' -H "x-api-key: $CARL" "$1/v1/usage")" 200 "usage at $1"
}
SPENT=0
spend "$G1" 1; af_eq "$(cat "$AF_TMP/code")" 200 "spend 1"
spend "$G1" 2; af_eq "$(cat "$AF_TMP/code")" 200 "spend 2"
U1=$SPENT
[ "$U1" -lt "$BUDGET" ] || af_fail "the spend before the outage ($U1) is already over $BUDGET"
usage "$G1"
af_eq "$(jq -r .budget.used "$AF_TMP/u")" "$U1" "budget used before the outage"

kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
redis_up "$G1" 0
spend "$G1" 3; af_eq "$(cat "$AF_TMP/code")" 200 "spend 3 (Redis down)"
spend "$G1" 4; af_eq "$(cat "$AF_TMP/code")" 200 "spend 4 (Redis down)"
U2=$((SPENT - U1))
[ "$U2" -lt "$BUDGET" ] && [ "$SPENT" -ge "$BUDGET" ] \
  || af_fail "token sizes changed: before=$U1 during=$U2 budget=$BUDGET"
usage "$G1"
af_eq "$(jq -r .degraded "$AF_TMP/u")" true "usage while Redis is down is marked degraded"
af_eq "$(jq -r .budget.used "$AF_TMP/u")" "$SPENT" "budget while down = Redis' last value + local counts"
spend "$G1" 5; af_eq "$(cat "$AF_TMP/code")" 429 "over budget while Redis is down (only $U2 spent during it)"

start_redis 2
redis_up "$G1" 1
redis_up "$G2" 1
DAY=$(( $(date -u +%s) / 86400 ))
for _ in $(seq 40); do [ "$(R hget "af:usage:carl:$DAY" b)" = "$SPENT" ] && break; sleep 0.1; done
af_eq "$(R hget "af:usage:carl:$DAY" b)" "$SPENT" "budget counter in Redis after the write-back"
grep -q 'event=usage_writeback user_days=1' "$AF_TMP/gateway1.log" || af_fail "no write-back logged"
for g in "$G1" "$G2"; do
  usage "$g"
  af_eq "$(jq -r '.degraded // false' "$AF_TMP/u")" false "usage at $g after Redis returned"
  af_eq "$(jq -r '.today.input_tokens + .today.output_tokens' "$AF_TMP/u")" "$SPENT" "today's tokens at $g"
  af_eq "$(jq -r .today.requests "$AF_TMP/u")" 4 "today's requests at $g"
  af_eq "$(jq -r .budget.used "$AF_TMP/u")" "$SPENT" "budget used at $g"
  af_eq "$(jq -r .budget.exceeded "$AF_TMP/u")" true "budget exceeded at $g"
  spend "$g" 6; af_eq "$(cat "$AF_TMP/code")" 429 "over budget at $g after Redis returned"
done
sleep 1.5 # a few more write-back ticks: nothing is written twice
af_eq "$(R hget "af:usage:carl:$DAY" b)" "$SPENT" "budget counter after more ticks"
af_eq "$(R hget "af:usage:carl:$DAY" 'r:claude-3-5-haiku-20241022')" 4 "requests in Redis"
ttl=$(R ttl "af:usage:carl:$DAY")
[ "$ttl" -gt $((31 * 86400)) ] && [ "$ttl" -le $((32 * 86400)) ] || af_fail "usage hash TTL: $ttl"
af_log "PASS: cache size exact (store, hit, double store, TTL), misses and tokens saved; usage spent during a Redis outage written back once, seen by both gateways and the budget"
