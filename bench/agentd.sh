#!/usr/bin/env bash
# Bench agentd: RSS with 0 and 100 idle sessions, and CPU per 1,000 streamed
# tokens at 100 concurrent streams, against bin/fake-anthropic. The last line is
# exactly: rss_idle_kib=N rss_100_sessions_kib=N cpu_ms_per_1k_tokens=X
# Budget (design): rss_100_sessions_kib < 8192, cpu_ms_per_1k_tokens < 10.
# Also prints (not in the last line) the floor: the same streams read by the
# agent's transport alone (bench_agentd_floor), and the agent's ratio to it.
set -euo pipefail
cd "$(dirname "$0")/.."
AF_BIN="${AF_BIN:-bin}" AF_BUILD="${AF_BUILD:-build}"
tmp=$(mktemp -d /tmp/af-bench-agentd.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
fake_port=$(port); gport=$(port)
"$AF_BIN/fake-anthropic" --listen "127.0.0.1:$fake_port" --log-level warn >"$tmp/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$fake_port") 2>/dev/null && break; sleep 0.05; done
ANTHROPIC_API_KEY=sk-bench "$AF_BIN/agentd" --id ag_bench --manager "" \
  --gateway "tcp://127.0.0.1:$gport" --anthropic-base-url "http://127.0.0.1:$fake_port" \
  --log-level warn >"$tmp/agentd.log" 2>&1 &
agent=$!
pids+=("$agent")
"$AF_BUILD/bench/bench_agentd_load" --gateway-port "$gport" --agent-pid "$agent" \
  --sessions "${AF_BENCH_SESSIONS:-100}" --words "${AF_BENCH_WORDS:-400}" --tps "${AF_BENCH_TPS:-100}" \
  | tee "$tmp/out.txt" >&2
# The floor, same run, same fake, same load: the agent's transport (libcurl on
# libevent) reading the streams and doing nothing per token.
floor=$("$AF_BUILD/bench/bench_agentd_floor" --url "http://127.0.0.1:$fake_port" \
  --streams "${AF_BENCH_SESSIONS:-100}" --words "${AF_BENCH_WORDS:-400}" --tps "${AF_BENCH_TPS:-100}")
python3 - "$floor" "$(tail -n 1 "$tmp/out.txt")" >&2 <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split())
a = dict(kv.split("=") for kv in sys.argv[2].split())
fl, ag = float(f["floor_cpu_ms_per_1k_tokens"]), float(a["cpu_ms_per_1k_tokens"])
print(f"floor (libcurl on libevent, nothing per token): {fl:.2f} ms per 1k tokens; "
      f"agent {ag:.2f} = {ag / fl:.2f}x the floor, {ag - fl:.2f} ms of its own work")
PY
tail -n 1 "$tmp/out.txt"
