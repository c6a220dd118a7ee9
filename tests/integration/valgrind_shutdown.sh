#!/usr/bin/env bash
# Every daemon runs under valgrind through real work and then a clean SIGTERM
# shutdown: manager (spawning its agentd, itself under valgrind, through the
# process provider), gateway, autoscaler and a standalone agentd. Each must
# exit 0 with no memory error and nothing definitely or indirectly lost.
# (Still-reachable blocks are libraries' one-time globals: OpenSSL, libcurl.)
. "$(dirname "$0")/lib.sh"
af_need_bins fake-anthropic manager agentd gateway autoscaler
command -v valgrind >/dev/null || af_fail "valgrind not installed (apt-get install valgrind)"
# Under `make asan` the sanitizers watch every scenario instead (valgrind
# cannot run sanitizer builds).
if ldd "$AF_BIN/gateway" | grep -q libasan; then echo "SKIP valgrind_shutdown: sanitizer build"; exit 0; fi
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port)
ASM=$(af_free_port)
G="http://127.0.0.1:$HP"
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99
    --show-leak-kinds=definite,indirect --num-callers=30)
echo "sk-vg-upstream" >"$AF_TMP/upstream.key"
KEY=$("$AF_BIN/gateway" --add-key vg user --keys-file "$AF_TMP/keys")
ROOT=$("$AF_BIN/gateway" --add-key root admin --keys-file "$AF_TMP/keys")

