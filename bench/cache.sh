#!/usr/bin/env bash
# bench/cache: latency of a response-cache hit through the whole stack
# (HTTP -> gateway -> Redis GET -> reply) against a miss (Redis GET -> agentd
# -> zero-latency bin/fake-anthropic -> Redis SET -> reply), same load, same
# stack: a real redis-server, the manager with one agentd, one gateway with
# --redis-url and the cache on for /v1/messages. Hits repeat one temperature-0
# request; misses number every request ("{seq}") so none repeats. The fake's
# request count proves the hits never reached it.
# Last line, exactly: hit_p50_ms=X hit_p99_ms=X miss_p50_ms=X miss_p99_ms=X
# Env: AF_BENCH_RATE (500 req/s), AF_BENCH_SECONDS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
AF_BIN="${AF_BIN:-bin}" AF_BUILD="${AF_BUILD:-build}"
RATE="${AF_BENCH_RATE:-500}" SECS="${AF_BENCH_SECONDS:-5}"
LOAD="$AF_BUILD/bench/bench_gateway_load"
[ -x "$LOAD" ] || { echo "build $LOAD first" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }
tmp=$(mktemp -d /tmp/af-bench-cache.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true; rm -rf "$tmp"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
FP=$(port) MP=$(port) MMP=$(port) AP=$(port) HP=$(port) RP=$(port)
echo "sk-bench-upstream" >"$tmp/upstream.key"
KEY=$("$AF_BIN/gateway" --add-key bench user --keys-file "$tmp/keys")
echo '{"cache": {"ttl_s": 600, "routes": {"/v1/messages": {"enabled": true, "shared": false}}}}' >"$tmp/cost.json"

redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning >"$tmp/redis.log" 2>&1 &
pids+=($!)
"$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --log-level warn >"$tmp/fake.log" 2>&1 &
pids+=($!)
wait_port "$RP"; wait_port "$FP"
ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" AF_AGENTD_LOG_LEVEL=warn \
  "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" --metrics-listen "127.0.0.1:$MMP" \
  --min-agents 1 --max-agents 1 --anthropic-key-file "$tmp/upstream.key" --log-level warn \
  >"$tmp/manager.log" 2>&1 &
pids+=($!)
"$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$tmp/keys" --ip-rate 0 --user-rate 0 \
  --redis-url "redis://127.0.0.1:$RP" --cost-config "$tmp/cost.json" --log-level warn \
  >"$tmp/gateway.log" 2>&1 &
pids+=($!)
wait_port "$HP"
for _ in $(seq 200); do
  [ "$(curl -s "http://127.0.0.1:$HP/readyz" | sed -n 's/.*"agents":\([0-9]*\).*/\1/p')" = 1 ] && break
  sleep 0.1
done

HIT='{"model":"claude-3-5-haiku-20241022","max_tokens":64,"temperature":0,"messages":[{"role":"user","content":"bench the cache"}]}'
MISS='{"model":"claude-3-5-haiku-20241022","max_tokens":64,"temperature":0,"messages":[{"role":"user","content":"bench miss {seq}"}]}'
stack=(--port "$HP" --header "x-api-key: $KEY")
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
fake_requests() { curl -s "http://127.0.0.1:$FP/_stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'; }

echo "warm-up (misses) and priming the hit entry" >&2
"$LOAD" "${stack[@]}" --body "${MISS/bench miss/warm}" --rate 200 --duration 1 --warmup 0 >/dev/null
curl -s -o /dev/null -H "x-api-key: $KEY" -H 'content-type: application/json' --data-binary "$HIT" \
  "http://127.0.0.1:$HP/v1/messages"
echo "1. hits at $RATE req/s for ${SECS}s" >&2
n0=$(fake_requests)
h=$("$LOAD" "${stack[@]}" --body "$HIT" --rate "$RATE" --duration "$SECS" --conns 128); echo "  $h" >&2
n1=$(fake_requests)
[ "$n1" = "$n0" ] || { echo "error: $((n1 - n0)) hits reached the fake" >&2; exit 1; }
echo "2. misses at $RATE req/s for ${SECS}s" >&2
m=$("$LOAD" "${stack[@]}" --body "$MISS" --rate "$RATE" --duration "$SECS" --conns 128); echo "  $m" >&2
n2=$(fake_requests)
echo "  upstream calls during misses: $((n2 - n1))" >&2
for v in "$h" "$m"; do [ "$(field errors "$v")" = 0 ] || echo "warning: errors in run: $v" >&2; done
hits=$(curl -s "http://127.0.0.1:$HP/metrics" | sed -n 's/^gateway_cache_hits_total \([0-9.e+]*\)$/\1/p')
echo "  gateway_cache_hits_total=$hits" >&2
echo "hit_p50_ms=$(field p50_ms "$h") hit_p99_ms=$(field p99_ms "$h") miss_p50_ms=$(field p50_ms "$m") miss_p99_ms=$(field p99_ms "$m")"
