#!/usr/bin/env bash
# The Anthropic key at rest and in flight (issue #9, zero trust): sealed with
# AES-256-GCM under a master key file (`manager --seal-secret`), the manager opens it
# and hands it to agents only in WELCOME over CURVE. A wrong or world-readable master
# key is refused at start. The stack serves a chat with the real key upstream, and the
# key appears in no agent's argv or environment (/proc/PID/cmdline, /proc/PID/environ),
# in no log, no metrics page (manager, gateway, agents) and no API response.
. "$(dirname "$0")/lib.sh"

for b in fake-anthropic manager agentd gateway; do [ -x "$AF_BIN/$b" ] || af_fail "missing $AF_BIN/$b"; done
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port)
CERTS="$AF_TMP/certs"
bash "$AF_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null
UPKEY="sk-ant-upstream-$$-$RANDOM-sealed"
(umask 077; openssl rand -hex 32 >"$AF_TMP/master.key"; openssl rand -hex 32 >"$AF_TMP/other.key")

af_log "seal the key"
echo "$UPKEY" | "$AF_BIN/manager" --seal-secret --master-key-file "$AF_TMP/master.key" >"$AF_TMP/key.sealed" \
  || af_fail "sealing failed"
grep -q '^afsb1:' "$AF_TMP/key.sealed" || af_fail "sealed file format: $(cat "$AF_TMP/key.sealed")"
grep -q "$UPKEY" "$AF_TMP/key.sealed" && af_fail "the sealed file shows the key"
a=$(echo "$UPKEY" | "$AF_BIN/manager" --seal-secret --master-key-file "$AF_TMP/master.key")
[ "$a" != "$(cat "$AF_TMP/key.sealed")" ] || af_fail "two seals of the same key are equal (nonce reuse)"

af_log "wrong, missing or unsafe master key: refused at start"
"$AF_BIN/manager" --check-config --anthropic-key-file "$AF_TMP/key.sealed" \
  --master-key-file "$AF_TMP/other.key" >"$AF_TMP/wrong.out" 2>&1 && af_fail "wrong master key accepted"
grep -q 'authentication failed' "$AF_TMP/wrong.out" || af_fail "wrong key: $(cat "$AF_TMP/wrong.out")"
"$AF_BIN/manager" --check-config --anthropic-key-file "$AF_TMP/key.sealed" >"$AF_TMP/none.out" 2>&1 \
  && af_fail "sealed key without master key accepted"
grep -q 'master-key-file' "$AF_TMP/none.out" || af_fail "no master key: $(cat "$AF_TMP/none.out")"
cp "$AF_TMP/master.key" "$AF_TMP/open.key"; chmod 644 "$AF_TMP/open.key"
"$AF_BIN/manager" --check-config --anthropic-key-file "$AF_TMP/key.sealed" \
  --master-key-file "$AF_TMP/open.key" >"$AF_TMP/open.out" 2>&1 && af_fail "world-readable master key accepted"
"$AF_BIN/manager" --check-config --anthropic-key-file "$AF_TMP/key.sealed" \
  --master-key-file "$AF_TMP/master.key" | grep -q 'configuration OK' || af_fail "right master key refused"
