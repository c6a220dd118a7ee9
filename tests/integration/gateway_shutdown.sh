#!/usr/bin/env bash
# Graceful stop of the gateway (SIGTERM): it stops accepting connections,
# answers a new request on an open keep-alive connection 503 with
# Retry-After, lets a stream that ends within --shutdown-grace-ms finish
# whole, ends one that would run longer with an SSE error event (never a
# silent cut), and exits 0. A second signal ends what is left at once.
. "$(dirname "$0")/lib.sh"
af_need_bins fake-anthropic manager agentd gateway
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port)
echo "sk-up" >"$AF_TMP/upstream.key"
KEY=$("$AF_BIN/gateway" --add-key sam user --keys-file "$AF_TMP/keys")
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key sk-up
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" af_start manager "$AF_BIN/manager" \
  --listen "tcp://127.0.0.1:$MP" --metrics-listen "127.0.0.1:$MMP" --min-agents 1 --max-agents 2 \
  --anthropic-key-file "$AF_TMP/upstream.key"

# start_gateway NAME GRACE_MS: a gateway on fresh ports; sets HP, GW_PID.
start_gateway() {
  HP=$(af_free_port); local ap; ap=$(af_free_port)
  af_start "$1" "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
    --agent-listen "tcp://127.0.0.1:$ap" --keys-file "$AF_TMP/keys" --shutdown-grace-ms "$2"
  GW_PID=$AF_LAST_PID
  af_wait_port "127.0.0.1:$HP"
  for _ in $(seq 150); do
    [ "$(curl -s "http://127.0.0.1:$HP/readyz" | jq -r .agents 2>/dev/null)" = 1 ] && break; sleep 0.1
  done
}
# stream NAME WORDS: a /v1/messages stream paced at 10 words/s, in the background.
stream() {
  curl -s -N -H "x-api-key: $KEY" -H 'content-type: application/json' \
    -d "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":500,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"go [[words:$2]] [[tps:10]]\"}]}" \
    "http://127.0.0.1:$HP/v1/messages" >"$AF_TMP/$1.out" 2>&1 &
  STREAM_PID=$!
  for _ in $(seq 100); do grep -q content_block_delta "$AF_TMP/$1.out" && break; sleep 0.05; done
}

# 1. Grace 3 s: a 1.5 s stream finishes, a 10 s one gets an error event.
start_gateway gw1 3000
stream short 15; short_pid=$STREAM_PID
stream long 100; long_pid=$STREAM_PID
# A keep-alive connection opened before the signal, used after it.
python3 - "$HP" "$KEY" "$GW_PID" >"$AF_TMP/keepalive.out" 2>&1 <<'PY' &
import http.client, os, signal, sys, time
port, key, gw = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("GET", "/healthz"); r = c.getresponse(); r.read()
os.kill(gw, signal.SIGTERM)
time.sleep(0.5)
body = '{"model":"claude-3-5-haiku-20241022","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}'
c.request("POST", "/v1/messages", body, {"x-api-key": key, "content-type": "application/json"})
r = c.getresponse()
print(r.status, r.getheader("Retry-After"), r.read().decode())
PY
ka_pid=$!
wait "$ka_pid"
read -r status retry body <"$AF_TMP/keepalive.out" || true
af_eq "$status" 503 "request on an open connection while draining"
af_eq "$retry" 1 "Retry-After while draining"
echo "$body" | jq -e '.error.type == "overloaded_error"' >/dev/null || af_fail "503 body: $body"
# New connections are refused while it drains.
curl -s -o /dev/null "http://127.0.0.1:$HP/healthz" && af_fail "new connection accepted while draining"
wait "$short_pid" "$long_pid"
grep -q 'event: message_stop' "$AF_TMP/short.out" || af_fail "short stream cut: $(tail -c 300 "$AF_TMP/short.out")"
grep -q 'event: message_stop' "$AF_TMP/long.out" && af_fail "long stream finished within a 3 s grace"
tail -n 3 "$AF_TMP/long.out" | grep -q '"type":"overloaded_error"' \
  || af_fail "long stream did not end with an error event: $(tail -c 300 "$AF_TMP/long.out")"
rc=0; wait "$GW_PID" || rc=$?
af_eq "$rc" 0 "gateway exit code after draining"
grep -q 'event=shutdown_end aborted=1' "$AF_TMP/gw1.log" || af_fail "drain end not logged"

# 2. A second signal does not wait for the grace period.
start_gateway gw2 60000
stream again 100
kill -TERM "$GW_PID"; sleep 0.3; kill -TERM "$GW_PID"
for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$GW_PID" 2>/dev/null && af_fail "gateway still running 5 s after a second SIGTERM"
wait "$STREAM_PID" || true
tail -n 3 "$AF_TMP/again.out" | grep -q '"type":"overloaded_error"' \
  || af_fail "stream after a second signal: $(tail -c 300 "$AF_TMP/again.out")"
echo "PASS gateway_shutdown"
