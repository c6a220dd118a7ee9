#!/usr/bin/env bash
# Gateways announce their data endpoint (GATEWAY_HELLO); a real agentd learns the
# list in WELCOME and connects; a new gateway reaches running agents in GATEWAYS;
# a gateway silent for 3 intervals is dropped from the list; a restarted manager,
# which does not know every gateway yet, does not make agents drop a live one.
# The "gateways" are plain TCP listeners that log connects and closes.
. "$(dirname "$0")/lib.sh"
CLIENT="$AF_BUILD/tests/integration/harness_manager_client"
CTL=$(af_free_port); MET=$(af_free_port); G1=$(af_free_port); G2=$(af_free_port)
EP="tcp://127.0.0.1:$CTL"
mgr() { "$CLIENT" "$EP" "$@" 20000; }
listener() { # port logfile
  python3 -u -c '
import select, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); conns = []
while True:
    r, _, _ = select.select([s] + conns, [], [])
    for c in r:
        if c is s:
            conns.append(s.accept()[0]); print("open", flush=True)
        elif not c.recv(4096):
            conns.remove(c); c.close(); print("closed", flush=True)
' "$1" >"$2"
}
listener "$G1" "$AF_TMP/g1.events" & _af_pids+=($!)
listener "$G2" "$AF_TMP/g2.events" & _af_pids+=($!)
af_start manager "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 0 --heartbeat-ms 300
MPID=$AF_LAST_PID
af_wait_port "127.0.0.1:$MET"
af_wait_port "127.0.0.1:$G1"

# gw-1 keeps announcing itself (as a gateway does every interval) until told to stop.
( while [ ! -f "$AF_TMP/stop-g1" ]; do
    "$CLIENT" "$EP" GATEWAY_HELLO "{\"gateway_id\":\"gw-1\",\"endpoint\":\"tcp://127.0.0.1:$G1\"}" 2000 >/dev/null || true
    sleep 0.1
  done ) & _af_pids+=($!)
sleep 0.3
mgr SPAWN '{"user":"lena"}' >/dev/null || af_fail "spawn"
for _ in $(seq 50); do grep -q open "$AF_TMP/g1.events" && break; sleep 0.1; done
grep -q open "$AF_TMP/g1.events" || af_fail "agent did not connect to the gateway named in WELCOME"

# A second gateway: the running agent hears about it in GATEWAYS.
out=$(mgr GATEWAY_HELLO "{\"gateway_id\":\"gw-2\",\"endpoint\":\"tcp://127.0.0.1:$G2\"}") || af_fail "hello gw-2: $out"
af_eq "$(echo "${out#OK }" | jq .heartbeat_ms)" 300 "GATEWAY_HELLO tells the interval"
( while [ ! -f "$AF_TMP/stop-g2" ]; do
    while [ -f "$AF_TMP/pause-g2" ]; do sleep 0.05; done
    "$CLIENT" "$EP" GATEWAY_HELLO "{\"gateway_id\":\"gw-2\",\"endpoint\":\"tcp://127.0.0.1:$G2\"}" 2000 >/dev/null || true
    sleep 0.1
  done ) & _af_pids+=($!)
for _ in $(seq 30); do grep -q open "$AF_TMP/g2.events" && break; sleep 0.1; done
grep -q open "$AF_TMP/g2.events" || af_fail "agent did not connect to the gateway sent in GATEWAYS"

# kill -9 of the manager, restarted: the agent re-registers before both gateways
# have said hello again. Its first lists are partial (add only); the complete one
# follows 3 intervals after the start. No link to a live gateway is closed.
# gw-2 is slow to say hello to the new manager (700 ms): the agent re-registers
# (~400 ms) while the manager knows only gw-1.
sleep 0.5
touch "$AF_TMP/pause-g2"
{ kill -9 "$MPID"; wait "$MPID"; } 2>/dev/null || true
( sleep 0.7; rm -f "$AF_TMP/pause-g2" ) &
af_start manager2 "$AF_BIN/manager" --listen "$EP" --metrics-listen "127.0.0.1:$MET" \
  --agentd-path "$AF_BIN/agentd" --min-agents 0 --heartbeat-ms 300
af_wait_port "127.0.0.1:$MET"
for _ in $(seq 50); do
  af_get -sf "127.0.0.1:$MET/metrics" | grep -q '^manager_agents{state="ready"} 1$' && break; sleep 0.1
done
af_get -sf "127.0.0.1:$MET/metrics" | grep -q '^manager_agents{state="ready"} 1$' || af_fail "agent did not re-register"
sleep 1.5 # past the 900 ms settle: the complete list has gone out
# (The agent, a child of the first manager, still logs into manager.log.)
grep 'event=gateway_disconnected' "$AF_TMP/manager.log" &&
  af_fail "the agent dropped a live gateway after the manager restart"

# gw-1 goes silent while gw-2 keeps announcing: the manager drops gw-1 after
# 3 x 300 ms. (The agents' side of that link is agentd's: a gateway that never
# answers its heartbeats is left by agentd itself, so we check the manager.)
sleep 0.5
af_get -sf "127.0.0.1:$MET/metrics" | grep -q '^manager_gateways 2$' || af_fail "two gateways announced"
touch "$AF_TMP/stop-g1"
for _ in $(seq 30); do
  af_get -sf "127.0.0.1:$MET/metrics" | grep -q '^manager_gateways 1$' && break; sleep 0.1
done
af_get -sf "127.0.0.1:$MET/metrics" | grep -q '^manager_gateways 1$' || af_fail "silent gateway not dropped"
grep -q 'event=gateway_lost gateway_id=gw-1' "$AF_TMP/manager2.log" || af_fail "gw-1 loss not logged"
grep -q 'event=gateway_lost gateway_id=gw-2' "$AF_TMP/manager2.log" && af_fail "gw-2 dropped while announcing"
# The complete list without gw-1 reached the agent: it left gw-1, kept gw-2.
for _ in $(seq 30); do grep -q "event=gateway_disconnected endpoint=tcp://127.0.0.1:$G1" "$AF_TMP/manager.log" && break; sleep 0.1; done
grep -q "event=gateway_disconnected endpoint=tcp://127.0.0.1:$G1" "$AF_TMP/manager.log" || af_fail "agent kept its link to the dropped gateway"
grep -q "event=gateway_disconnected endpoint=tcp://127.0.0.1:$G2" "$AF_TMP/manager.log" && af_fail "agent left the announcing gateway"
touch "$AF_TMP/stop-g2"
echo "PASS manager_gateways"
