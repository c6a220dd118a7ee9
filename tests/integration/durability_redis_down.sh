#!/usr/bin/env bash
# Durability: Redis down is degraded, not broken. Chats go on on the live
# agents (in memory), gateway_redis_up / agent_redis_up say 0 and a log line
# says so; when Redis returns (here empty, as after a crash without
# persistence) the agents write back every session they hold, including the
# turns made meanwhile, and later turns are written before DONE again.
. "$(dirname "$0")/lib.sh"

af_need_bins fake-anthropic manager agentd gateway
command -v redis-server >/dev/null || af_fail "redis-server not installed"
RP=$(af_free_port); FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port)
AP=$(af_free_port); HP=$(af_free_port)
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
ROOT=$("$AF_BIN/gateway" --add-key root admin --keys-file "$KEYS")
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"
G="http://127.0.0.1:$HP"
R() { redis-cli -p "$RP" "$@"; }
start_redis() {
  af_start "redis$1" redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no
  REDIS_PID=$AF_LAST_PID
  af_wait_port "127.0.0.1:$RP"
}

start_redis 1
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
AF_AGENTD_REDIS_URL="redis://127.0.0.1:$RP" ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" \
  af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 2 --max-agents 4 --heartbeat-ms 300 \
  --anthropic-key-file "$AF_TMP/upstream.key"
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 0 \
  --user-rate 0 --redis-url "redis://127.0.0.1:$RP"
af_wait_port "127.0.0.1:$HP"
af_wait_agents "$G" 2 "two agents ready"

chat() { # session message
  curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
    --data-binary "{\"session_id\":\"$1\",\"message\":\"$2\"}" "$G/v1/chat"
}
S=se_redis_down_$$
af_eq "$(chat "$S" "before 1")" 200 "turn before the outage"
af_eq "$(chat "$S" "before 2")" 200 "turn before the outage"
AG=$(jq -r .agent_id "$AF_TMP/b")
af_eq "$(R GET "session:$S" | jq -r '.messages|length')" 4 "written while Redis is up"
AM=$(curl -s -H "x-api-key: $ROOT" "$G/v1/agents/$AG" | jq -r .metrics)
[ -n "$AM" ] && [ "$AM" != null ] || af_fail "no metrics address for $AG"
curl -s "http://$AM/metrics" | grep '^agent_redis_up 1' >/dev/null || af_fail "agent_redis_up is not 1"

af_log "Redis goes away: chats go on in memory"
kill -9 "$REDIS_PID"
for _ in $(seq 50); do curl -s "$G/metrics" | grep '^gateway_redis_up 0' >/dev/null && break; sleep 0.1; done
curl -s "$G/metrics" | grep '^gateway_redis_up 0' >/dev/null || af_fail "gateway_redis_up is not 0"
af_eq "$(chat "$S" "during 1")" 200 "existing session while Redis is down ($(cat "$AF_TMP/b"))"
af_eq "$(jq -r .agent_id "$AF_TMP/b")" "$AG" "same agent while Redis is down"
af_eq "$(chat "$S" "during 2")" 200 "existing session while Redis is down"
af_eq "$(chat "se_new_$$" "new while down")" 200 "new session while Redis is down ($(cat "$AF_TMP/b"))"
NA=$(jq -r .agent_id "$AF_TMP/b")
curl -s "http://$AM/metrics" | grep '^agent_redis_up 0' >/dev/null || af_fail "agent_redis_up is not 0"
curl -s "http://$AM/metrics" | grep '^agent_history_writes_total{result="skipped"} [1-9]' >/dev/null ||
  af_fail "skipped writes not counted"
grep -q 'event=redis_down' "$AF_TMP/gateway.log" || af_fail "no redis_down log line from the gateway"
grep -q 'event=history_degraded' "$AF_TMP/manager.log" || af_fail "no history_degraded log line from agentd"
c=$(curl -s -o "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $ALICE" "$G/v1/sessions/$S")
af_eq "$c" 200 "history while Redis is down"
af_eq "$(jq -r '.messages|length' "$AF_TMP/h")" 8 "history in memory has every turn"

af_log "Redis returns (empty): the agents write back what they hold"
start_redis 2
for _ in $(seq 100); do
  [ "$(R GET "session:$S" | jq -r '.messages|length' 2>/dev/null)" = 8 ] && break; sleep 0.1
done
af_eq "$(R GET "session:$S" | jq -r '.messages|length')" 8 "session rewritten with the turns made while down"
af_eq "$(R GET "session:$S" | jq -r '.messages[6].content')" "during 2" "a turn made while down"
af_eq "$(R GET "session:se_new_$$" | jq -r '.user')" alice "session made while down written too"
for _ in $(seq 100); do curl -s "$G/metrics" | grep '^gateway_redis_up 1' >/dev/null && break; sleep 0.1; done
curl -s "$G/metrics" | grep '^gateway_redis_up 1' >/dev/null || af_fail "gateway_redis_up is not back to 1"
af_eq "$(chat "$S" "after")" 200 "turn after Redis returned"
af_eq "$(R GET "session:$S" | jq -r '.messages|length')" 10 "later turns written before DONE again"
r=$(R GET "route:se_new_$$"); af_eq "${r%% *}" "$NA" "route made while down written back by the gateway"
curl -s "http://$AM/metrics" | grep '^agent_redis_up 1' >/dev/null || af_fail "agent_redis_up is not back to 1"
af_log "ok: degraded while Redis was down ($AG, $NA), written back when it returned"
