#!/usr/bin/env bash
# Durability: with Redis, an agent writes each completed turn to session:{id}
# before it sends DONE, so kill -9 right after a DONE loses nothing: the turn is
# in Redis at once, the next request for each of the dead agent's sessions is
# placed on another agent that loads the full history, and the conversation
# goes on with every acknowledged turn in it.
. "$(dirname "$0")/lib.sh"

af_need_bins fake-anthropic manager agentd gateway
command -v redis-server >/dev/null || af_fail "redis-server not installed"
RP=$(af_free_port); FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port)
AP=$(af_free_port); HP=$(af_free_port)
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
G="http://127.0.0.1:$HP"
R() { redis-cli -p "$RP" "$@"; }

af_start redis redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no
UPKEY="sk-upstream-$$-secret"; echo "$UPKEY" >"$AF_TMP/upstream.key"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$RP"; af_wait_port "127.0.0.1:$FP"
# Agents inherit the manager's environment: that is how they learn the Redis URL.
AF_AGENTD_REDIS_URL="redis://127.0.0.1:$RP" ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" \
  af_start manager "$AF_BIN/manager" --listen "tcp://127.0.0.1:$MP" \
  --metrics-listen "127.0.0.1:$MMP" --min-agents 3 --max-agents 6 --heartbeat-ms 300 \
  --anthropic-key-file "$AF_TMP/upstream.key"
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 0 \
  --user-rate 0 --redis-url "redis://127.0.0.1:$RP"
af_wait_port "127.0.0.1:$HP"
af_wait_agents "$G" 3 "three agents ready"

chat() { # session message -> body in $AF_TMP/b, status on stdout
  local body
  if [ -n "$1" ]; then body="{\"session_id\":\"$1\",\"message\":\"$2\"}"; else body="{\"message\":\"$2\"}"; fi
  curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary "$body" "$G/v1/chat"
}

af_log "six sessions, two turns each"
declare -A AGENT
SESSIONS=()
for i in 1 2 3 4 5 6; do
  af_eq "$(chat "" "s$i turn 1")" 200 "first turn ($(cat "$AF_TMP/b"))"
  s=$(jq -r .session_id "$AF_TMP/b"); SESSIONS+=("$s")
  af_eq "$(chat "$s" "s$i turn 2")" 200 "second turn"
  AGENT[$s]=$(jq -r .agent_id "$AF_TMP/b")
done
# The history document: the documented shape (docs/agentd.md).
s=${SESSIONS[0]}
doc=$(R GET "session:$s")
af_eq "$(jq -r .v <<<"$doc")" 1 "history version"
af_eq "$(jq -r .user <<<"$doc")" alice "history owner"
af_eq "$(jq -r '.messages|length' <<<"$doc")" 4 "two turns stored"
af_eq "$(jq -r '.messages[3].role' <<<"$doc")" assistant "last stored message"
ttl=$(R TTL "session:$s"); [ "$ttl" -gt 0 ] || af_fail "history has no TTL ($ttl)"
route=$(R GET "route:$s"); af_eq "${route%% *}" "${AGENT[$s]}" "gateway route in Redis"

af_log "kill -9 right after a DONE: the turn is already in Redis"
VICTIM=${AGENT[$s]}
VPID=$(pgrep -f -- "--id $VICTIM" | head -1 || true)
[ -n "$VPID" ] || VPID=$(pgrep -f "$VICTIM" | head -1 || true)
[ -n "$VPID" ] || af_fail "cannot find the pid of agent $VICTIM"
af_eq "$(chat "$s" "s1 turn 3")" 200 "third turn"
kill -9 "$VPID"
af_eq "$(R GET "session:$s" | jq -r '.messages|length')" 6 "turn 3 in Redis when DONE arrived"
af_eq "$(R GET "session:$s" | jq -r '.messages[4].content')" "s1 turn 3" "turn 3's user message"

af_log "its history is readable at once, from another agent that loads it"
for _ in $(seq 50); do
  c=$(curl -s -o "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $ALICE" "$G/v1/sessions/$s")
  [ "$c" = 503 ] || break; sleep 0.1 # the manager has not seen the death yet: Retry-After
done
af_eq "$c" 200 "history of the dead agent's session ($(cat "$AF_TMP/h"))"
af_eq "$(jq -r '.messages|length' "$AF_TMP/h")" 6 "every acknowledged turn readable"
[ "$(jq -r .agent_id "$AF_TMP/h")" != "$VICTIM" ] || af_fail "history served by the dead agent?"
af_eq "$(curl -s -o "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $ALICE" "$G/v1/sessions/se_never_$$")" 404 \
  "a session that never existed ($(cat "$AF_TMP/h"))"

af_log "every session of the dead agent goes on elsewhere with its full history"
moved=0
for i in "${!SESSIONS[@]}"; do
  s=${SESSIONS[$i]}; n=$((i + 1))
  [ "${AGENT[$s]}" = "$VICTIM" ] || continue
  want=4; [ "$s" = "${SESSIONS[0]}" ] && want=6
  af_eq "$(chat "$s" "s$n after the kill")" 200 "next turn after the kill ($(cat "$AF_TMP/b"))"
  now=$(jq -r .agent_id "$AF_TMP/b")
  [ "$now" != "$VICTIM" ] || af_fail "session $s still on the dead agent"
  c=$(curl -s -o "$AF_TMP/h" -w '%{http_code}' -H "x-api-key: $ALICE" "$G/v1/sessions/$s")
  af_eq "$c" 200 "history of the moved session"
  af_eq "$(jq -r '.messages|length' "$AF_TMP/h")" $((want + 2)) "moved session keeps every turn"
  af_eq "$(jq -r '.messages[0].content' "$AF_TMP/h")" "s$n turn 1" "first turn survives"
  af_eq "$(jq -r .agent_id "$AF_TMP/h")" "$now" "history served by the new agent"
  moved=$((moved + 1))
done
[ "$moved" -ge 1 ] || af_fail "no session was on the killed agent"
loads=$(curl -s "$G/metrics" >/dev/null; R KEYS 'session:*' | wc -l)
af_eq "$loads" 6 "six histories in Redis"
af_log "ok: $moved session(s) moved off the killed agent with every acknowledged turn"
