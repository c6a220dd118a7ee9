#!/usr/bin/env bash
# Privilege drop (issue #9, zero trust): manager and gateway started as root with
# --user nobody bind their ports, then run as nobody (uid, gid and groups), with
# NoNewPrivs, no core dumps and not dumpable (no effective capabilities left). The agents the
# dropped manager spawns run as nobody too, with NoNewPrivs and the rlimits of their
# spec, and the stack still serves a chat over CURVE. Needs root (skips otherwise).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then echo "SKIP security_privdrop: needs root"; exit 0; fi
id nobody >/dev/null 2>&1 || { echo "SKIP security_privdrop: no user nobody"; exit 0; }
NOBODY=$(id -u nobody); NOGROUP=$(id -g nobody)
for b in fake-anthropic manager agentd gateway; do [ -x "$AF_BIN/$b" ] || af_fail "missing $AF_BIN/$b"; done
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port)
chmod 755 "$AF_TMP" # the agents (nobody) read their certificate under it
CERTS="$AF_TMP/certs"
bash "$AF_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null
chown nobody "$CERTS/agentd.cert_secret" # agents are spawned by the dropped manager
UPKEY="sk-upstream-$$-privdrop"; echo "$UPKEY" >"$AF_TMP/upstream.key"; chmod 600 "$AF_TMP/upstream.key"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
G="http://127.0.0.1:$HP"

af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" af_start manager "$AF_BIN/manager" --pin-cpus \
  --listen "tcp://127.0.0.1:$MP" --metrics-listen "127.0.0.1:$MMP" --min-agents 1 --max-agents 3 \
  --heartbeat-ms 300 --anthropic-key-file "$AF_TMP/upstream.key" --curve-dir "$CERTS" --user nobody
MPID=$AF_LAST_PID
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 300 \
  --curve-dir "$CERTS" --user nobody
GPID=$AF_LAST_PID
af_wait_port "127.0.0.1:$HP"
for _ in $(seq 150); do
  [ "$(curl -s "$G/readyz" | jq -r .agents 2>/dev/null)" = 1 ] && break; sleep 0.1
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$G/readyz")" 200 "readyz with dropped daemons"

status() { awk -v k="$2:" '$1 == k {$1 = ""; sub(/^ /, ""); print}' "/proc/$1/status"; }
check_hardened() { # pid name
  local pid=$1 name=$2
  af_eq "$(status "$pid" Uid | tr -s '\t ' ' ')" "$NOBODY $NOBODY $NOBODY $NOBODY" "$name uid"
  af_eq "$(status "$pid" Gid | tr -s '\t ' ' ')" "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" "$name gid"
  af_eq "$(status "$pid" Groups | tr -d ' \t')" "$NOGROUP" "$name supplementary groups"
  af_eq "$(status "$pid" NoNewPrivs)" 1 "$name NoNewPrivs"
  af_eq "$(awk '/^Max core file size/ {print $5 "/" $6}' "/proc/$pid/limits")" "0/0" "$name core limit"
  af_eq "$(status "$pid" CapEff)" 0000000000000000 "$name effective capabilities"
}
check_hardened "$MPID" manager
check_hardened "$GPID" gateway

# The autoscaler and a standalone agentd drop the same way.
ASM=$(af_free_port); SAM=$(af_free_port)
af_start autoscaler "$AF_BIN/autoscaler" --manager "tcp://127.0.0.1:$MP" --metrics-listen "127.0.0.1:$ASM" \
  --curve-dir "$CERTS" --user nobody
ASPID=$AF_LAST_PID
ANTHROPIC_API_KEY="$UPKEY" af_start solo "$AF_BIN/agentd" --id ag_solo --manager '' \
  --metrics-listen "127.0.0.1:$SAM" --user nobody
SOLOPID=$AF_LAST_PID
af_wait_port "127.0.0.1:$ASM"
af_wait_port "127.0.0.1:$SAM"
check_hardened "$ASPID" autoscaler
check_hardened "$SOLOPID" "standalone agentd"
af_get -sf "http://127.0.0.1:$ASM/metrics" | grep -q '^# TYPE autoscaler_decisions_total' || af_fail "autoscaler metrics after drop"
af_get -sf "http://127.0.0.1:$SAM/metrics" | grep -q '^agent_active_sessions' || af_fail "standalone agentd metrics after drop"
# Not dumpable: /proc/PID/environ then belongs to root, not to the process's user.
# Sanitizer builds stay dumpable on purpose (LeakSanitizer ptraces the process at
# exit; see common/privdrop.c), so only a normal build is held to it.
if ldd "$AF_BIN/manager" | grep -q libasan; then
  af_log "sanitizer build: dumpable check skipped"
else
  af_eq "$(stat -c %u "/proc/$MPID/environ")" 0 "manager not dumpable"
fi
grep -q 'event=privileges_dropped user=nobody' "$AF_TMP/manager.log" || af_fail "manager did not log the drop"

af_log "agents spawned by the dropped manager"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"spec":{"cores":1,"memory_mb":512}}' "$G/v1/agents")
af_eq "$c" 201 "spawn ($(cat "$AF_TMP/b"))"; A1=$(jq -r .agent_id "$AF_TMP/b")
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"message":"as nobody"}' "$G/v1/agents/$A1/chat")
af_eq "$c" 200 "chat ($(cat "$AF_TMP/b"))"
af_eq "$(jq -r .content "$AF_TMP/b")" "You said: as nobody" "reply"
APID=$(pgrep -P "$MPID" -f -- "--id $A1" | head -1)
[ -n "$APID" ] || af_fail "no process for $A1 under the manager"
check_hardened "$APID" "agent $A1"
# spec.cores with --pin-cpus: pinned to one CPU (inherited at spawn, so even its first thread)
if [ "$(nproc)" -ge 2 ]; then
  for t in /proc/$APID/task/*; do
    n=$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status" | tr ',' '\n' | awk -F- '{ n += (NF == 2 ? $2 - $1 + 1 : 1) } END { print n }')
    af_eq "$n" 1 "agent thread $(basename "$t") CPUs for cores=1"
  done
fi
af_log "agent limits: $(awk '/^Max (data size|core file size|open files)/' "/proc/$APID/limits" | tr -s ' ' | paste -sd';')"

# The metrics port, bound before the drop, still answers.
af_get -sf "http://127.0.0.1:$MMP/metrics" | grep -q '^zmq_curve_admitted_total' || af_fail "manager metrics after drop"
af_log "PASS security_privdrop"
