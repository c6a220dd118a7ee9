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
# Env: AF_BENCH_RATE (2000), AF_BENCH_SECONDS (3, per run), AF_BENCH_ROUNDS (3), AF_BENCH_AGENTS (1),
# AF_BENCH_CLOSED (32),
# AF_BENCH_AGENTD_BATCH_US, AF_BENCH_AGENTD_DELAYED_ACK: agentd's --send-batch-us and
# --upstream-delayed-ack when set; unset, the agent runs with its defaults (batching
# holds only mid-stream tokens, so replies and first tokens leave at once).
set -euo pipefail
cd "$(dirname "$0")/.."
AF_BIN="${AF_BIN:-bin}" AF_BUILD="${AF_BUILD:-build}"
RATE="${AF_BENCH_RATE:-2000}" SECS="${AF_BENCH_SECONDS:-3}" AGENTS="${AF_BENCH_AGENTS:-1}"
ROUNDS="${AF_BENCH_ROUNDS:-3}"
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
# Each phase runs ROUNDS rounds of direct, floor, stack in turn and reports
# each figure's median over its rounds: this box's host steals time in bursts
# of seconds, and interleaved medians keep one burst from deciding a figure.
cpu_of() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
agentds=$(pgrep -P "${pids[1]}" | tr '\n' ' ')
tick=$(getconf CLK_TCK)
# stack: gateway agentd fake manager; floor: front back fake
cpu_stack() { echo "$(cpu_of "${pids[2]}") $(cpu_of $agentds) $(cpu_of "${pids[0]}") $(cpu_of "${pids[1]}")"; }
cpu_floor() { echo "$(cpu_of "${pids[3]}") $(cpu_of "${pids[4]}") $(cpu_of "${pids[0]}")"; }
# per_req "before" "after" requests -> microseconds per request for each column
per_req() { python3 -c 'import sys
a=list(map(int,sys.argv[1].split())); b=list(map(int,sys.argv[2].split())); n=max(int(sys.argv[3]),1); t=int(sys.argv[4])
print(" ".join(str((y-x)*1000000//t//n) for x,y in zip(a,b)))' "$1" "$2" "$3" "$tick"; }
med_cols() { python3 -c 'import sys, statistics
rows=[list(map(int,l.split())) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(str(int(statistics.median(c))) for c in zip(*rows)))' "$1"; }
for k in d fl s dm flm sm dt flt st cpu_stack cpu_floor; do : >"$tmp/$k"; done
# trio D F S ARGS...: one run each of direct, floor and stack with ARGS, their
# lines appended to $tmp/D, $tmp/F and $tmp/S.
trio() {
  local d=$1 f=$2 s=$3; shift 3
  run "${direct[@]}" "$@" >>"$tmp/$d"
  run "${floor[@]}" "$@" >>"$tmp/$f"
  run "${stack[@]}" "$@" >>"$tmp/$s"
}
echo "1. fixed rate $RATE req/s, $ROUNDS rounds of ${SECS}s each" >&2
for _ in $(seq "$ROUNDS"); do trio d fl s --body "$BODY" --rate "$RATE" --duration "$SECS" --conns 256; done
echo "2. max throughput, closed loop with $CLOSED connections, $ROUNDS rounds" >&2
for _ in $(seq "$ROUNDS"); do
  run "${direct[@]}" --body "$BODY" --closed "$CLOSED" --duration "$SECS" >>"$tmp/dm"
  # CPU per request of each process: where the two cores go (the load
  # generator takes the rest).
  c0=$(cpu_floor); out=$(run "${floor[@]}" --body "$BODY" --closed "$CLOSED" --duration "$SECS")
  echo "$out" >>"$tmp/flm"; per_req "$c0" "$(cpu_floor)" "$(field sent "$out")" >>"$tmp/cpu_floor"
  c0=$(cpu_stack); out=$(run "${stack[@]}" --body "$BODY" --closed "$CLOSED" --duration "$SECS")
  echo "$out" >>"$tmp/sm"; per_req "$c0" "$(cpu_stack)" "$(field sent "$out")" >>"$tmp/cpu_stack"
done
read -r g a f m <<<"$(med_cols "$tmp/cpu_stack")"
echo "  cpu_us_per_request (median): gateway=$g agentd=$a fake=$f manager=$m" >&2
read -r ff fb f <<<"$(med_cols "$tmp/cpu_floor")"
echo "  cpu_us_per_request (median): floor_front=$ff floor_back=$fb fake=$f" >&2
echo "3. time to first token, streams at 100 req/s, $ROUNDS rounds" >&2
for _ in $(seq "$ROUNDS"); do trio dt flt st --body "$SBODY" --rate 100 --duration "$SECS" --stream; done

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

cat "$tmp"/{d,fl,s,dm,flm,sm,dt,flt,st} | while read -r v; do
  [ "$(field errors "$v")" = 0 ] || echo "warning: errors in run: $v" >&2
done
python3 - "$RATE" "$tmp" <<'PY'
import statistics, sys
rate, tmp = sys.argv[1], sys.argv[2]
def runs(name):
    return [dict(kv.split("=", 1) for kv in l.split()) for l in open(f"{tmp}/{name}") if l.strip()]
def med(name, key):
    return statistics.median(float(r[key]) for r in runs(name))
# Medians over the rounds. The floor in the last line's terms first, then the
# stack's share of what the floor leaves (1.0 = as good as a chain that does
# nothing).
print(f"floor: added_p99_ms={med('fl','p99_ms')-med('d','p99_ms'):.3f} "
      f"throughput_ratio={med('flm','rps')/med('dm','rps'):.3f} "
      f"ttft_added_ms={med('flt','ttft_p50_ms')-med('dt','ttft_p50_ms'):.3f} "
      f"stack_throughput_of_floor={med('sm','rps')/med('flm','rps'):.3f}")
print(f"rate={rate} direct_p50_ms={med('d','p50_ms'):.3f} direct_p99_ms={med('d','p99_ms'):.3f} "
      f"stack_p50_ms={med('s','p50_ms'):.3f} stack_p99_ms={med('s','p99_ms'):.3f} "
      f"added_p99_ms={med('s','p99_ms')-med('d','p99_ms'):.3f} "
      f"throughput_ratio={med('sm','rps')/med('dm','rps'):.3f} "
      f"ttft_added_ms={med('st','ttft_p50_ms')-med('dt','ttft_p50_ms'):.3f}")
PY
