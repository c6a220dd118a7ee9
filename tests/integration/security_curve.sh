#!/usr/bin/env bash
# CURVE on every ZeroMQ link (issue #9, zero trust): a stack whose daemons all run with
# --curve-dir (certificates from scripts/make-certs.sh) serves spawn and chat end to
# end; the manager's and the gateway's ZMTP greeting announces CURVE; an agentd with a
# key the servers do not know is refused (never registered, counted in
# zmq_curve_refused_total, logged); a plaintext agentd and a raw plaintext ZMTP peer get
# nothing; a key admitted later (cert copied into allowed/) registers on a new
# connection without restarting the servers.
. "$(dirname "$0")/lib.sh"

for b in fake-anthropic manager agentd gateway; do [ -x "$AF_BIN/$b" ] || af_fail "missing $AF_BIN/$b"; done
FP=$(af_free_port); MP=$(af_free_port); MMP=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port)
CERTS="$AF_TMP/certs"; ROGUE="$AF_TMP/rogue"
bash "$AF_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null
# The rogue knows the servers' public keys (they are public) but has its own keypair.
bash "$AF_ROOT/scripts/make-certs.sh" "$ROGUE" agentd >/dev/null
cp "$CERTS/manager.cert" "$CERTS/gateway.cert" "$ROGUE/"
[ "$(stat -c %a "$CERTS/manager.cert_secret")" = 600 ] || af_fail "secret cert not 0600"

UPKEY="sk-upstream-$$-curve"; echo "$UPKEY" >"$AF_TMP/upstream.key"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
G="http://127.0.0.1:$HP"

af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" af_start manager "$AF_BIN/manager" \
  --listen "tcp://127.0.0.1:$MP" --metrics-listen "127.0.0.1:$MMP" --min-agents 2 --max-agents 4 \
  --heartbeat-ms 300 --anthropic-key-file "$AF_TMP/upstream.key" --curve-dir "$CERTS"
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 300 --curve-dir "$CERTS"
af_wait_port "127.0.0.1:$HP"
for _ in $(seq 150); do
  [ "$(curl -s "$G/readyz" | jq -r .agents 2>/dev/null)" = 2 ] && break; sleep 0.1
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$G/readyz")" 200 "readyz: pool agents reached manager and gateway over CURVE"

af_log "spawn and chat over CURVE links"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary '{}' "$G/v1/agents")
af_eq "$c" 201 "spawn ($(cat "$AF_TMP/b"))"; A1=$(jq -r .agent_id "$AF_TMP/b")
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"message":"over curve"}' "$G/v1/agents/$A1/chat")
af_eq "$c" 200 "chat ($(cat "$AF_TMP/b"))"
af_eq "$(jq -r .content "$AF_TMP/b")" "You said: over curve" "reply through agentd"

metric() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
M="http://127.0.0.1:$MMP"
af_eq "$(metric "$M" zmq_curve_refused_total)" 0 "nothing refused yet at the manager"
adm=$(metric "$M" zmq_curve_admitted_total)
[ "${adm:-0}" -ge 4 ] || af_fail "manager admitted $adm CURVE handshakes, want >= 4 (3 agents + gateway)"

af_log "ZMTP greeting of the manager and the gateway says CURVE; a plaintext peer gets nothing"
for port in "$MP" "$AP"; do
  python3 - "$port" <<'PY' || af_fail "raw ZMTP probe on port $port"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