grep -rq "$UPKEY" "$AF_TMP"/*.out && af_fail "a refusal message shows the key"

af_log "stack on CURVE with the sealed key"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
ROOT=$("$AF_BIN/gateway" --add-key root admin --keys-file "$KEYS")
G="http://127.0.0.1:$HP"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" af_start manager "$AF_BIN/manager" \
  --listen "tcp://127.0.0.1:$MP" --metrics-listen "127.0.0.1:$MMP" --min-agents 2 --max-agents 4 \
  --heartbeat-ms 300 --anthropic-key-file "$AF_TMP/key.sealed" --master-key-file "$AF_TMP/master.key" \
  --curve-dir "$CERTS" --log-level debug
MPID=$AF_LAST_PID
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 300 --curve-dir "$CERTS" \
  --log-level debug
af_wait_port "127.0.0.1:$HP"
for _ in $(seq 150); do
  [ "$(curl -s "$G/readyz" | jq -r .agents 2>/dev/null)" = 2 ] && break; sleep 0.1
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$G/readyz")" 200 "readyz"
c=$(curl -s -o "$AF_TMP/r1.json" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary '{}' "$G/v1/agents")
af_eq "$c" 201 "spawn"; A1=$(jq -r .agent_id "$AF_TMP/r1.json")
c=$(curl -s -o "$AF_TMP/r2.json" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"message":"sealed key upstream"}' "$G/v1/agents/$A1/chat")
af_eq "$c" 200 "chat with the unsealed key upstream ($(cat "$AF_TMP/r2.json"))"
af_eq "$(jq -r .content "$AF_TMP/r2.json")" "You said: sealed key upstream" "reply"

af_log "the key is nowhere it should not be"
curl -s -H "x-api-key: $ROOT" "$G/v1/agents" >"$AF_TMP/r3.json"
curl -s -H "x-api-key: $ROOT" "$G/v1/agents/$A1" >"$AF_TMP/r4.json"
curl -s -H "x-api-key: $ROOT" "$G/v1/stats" >"$AF_TMP/r5.json"
curl -s "$G/metrics" >"$AF_TMP/m-gateway.txt"
curl -s "http://127.0.0.1:$MMP/metrics" >"$AF_TMP/m-manager.txt"
n=0
for pid in $(pgrep -P "$MPID"); do
  tr '\0' ' ' <"/proc/$pid/cmdline" >"$AF_TMP/cmdline.$pid"
  tr '\0' '\n' <"/proc/$pid/environ" >"$AF_TMP/environ.$pid"
  grep -q agentd "$AF_TMP/cmdline.$pid" || continue
  grep -q '^ANTHROPIC_API_KEY=' "$AF_TMP/environ.$pid" && af_fail "agent $pid has ANTHROPIC_API_KEY"
  mp=$(grep -h -o "pid=$pid fn=af_agent_new event=agent_started .*metrics=[0-9.:]*" "$AF_TMP/manager.log" \
       | grep -o 'metrics=[0-9.:]*' | cut -d= -f2 || true)
  [ -n "$mp" ] && curl -s "http://$mp/metrics" >"$AF_TMP/m-agent.$pid.txt"
  n=$((n + 1))
done
[ "$n" -ge 3 ] || af_fail "found $n agent processes, want >= 3"
ls "$AF_TMP"/m-agent.*.txt >/dev/null 2>&1 || af_fail "no agent metrics scraped"
tr '\0' '\n' <"/proc/$MPID/environ" | grep -q "$UPKEY" && af_fail "the manager's environment has the key"
grep -q 'api_key_from_manager' "$AF_TMP/manager.log" || af_fail "agents did not get the key from WELCOME"
sleep 0.5 # let the logs flush
hits=$(grep -l -F "$UPKEY" "$AF_TMP"/*.log "$AF_TMP"/cmdline.* "$AF_TMP"/environ.* "$AF_TMP"/m-*.txt \
       "$AF_TMP"/r*.json 2>/dev/null | grep -v '/fake.log$' || true)
[ -z "$hits" ] || af_fail "the key appears in: $hits"
af_log "checked $n agents (cmdline, environ, metrics), 3 logs, 2 metrics pages, 5 API responses"

af_log "READY from an id the manager did not spawn: the key goes only to a proven agent"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
READY='{"agent_id":"ag_claim","owner":"pool","spec":{"cores":1,"memory_mb":512,"image":"agentd:latest"},"capacity":100}'
out=$(AF_HARNESS_CURVE_DIR="$CERTS" AF_HARNESS_CURVE_NAME=gateway AF_HARNESS_IDENTITY=ag_claim \
  "$CLIENT" "tcp://127.0.0.1:$MP" READY "$READY" 5000) && af_fail "gateway key registered an agent: $out"
af_eq "$(echo "$out" | sed 's/^ERROR //' | jq -r .code)" forbidden "READY with the gateway's key"
# An agent we adopt over CURVE with the agentd key is an agent: it gets the key.
out=$(AF_HARNESS_CURVE_DIR="$CERTS" AF_HARNESS_CURVE_NAME=agentd AF_HARNESS_IDENTITY=ag_claim \
  "$CLIENT" "tcp://127.0.0.1:$MP" READY "$READY" 5000 || true)
af_eq "$(echo "$out" | awk '{print $1}')" WELCOME "READY with the agentd key ($out)"
af_eq "$(echo "$out" | sed 's/^WELCOME //' | jq -r .api_key)" "$UPKEY" "CURVE-authenticated agent gets the key"
# Plaintext: anyone reaching the port could claim an id; without a join token no key.
PMP=$(af_free_port)
af_start plainmgr "$AF_BIN/manager" --listen "tcp://127.0.0.1:$PMP" --metrics-listen 127.0.0.1:0 \
  --min-agents 0 --anthropic-key-file "$AF_TMP/key.sealed" --master-key-file "$AF_TMP/master.key"
af_wait_port "127.0.0.1:$PMP"
out=$(AF_HARNESS_IDENTITY=ag_claim "$CLIENT" "tcp://127.0.0.1:$PMP" READY "$READY" 5000 || true)
af_eq "$(echo "$out" | awk '{print $1}')" WELCOME "plaintext READY of an unknown id is adopted"
af_eq "$(echo "$out" | sed 's/^WELCOME //' | jq -r '.api_key // "none"')" none "no key without a join token or CURVE"
af_log "PASS security_secrets"
