#!/usr/bin/env bash
# Durability: two gateways sharing one Redis serve the same session alternately:
# the session -> agent route one gateway stores (route:{id}) is the one the other
# follows, so every turn lands on the same agent and the history is one.
. "$(dirname "$0")/lib.sh"

af_need_bins fake-anthropic manager agentd gateway
command -v redis-server >/dev/null || af_fail "redis-server not installed"
RP=$(af_free_port); FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port)
AP1=$(af_free_port); HP1=$(af_free_port); AP2=$(af_free_port); HP2=$(af_free_port)
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
BOB=$("$AF_BIN/gateway" --add-key bob user --keys-file "$KEYS")
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"

af_start redis redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$RP"; af_wait_port "127.0.0.1:$FP"
AF_AGENTD_REDIS_URL="redis://127.0.0.1:$RP" ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" \
  af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 3 --max-agents 6 --heartbeat-ms 300 \
  --anthropic-key-file "$AF_TMP/upstream.key"
for i in 1 2; do
  hp=HP$i; ap=AP$i
  af_start "gateway$i" "$AF_BIN/gateway" --listen "127.0.0.1:${!hp}" --manager "tcp://127.0.0.1:$MP" \
    --agent-listen "tcp://127.0.0.1:${!ap}" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 0 \
    --user-rate 0 --redis-url "redis://127.0.0.1:$RP" --gateway-id "gw$i"
done
G1="http://127.0.0.1:$HP1"; G2="http://127.0.0.1:$HP2"
af_wait_port "127.0.0.1:$HP1"; af_wait_port "127.0.0.1:$HP2"
for g in "$G1" "$G2"; do
  af_wait_agents "$g" 3 "three agents connected to $g"
done

chat() { # gateway session message
  curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
    --data-binary "{\"session_id\":\"$2\",\"message\":\"$3\"}" "$1/v1/chat"
}

af_log "one session, turns alternating between the two gateways"
S=se_alternate_$$
AG=""
for t in 1 2 3 4 5 6; do
  if [ $((t % 2)) = 1 ]; then g=$G1; else g=$G2; fi
  af_eq "$(chat "$g" "$S" "turn $t")" 200 "turn $t via $g ($(cat "$AF_TMP/b"))"
  a=$(jq -r .agent_id "$AF_TMP/b")
  [ -z "$AG" ] && AG=$a
  af_eq "$a" "$AG" "turn $t served by the session's agent"
done
for g in "$G1" "$G2"; do
  c=$(curl -s -o "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $ALICE" "$g/v1/sessions/$S")
  af_eq "$c" 200 "history via $g"
  af_eq "$(jq -r '.messages|length' "$AF_TMP/h")" 12 "one history with every turn via $g"
  af_eq "$(jq -r '.messages[10].content' "$AF_TMP/h")" "turn 6" "last turn via $g"
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" "$G2/v1/sessions/$S")" 404 \
  "another user cannot read it through the other gateway"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" -X POST \
  --data-binary "{\"session_id\":\"$S\",\"message\":\"hijack\"}" "$G2/v1/chat")" 404 \
  "another user cannot chat on it through the other gateway"

af_log "a gateway restarted from nothing still knows the route (it is in Redis)"
kill -9 "$(pgrep -f -- "--gateway-id gw2" | head -1)"
af_start gateway2b "$AF_BIN/gateway" --listen "127.0.0.1:$HP2" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP2" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 0 \
  --user-rate 0 --redis-url "redis://127.0.0.1:$RP" --gateway-id gw2
af_wait_port "127.0.0.1:$HP2"
af_wait_agents "$G2" 3
af_eq "$(chat "$G2" "$S" "turn 7")" 200 "turn 7 via the restarted gateway ($(cat "$AF_TMP/b"))"
af_eq "$(jq -r .agent_id "$AF_TMP/b")" "$AG" "same agent after the gateway restart"
curl -s "$G2/metrics" | grep '^gateway_redis_up 1' >/dev/null || af_fail "gateway_redis_up is not 1"
af_log "ok: both gateways served session $S on agent $AG"