# The manager spawns agents through this wrapper: each agentd runs under valgrind.
# The manager sets the agent's rlimits just after the spawn (prlimit); valgrind
# must start under them, not have its file-descriptor reserve moved under it,
# so the wrapper waits for the agents' RLIMIT_NOFILE (4096) first.
cat >"$AF_TMP/agentd-vg" <<SH
#!/bin/bash
for ((i = 0; i < 200; i++)); do [ "\$(ulimit -n)" = 4096 ] && break; sleep 0.01; done
exec ${VG[*]} --log-file="$AF_TMP/vg-agentd-%p.log" "$AF_ROOT/$AF_BIN/agentd" "\$@"
SH
chmod +x "$AF_TMP/agentd-vg"
case "$AF_BIN" in /*) sed -i "s|$AF_ROOT/$AF_BIN|$AF_BIN|" "$AF_TMP/agentd-vg" ;; esac

af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key sk-vg-upstream
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" af_start manager "${VG[@]}" \
  --log-file="$AF_TMP/vg-manager.log" "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 1 --max-agents 3 --agentd-path "$AF_TMP/agentd-vg" \
  --spawn-timeout-ms 60000 --anthropic-key-file "$AF_TMP/upstream.key"
declare -A pid_of
pid_of[manager]=$AF_LAST_PID
af_start gateway "${VG[@]}" --log-file="$AF_TMP/vg-gateway.log" "$AF_BIN/gateway" \
  --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" --agent-listen "tcp://127.0.0.1:$AP" \
  --keys-file "$AF_TMP/keys" --ip-rate 100000 --shutdown-grace-ms 2000
pid_of[gateway]=$AF_LAST_PID
af_start autoscaler "${VG[@]}" --log-file="$AF_TMP/vg-autoscaler.log" "$AF_BIN/autoscaler" \
  --manager "tcp://127.0.0.1:$MP" --metrics-listen "127.0.0.1:$ASM" --interval-s 1 \
  --min-agents 1 --max-agents 3 --predictive
pid_of[autoscaler]=$AF_LAST_PID
af_wait_port "127.0.0.1:$HP" 60
for _ in $(seq 300); do
  [ "$(curl -s "$G/readyz" | jq -r .agents 2>/dev/null)" = 1 ] && break; sleep 0.2
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$G/readyz")" 200 "stack ready under valgrind"

# Work through every layer: complete and streamed calls, errors, a user's own
# agent with a session, and its deletion.
msg='{"model":"claude-3-5-haiku-20241022","max_tokens":32,"messages":[{"role":"user","content":"hi"}]}'
smsg='{"model":"claude-3-5-haiku-20241022","max_tokens":32,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
h=(-H "x-api-key: $KEY" -H 'content-type: application/json')
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "${h[@]}" -d "$msg" "$G/v1/messages")" 200 "messages"
af_get -s -N "${h[@]}" -d "$smsg" "$G/v1/messages" | grep -q 'event: message_stop' || af_fail "stream"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "${h[@]}" -d '{"model":' "$G/v1/messages")" 400 "bad JSON"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -d "$msg" "$G/v1/messages")" 401 "no key"
out=$(curl -s "${h[@]}" -d '{}' "$G/v1/agents")
agent=$(echo "$out" | jq -r .agent_id)
[ -n "$agent" ] && [ "$agent" != null ] || af_fail "spawn: $out"
for _ in $(seq 300); do
  [ "$(curl -s "${h[@]}" "$G/v1/agents/$agent" | jq -r .status)" = ready ] && break; sleep 0.2
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "${h[@]}" -d '{"message":"hello"}' \
  "$G/v1/agents/$agent/chat")" 200 "chat on own agent"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${h[@]}" "$G/v1/agents/$agent")" 200 "delete"
curl -s -o /dev/null -H "x-api-key: $ROOT" "$G/v1/stats"
for _ in $(seq 100); do
  grep -q 'decision' "$AF_TMP/autoscaler.log" && break; sleep 0.2
done
grep -q 'decision' "$AF_TMP/autoscaler.log" || af_fail "autoscaler never evaluated"

# A standalone agentd (no manager: the bench's mode), idle, then SIGTERM.
GP=$(af_free_port)
ANTHROPIC_API_KEY=sk-vg-upstream ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" af_start agentd_alone \
  "${VG[@]}" --log-file="$AF_TMP/vg-agentd_alone.log" "$AF_BIN/agentd" --id ag_vg --manager "" \
  --gateway "tcp://127.0.0.1:$GP" --metrics-listen 127.0.0.1:0
pid_of[agentd_alone]=$AF_LAST_PID
sleep 3

# Requests still in flight when the gateway is told to stop: a slow stream
# and a slow complete call (the fake paces them at 5 words/s).
slow='{"model":"claude-3-5-haiku-20241022","max_tokens":400,"messages":[{"role":"user","content":"slow [[words:100]] [[tps:5]]"}]'
curl -s -N "${h[@]}" -d "${slow},\"stream\":true}" "$G/v1/messages" >"$AF_TMP/slow-stream.out" 2>&1 &
slow_pids=($!)
curl -s "${h[@]}" -d "${slow}}" "$G/v1/messages" >"$AF_TMP/slow-call.out" 2>&1 &
slow_pids+=($!)
for _ in $(seq 100); do grep -q content_block_delta "$AF_TMP/slow-stream.out" && break; sleep 0.1; done
grep -q content_block_delta "$AF_TMP/slow-stream.out" || af_fail "slow stream never started"

# Clean shutdown, outermost first; each must exit 0 (valgrind's exit code 99
# means it found an error or a leak).
for name in autoscaler gateway agentd_alone manager; do
  pid=${pid_of[$name]}
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || cat "$AF_TMP/vg-$name.log" >&2
  af_eq "$rc" 0 "$name exit code under valgrind (99: leak or memory error; see vg-$name.log)"
done
# The clients in flight got a whole answer or a clear error, never a silent cut.
wait "${slow_pids[@]}"
tail -c 300 "$AF_TMP/slow-stream.out" | grep -Eq 'event: (message_stop|error)' \
  || af_fail "stream in flight at shutdown ended without message_stop or error: $(tail -c 300 "$AF_TMP/slow-stream.out")"
grep -Eq '"type":"(message|error)"' "$AF_TMP/slow-call.out" \
  || af_fail "call in flight at shutdown: $(cat "$AF_TMP/slow-call.out")"
# The manager's agents exit on its shutdown; give their valgrind time to write.
for _ in $(seq 100); do pgrep -f "$AF_TMP/agentd-vg|valgrind.*$AF_BIN/agentd" >/dev/null || break; sleep 0.2; done
n=0
for f in "$AF_TMP"/vg-*.log; do
  n=$((n + 1))
  grep -q 'ERROR SUMMARY: 0 errors' "$f" || { cat "$f" >&2; af_fail "valgrind errors in $(basename "$f")"; }
  if grep -Eq '(definitely|indirectly) lost: [1-9]' "$f"; then cat "$f" >&2; af_fail "leak in $(basename "$f")"; fi
done
[ "$n" -ge 6 ] || af_fail "expected valgrind logs of 4 daemons and at least 2 agents, got $n"
echo "PASS valgrind_shutdown ($n processes clean)"
