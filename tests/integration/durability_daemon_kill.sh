#!/usr/bin/env bash
# Durability: kill -9 of the manager does not interrupt a stream in progress
# (it is not on the chat path), and chats on placed sessions go on without it;
# kill -9 of a gateway loses only the requests it was serving, and their
# clients see an error (a cut transfer, never a stream that just stops short
# and looks complete).
. "$(dirname "$0")/lib.sh"

af_need_bins fake-anthropic manager agentd gateway
command -v redis-server >/dev/null || af_fail "redis-server not installed"
RP=$(af_free_port); FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port)
AP1=$(af_free_port); HP1=$(af_free_port); AP2=$(af_free_port); HP2=$(af_free_port)
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"
G1="http://127.0.0.1:$HP1"; G2="http://127.0.0.1:$HP2"

af_start redis redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$RP"; af_wait_port "127.0.0.1:$FP"
AF_AGENTD_REDIS_URL="redis://127.0.0.1:$RP" ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" \
  af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 2 --max-agents 4 --heartbeat-ms 300 \
  --anthropic-key-file "$AF_TMP/upstream.key"
MPID=$AF_LAST_PID
for i in 1 2; do
  hp=HP$i; ap=AP$i
  af_start "gateway$i" "$AF_BIN/gateway" --listen "127.0.0.1:${!hp}" --manager "tcp://127.0.0.1:$MP" \
    --agent-listen "tcp://127.0.0.1:${!ap}" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 0 \
    --user-rate 0 --redis-url "redis://127.0.0.1:$RP" --gateway-id "gw$i"
  eval "GPID$i=\$AF_LAST_PID"
done
af_wait_port "127.0.0.1:$HP1"; af_wait_port "127.0.0.1:$HP2"
for g in "$G1" "$G2"; do
  af_wait_agents "$g" 2 "agents connected to $g"
done

chat() { # gateway session message -> status
  curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
    --data-binary "{\"session_id\":\"$2\",\"message\":\"$3\"}" "$1/v1/chat"
}
stream() { # gateway session out: a 40-word stream at 20 words/s (2 s)
  curl -sN -H "x-api-key: $ALICE" -X POST --max-time 20 -o "$3" --data-binary \
    "{\"session_id\":\"$2\",\"message\":\"long [[words:40]] [[tps:20]]\",\"stream\":true}" "$1/v1/chat"
}
S1=se_mgr_kill_$$; S2=se_gw_kill_$$
af_eq "$(chat "$G1" "$S1" "hello")" 200 "session 1 placed"
af_eq "$(chat "$G2" "$S2" "hello")" 200 "session 2 placed"

af_log "kill -9 of the manager during a stream"
stream "$G1" "$S1" "$AF_TMP/s1" & SP=$!
sleep 0.5
af_reap $(pgrep -P "$MPID")  # its agents live on (by design); stop them at the end
{ kill -9 "$MPID"; wait "$MPID"; } 2>/dev/null || true
wait "$SP" || af_fail "the stream failed after the manager was killed (curl $?)"
grep -q '^event: done' "$AF_TMP/s1" || af_fail "no done event after the manager was killed"
# No gap: the deltas add up to the done event's content.
gap=$(python3 - "$AF_TMP/s1" <<'PY'
import json, sys
ev = None; deltas = []; done = None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("event: "): ev = line[7:]
    elif line.startswith("data: "):
        d = json.loads(line[6:])
        if ev == "delta": deltas.append(d["text"])
        elif ev == "done": done = d["content"]
print("ok" if done is not None and "".join(deltas) == done and len(done.split()) >= 40 else "gap")
PY
)
af_eq "$gap" ok "every delta arrived (deltas add up to the content)"
af_eq "$(chat "$G1" "$S1" "manager still gone")" 200 "a placed session chats on without the manager"

af_log "kill -9 of a gateway during a stream: its client gets an error"
stream "$G2" "$S2" "$AF_TMP/s2" & SP=$!
sleep 0.5
{ kill -9 "$GPID2"; wait "$GPID2"; } 2>/dev/null || true
rc=0; wait "$SP" || rc=$?
[ "$rc" -ne 0 ] || af_fail "the client of the killed gateway saw a clean end"
grep -q '^event: done' "$AF_TMP/s2" && af_fail "a done event from a killed gateway?"
grep -q '^event: delta' "$AF_TMP/s2" || af_fail "the stream had not started before the kill"
af_log "the other gateway serves the same session (route and history in Redis)"
# The cut stream's turn goes on to completion on the agent (nobody told it of
# the kill); until then the session answers "a turn is already in flight".
for _ in $(seq 50); do
  c=$(chat "$G1" "$S2" "after the gateway died"); [ "$c" = 400 ] || break; sleep 0.1
done
af_eq "$c" 200 "session 2 through the surviving gateway ($(cat "$AF_TMP/b"))"
c=$(curl -s -o "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $ALICE" "$G1/v1/sessions/$S2")
af_eq "$c" 200 "session 2 history"
n=$(jq -r '.messages|length' "$AF_TMP/h")
[ "$n" -ge 4 ] || af_fail "session 2 lost acknowledged turns ($n messages)"
af_log "ok: manager kill did not touch the stream; gateway kill gave its client an error (curl rc=$rc)"