def read(n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got
# ZMTP 3 greeting, step by step as libzmq does: signature, major version, the rest.
s.sendall(b"\xff" + b"\0" * 8 + b"\x7f")
got = read(11)
s.sendall(bytes([3]))
got += read(53)
s.sendall(bytes([0]) + b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31)
mech = got[12:32].rstrip(b"\0")
if mech != b"CURVE":
    sys.exit("mechanism %r, want CURVE" % mech)
# Our NULL READY: a CURVE server must not answer it with anything but a close.
s.sendall(bytes([0x04, 0x1a, 0x05]) + b"READY" + bytes([0x0b]) + b"Socket-Type" + (6).to_bytes(4, "big") + b"DEALER")
deadline, extra = time.time() + 3, b""
s.settimeout(0.5)
while time.time() < deadline:
    try:
        chunk = s.recv(4096)
    except socket.timeout:
        continue
    except ConnectionResetError:
        break
    if not chunk:
        break
    extra += chunk
# An ERROR command (0x04 len "ERROR") is allowed; no READY and no message frames.
if b"READY" in extra or (extra and b"ERROR" not in extra):
    sys.exit("plaintext peer got data: %r" % extra[:60])
PY
done

af_log "agentd with an unknown key, and a plaintext agentd"
af_start rogue "$AF_BIN/agentd" --id ag_rogue --manager "tcp://127.0.0.1:$MP" --curve-dir "$ROGUE" \
  --heartbeat-ms 300
ROGUE_PID=$AF_LAST_PID
af_start plain "$AF_BIN/agentd" --id ag_plain --manager "tcp://127.0.0.1:$MP" --heartbeat-ms 300
for _ in $(seq 60); do
  r=$(metric "$M" zmq_curve_refused_total); [ "${r:-0}" -ge 1 ] && break; sleep 0.1
done
[ "${r:-0}" -ge 1 ] || af_fail "unknown key not counted at the manager (refused=$r)"
sleep 1.5
kill -0 "$ROGUE_PID" || af_fail "rogue agentd died"
grep -q 'event=curve_on' "$AF_TMP/rogue.log" || af_fail "rogue agentd not on CURVE"
# With ZMQ_IMMEDIATE the READY never leaves: no connection completes the handshake.
grep -q 'event=ready_sent' "$AF_TMP/rogue.log" && af_fail "rogue agentd got a connection"
grep -q 'event=registered' "$AF_TMP/rogue.log" && af_fail "rogue agentd was registered"
grep -q 'event=registered' "$AF_TMP/plain.log" && af_fail "plaintext agentd was registered"
grep -q 'event=curve_refused' "$AF_TMP/manager.log" || af_fail "manager did not log the refusal"
af_get -s "$M/metrics" | grep -q 'ag_rogue\|ag_plain' && af_fail "manager knows the refused agents"
refused=$(metric "$M" zmq_curve_refused_total)
af_log "refused at manager: $refused, admitted: $(metric "$M" zmq_curve_admitted_total)"

af_log "the gateway's agent socket refuses the unknown key too"
GW="http://127.0.0.1:$HP"
g0=$(metric "$GW" zmq_curve_refused_total)
af_start rogue2 "$AF_BIN/agentd" --id ag_rogue2 --manager '' --gateway "tcp://127.0.0.1:$AP" \
  --curve-dir "$ROGUE" --heartbeat-ms 300
for _ in $(seq 60); do
  g1=$(metric "$GW" zmq_curve_refused_total); [ "${g1:-0}" -gt "${g0:-0}" ] && break; sleep 0.1
done
[ "${g1:-0}" -gt "${g0:-0}" ] || af_fail "unknown key not counted at the gateway ($g0 -> $g1)"
af_eq "$(curl -s "$G/readyz" | jq -r .agents)" 3 "the rogue is not an agent at the gateway"
kill -TERM "$AF_LAST_PID"

af_log "admitting the rogue's cert lets a new connection in without restarting the servers"
kill -TERM "$ROGUE_PID"
cp "$ROGUE/agentd.cert" "$CERTS/allowed/late-agent.cert"
af_start late "$AF_BIN/agentd" --id ag_late --manager "tcp://127.0.0.1:$MP" --curve-dir "$ROGUE" \
  --heartbeat-ms 300
for _ in $(seq 100); do grep -q 'event=registered' "$AF_TMP/late.log" && break; sleep 0.1; done
grep -q 'event=registered' "$AF_TMP/late.log" || af_fail "newly admitted key did not register"

af_log "a key is admitted for its role only: an agent's key cannot act for users"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
# 2 pool agents, alice's and the late one, all dialled in to the gateway
for _ in $(seq 50); do [ "$(curl -s "$G/readyz" | jq -r .agents)" = 4 ] && break; sleep 0.1; done
before=$(curl -s "$G/readyz" | jq -r .agents)
af_eq "$before" 4 "agents at the gateway before the refused requests"
as_role() { AF_HARNESS_CURVE_DIR="$CERTS" AF_HARNESS_CURVE_NAME="$1" "$CLIENT" "tcp://127.0.0.1:$MP" "$2" "$3" 5000; }
out=$(as_role agentd SCALE '{"target":4,"role":"admin"}') && af_fail "agentd key scaled: $out"
af_eq "$(echo "$out" | sed 's/^ERROR //' | jq -r .code)" forbidden "agentd key SCALE ($out)"
out=$(as_role agentd LIST '{"all":true,"role":"admin","user":"x"}') && af_fail "agentd key listed all: $out"
af_eq "$(echo "$out" | sed 's/^ERROR //' | jq -r .code)" forbidden "agentd key LIST all"
out=$(as_role autoscaler STATS '{}') || af_fail "autoscaler key STATS: $out"
out=$(as_role autoscaler SPAWN '{"user":"alice"}') && af_fail "autoscaler key spawned: $out"
af_eq "$(echo "$out" | sed 's/^ERROR //' | jq -r .code)" forbidden "autoscaler key SPAWN"
out=$(as_role gateway LIST '{"all":true,"role":"admin","user":"ops"}') || af_fail "gateway key LIST all: $out"
[ "$(echo "$out" | sed 's/^OK //' | jq '.agents | length')" -ge 3 ] || af_fail "gateway LIST all: $out"
af_eq "$(metric "$M" 'manager_requests_total{verb="SCALE",code="forbidden"}')" 1 "forbidden SCALE counted"
grep -q 'event=verb_forbidden verb=SCALE peer_role=agentd' "$AF_TMP/manager.log" || af_fail "forbidden SCALE not logged"
af_eq "$(curl -s "$G/readyz" | jq -r .agents)" "$before" "no agent spawned or drained by the refused requests"
af_log "PASS security_curve"
