#!/usr/bin/env bash
# Overload: bounded queues shed with 503 + Retry-After instead of queueing
# without end, and the gateway recovers by itself once the burst has passed.
# Three bounds, each hit by a burst of slow chats (1 s upstream latency):
# the gateway's in-flight limit (--max-inflight), one agent's queue at the
# gateway (--agent-queue-max), and the agent's own bound (agentd
# --max-inflight -> ERROR capacity -> 503).
. "$(dirname "$0")/lib.sh"

af_need_bins fake-anthropic manager agentd gateway
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port)
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
AF_AGENTD_MAX_INFLIGHT=5 ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" \
  af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 1 --max-agents 1 --heartbeat-ms 300 \
  --anthropic-key-file "$AF_TMP/upstream.key"
declare -A OPTS=([inflight]="--max-inflight 4 --agent-queue-max 0"
                 [queue]="--max-inflight 0 --agent-queue-max 3"
                 [agent]="--max-inflight 0 --agent-queue-max 0")
declare -A URL
for k in inflight queue agent; do
  hp=$(af_free_port); ap=$(af_free_port)
  # shellcheck disable=SC2086
  af_start "gateway_$k" "$AF_BIN/gateway" --listen "127.0.0.1:$hp" --manager "tcp://127.0.0.1:$MP" \
    --agent-listen "tcp://127.0.0.1:$ap" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 0 \
    --user-rate 0 --gateway-id "gw-$k" ${OPTS[$k]}
  URL[$k]="http://127.0.0.1:$hp"
  af_wait_port "127.0.0.1:$hp"
done
for k in inflight queue agent; do
  af_wait_agents "${URL[$k]}" 1 "agent connected to gw-$k"
done

# burst URL N -> "ok=A shed=B other=C retry_after_ok=D" (D: every 503 had Retry-After >= 1)
burst() {
  python3 - "$1" "$2" "$ALICE" <<'PY'
import http.client, json, sys, threading, urllib.parse
url, n, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
u = urllib.parse.urlparse(url)
res = []
def one(i):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    body = json.dumps({"message": "slow one [[latency:1000]]"})
    c.request("POST", "/v1/chat", body, {"x-api-key": key, "content-type": "application/json"})
    r = c.getresponse(); data = r.read()
    err = json.loads(data).get("error", {}) if r.status != 200 else {}
    res.append((r.status, r.getheader("Retry-After"), err.get("type")))
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
ok = sum(1 for s, _, _ in res if s == 200)
shed = [(s, ra, t) for s, ra, t in res if s == 503]
other = len(res) - ok - len(shed)
ra_ok = all(ra is not None and int(ra) >= 1 and t == "overloaded_error" for _, ra, t in shed)
print(f"ok={ok} shed={len(shed)} other={other} retry_after_ok={int(ra_ok)}")
PY
}
check() { # name result want_ok want_shed
  af_log "$1: $2"
  af_eq "$2" "ok=$3 shed=$4 other=0 retry_after_ok=1" "$1 burst"
}

check "gateway in-flight limit 4, burst 10" "$(burst "${URL[inflight]}" 10)" 4 6
curl -s "${URL[inflight]}/metrics" | grep '^gateway_shed_total{reason="inflight"} 6' >/dev/null ||
  af_fail "shed not counted under reason=inflight"
check "agent queue limit 3, burst 8" "$(burst "${URL[queue]}" 8)" 3 5
curl -s "${URL[queue]}/metrics" | grep '^gateway_shed_total{reason="agent_queue"} 5' >/dev/null ||
  af_fail "shed not counted under reason=agent_queue"
check "agentd --max-inflight 5, burst 8" "$(burst "${URL[agent]}" 8)" 5 3

af_log "recovered by itself: the same bursts within the bounds all succeed"
check "in-flight limit, burst 4" "$(burst "${URL[inflight]}" 4)" 4 0
check "agent queue, burst 3" "$(burst "${URL[queue]}" 3)" 3 0
check "agentd bound, burst 5" "$(burst "${URL[agent]}" 5)" 5 0
