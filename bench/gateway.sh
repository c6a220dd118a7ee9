#!/usr/bin/env bash
# bench/gateway: the same Messages API load (a) straight at bin/fake-anthropic
# and (b) through gateway -> agentd -> fake (real manager placing), in one run:
#   1. fixed rate (default 2,000 req/s, zero-latency upstream): p50/p99 each;
#   2. max throughput of each (closed loop);
#   3. time to first token of streams at a modest rate;
#   4. for attribution (not in the last line): the same fixed-rate load on a
#      gateway whose agents are the stand-in harness (answers at once), i.e. the
#      gateway's own share.
# Each of 1-3 also runs (c) the floor: bench_gateway_floor, the same chain of
# transports (evhttp -> ZeroMQ -> libcurl -> fake and back) doing no work. Its
# figures, printed before the last line, are what this box and this
# architecture allow at best; the stack's distance to them is ours.
# Last line, exactly:
# rate=N direct_p50_ms=X direct_p99_ms=X stack_p50_ms=X stack_p99_ms=X added_p99_ms=X throughput_ratio=X ttft_added_ms=X
# Targets: added_p99_ms < 0.5 at 2,000 req/s, throughput_ratio >= 0.6, ttft_added_ms < 0.3.
# Env: AF_BENCH_RATE (2000), AF_BENCH_SECONDS (5), AF_BENCH_AGENTS (1), AF_BENCH_CLOSED (32),
# AF_BENCH_AGENTD_BATCH_US, AF_BENCH_AGENTD_DELAYED_ACK: agentd's --send-batch-us and
# --upstream-delayed-ack when set; unset, the agent runs with its defaults (batching
# holds only mid-stream tokens, so replies and first tokens leave at once).
set -euo pipefail
cd "$(dirname "$0")/.."
AF_BIN="${AF_BIN:-bin}" AF_BUILD="${AF_BUILD:-build}"
RATE="${AF_BENCH_RATE:-2000}" SECS="${AF_BENCH_SECONDS:-5}" AGENTS="${AF_BENCH_AGENTS:-1}"
CLOSED="${AF_BENCH_CLOSED:-32}"
agentd_env=()
[ -n "${AF_BENCH_AGENTD_BATCH_US:-}" ] && agentd_env+=("AF_AGENTD_SEND_BATCH_US=$AF_BENCH_AGENTD_BATCH_US")
[ -n "${AF_BENCH_AGENTD_DELAYED_ACK:-}" ] && agentd_env+=("AF_AGENTD_UPSTREAM_DELAYED_ACK=$AF_BENCH_AGENTD_DELAYED_ACK")
LOAD="$AF_BUILD/bench/bench_gateway_load"
[ -x "$LOAD" ] || { echo "build $LOAD first" >&2; exit 1; }
tmp=$(mktemp -d /tmp/af-bench-gateway.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true; rm -rf "$tmp"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
FP=$(port) MP=$(port) MMP=$(port) AP=$(port) HP=$(port) ZP=$(port) LP=$(port)
FLOOR="$AF_BUILD/bench/bench_gateway_floor"
[ -x "$FLOOR" ] || { echo "build $FLOOR first" >&2; exit 1; }
echo "sk-bench-upstream" >"$tmp/upstream.key"
KEY=$("$AF_BIN/gateway" --add-key bench user --keys-file "$tmp/keys")

"$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --log-level warn >"$tmp/fake.log" 2>&1 &
pids+=($!)
wait_port "$FP"
env ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" "${agentd_env[@]}" AF_AGENTD_LOG_LEVEL=warn "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents "$AGENTS" --max-agents "$AGENTS" \
  --anthropic-key-file "$tmp/upstream.key" --log-level warn >"$tmp/manager.log" 2>&1 &
pids+=($!)
"$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$tmp/keys" --ip-rate 0 --user-rate 0 \
  --log-level warn >"$tmp/gateway.log" 2>&1 &
pids+=($!)
wait_port "$HP"
for _ in $(seq 200); do
  [ "$(curl -s "http://127.0.0.1:$HP/readyz" | sed -n 's/.*"agents":\([0-9]*\).*/\1/p')" = "$AGENTS" ] && break
  sleep 0.1
done

# The floor chain (c); started after the stack so that pids[0..2] stay fake, manager, gateway.
"$FLOOR" front --listen "$LP" --zmq "tcp://127.0.0.1:$ZP" >"$tmp/floor-front.log" 2>&1 &
pids+=($!)
"$FLOOR" back --zmq "tcp://127.0.0.1:$ZP" --upstream "http://127.0.0.1:$FP" >"$tmp/floor-back.log" 2>&1 &
pids+=($!)
wait_port "$LP"

BODY='{"model":"claude-3-5-sonnet-20241022","max_tokens":64,"messages":[{"role":"user","content":"bench"}]}'
SBODY='{"model":"claude-3-5-sonnet-20241022","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"bench [[words:8]]"}]}'
direct=(--port "$FP" --header "x-api-key: sk-bench-upstream")
stack=(--port "$HP" --header "x-api-key: $KEY")
floor=(--port "$LP" --header "x-api-key: sk-bench-upstream")
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
run() { local out; out=$("$LOAD" "$@"); echo "  $out" >&2; echo "$out"; }

echo "warm-up" >&2
"$LOAD" "${stack[@]}" --body "$BODY" --rate 500 --duration 1 --warmup 0 >/dev/null
echo "1. fixed rate $RATE req/s for ${SECS}s" >&2
d=$(run "${direct[@]}" --body "$BODY" --rate "$RATE" --duration "$SECS" --conns 256)
fl=$(run "${floor[@]}" --body "$BODY" --rate "$RATE" --duration "$SECS" --conns 256)
s=$(run "${stack[@]}" --body "$BODY" --rate "$RATE" --duration "$SECS" --conns 256)
echo "2. max throughput, closed loop with $CLOSED connections" >&2
dm=$(run "${direct[@]}" --body "$BODY" --closed "$CLOSED" --duration "$SECS")
# CPU per request of each process in the closed-loop stack run: where the
# two cores go (the load generator takes the rest).
cpu_of() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
agentds=$(pgrep -P "${pids[1]}" | tr '\n' ' ')
c0=("$(cpu_of "${pids[2]}")" "$(cpu_of $agentds)" "$(cpu_of "${pids[0]}")" "$(cpu_of "${pids[1]}")")
sm=$(run "${stack[@]}" --body "$BODY" --closed "$CLOSED" --duration "$SECS")
c1=("$(cpu_of "${pids[2]}")" "$(cpu_of $agentds)" "$(cpu_of "${pids[0]}")" "$(cpu_of "${pids[1]}")")
n=$(field sent "$sm"); tick=$(getconf CLK_TCK)
us() { echo $(( ($2 - $1) * 1000000 / tick / (n > 0 ? n : 1) )); }
echo "  cpu_us_per_request: gateway=$(us "${c0[0]}" "${c1[0]}") agentd=$(us "${c0[1]}" "${c1[1]}") fake=$(us "${c0[2]}" "${c1[2]}") manager=$(us "${c0[3]}" "${c1[3]}")" >&2
f0=("$(cpu_of "${pids[3]}")" "$(cpu_of "${pids[4]}")" "$(cpu_of "${pids[0]}")")
flm=$(run "${floor[@]}" --body "$BODY" --closed "$CLOSED" --duration "$SECS")
f1=("$(cpu_of "${pids[3]}")" "$(cpu_of "${pids[4]}")" "$(cpu_of "${pids[0]}")")
n=$(field sent "$flm")
echo "  cpu_us_per_request: floor_front=$(us "${f0[0]}" "${f1[0]}") floor_back=$(us "${f0[1]}" "${f1[1]}") fake=$(us "${f0[2]}" "${f1[2]}")" >&2
echo "3. time to first token, streams at 100 req/s" >&2
dt=$(run "${direct[@]}" --body "$SBODY" --rate 100 --duration "$SECS" --stream)
flt=$(run "${floor[@]}" --body "$SBODY" --rate 100 --duration "$SECS" --stream)
st=$(run "${stack[@]}" --body "$SBODY" --rate 100 --duration "$SECS" --stream)

HARNESS="$AF_BUILD/tests/integration/harness_gateway_fleet"
if [ -x "$HARNESS" ]; then
  echo "4. gateway alone (stand-in agents), fixed rate $RATE req/s" >&2
  M2=$(port) A2=$(port) H2=$(port)
  "$HARNESS" --manager "tcp://127.0.0.1:$M2" --gateway "tcp://127.0.0.1:$A2" --pool 1 >"$tmp/harness.log" 2>&1 &
  pids+=($!)
  "$AF_BIN/gateway" --listen "127.0.0.1:$H2" --manager "tcp://127.0.0.1:$M2" --agent-listen "tcp://127.0.0.1:$A2" \
    --keys-file "$tmp/keys" --ip-rate 0 --user-rate 0 --log-level warn --gateway-id gwb2 >"$tmp/gateway2.log" 2>&1 &
  pids+=($!)
  wait_port "$H2"
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$H2/readyz" && break; sleep 0.05; done
  run --port "$H2" --header "x-api-key: $KEY" --body "$BODY" --rate "$RATE" --duration "$SECS" --conns 256 >/dev/null
fi

for v in "$d" "$s" "$dm" "$sm" "$fl" "$flm" "$flt"; do
  [ "$(field errors "$v")" = 0 ] || echo "warning: errors in run: $v" >&2
done
python3 - "$RATE" "$d" "$s" "$dm" "$sm" "$dt" "$st" "$fl" "$flm" "$flt" <<'PY'
import sys
def f(line):
    return dict(kv.split("=", 1) for kv in line.split())
rate = sys.argv[1]
d, s, dm, sm, dt, st, fl, flm, flt = (f(x) for x in sys.argv[2:11])
g = lambda m, k: float(m[k])
# The floor in the last line's terms, then the stack's share of what the floor
# leaves (1.0 = as good as a chain that does nothing).
print(f"floor: added_p99_ms={g(fl,'p99_ms')-g(d,'p99_ms'):.3f} "
      f"throughput_ratio={g(flm,'rps')/g(dm,'rps'):.3f} "
      f"ttft_added_ms={g(flt,'ttft_p50_ms')-g(dt,'ttft_p50_ms'):.3f} "
      f"stack_throughput_of_floor={g(sm,'rps')/g(flm,'rps'):.3f}")
print(f"rate={rate} direct_p50_ms={g(d,'p50_ms'):.3f} direct_p99_ms={g(d,'p99_ms'):.3f} "
      f"stack_p50_ms={g(s,'p50_ms'):.3f} stack_p99_ms={g(s,'p99_ms'):.3f} "
      f"added_p99_ms={g(s,'p99_ms')-g(d,'p99_ms'):.3f} "
      f"throughput_ratio={g(sm,'rps')/g(dm,'rps'):.3f} "
      f"ttft_added_ms={g(st,'ttft_p50_ms')-g(dt,'ttft_p50_ms'):.3f}")
PY
