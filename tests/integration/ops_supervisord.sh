#!/usr/bin/env bash
# Whole stack under supervisord, started the way `make run` starts it
# (scripts/run-local.sh: 10 pool agents, fake Anthropic upstream): spawn and
# chat through fleetctl, see tokens stream, then kill -9 each daemon in turn and
# see supervisord restart it and the system serve again (a chat on an agent
# survives the manager's restart). Ctrl-C (SIGINT to the process group) stops
# everything, agents included. Every AF1 link runs ZeroMQ CURVE, as `make run`
# sets it up: certificates made once in var/certs, kept by the next run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
command -v supervisord >/dev/null || af_fail "supervisord not installed"
fc="$AF_BIN/fleetctl"

# deploy/supervisord.conf: each stop wait outlasts what its program does on
# SIGTERM (the gateway's drain, the manager's SIGTERM->SIGKILL of agents), the
# notes saying so sit in that program's section and quote the real defaults,
# and no section carries a note about another program.
grace_ms=$("$AF_BIN/gateway" --help | sed -n 's/^  --shutdown-grace-ms .*\[default: \([0-9]*\)\]$/\1/p')
kill_ms=$("$AF_BIN/manager" --help | sed -n 's/^  --kill-grace-ms .*\[default: \([0-9]*\)\]$/\1/p')
python3 - "$AF_ROOT/deploy/supervisord.conf" "$grace_ms" "$kill_ms" <<'PY' || af_fail "deploy/supervisord.conf stop waits or notes"
import re, sys
conf, grace_ms, kill_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# A note belongs to the section whose header or setting follows it.
sec, notes, wait, pending = None, {}, {}, []
for line in open(conf):
    line = line.strip()
    if line.startswith(";"):
        pending.append(line); continue
    if not line:
        continue
    m = re.match(r"^\[program:([a-z-]+)\]$", line)
    if m:
        sec = m.group(1); notes[sec] = pending
    elif line.startswith("["):
        sec = None
    elif sec:
        notes[sec] += pending
        if line.startswith("stopwaitsecs="):
            wait[sec] = int(line.split("=")[1])
    pending = []
names = ("gateway", "manager", "autoscaler", "fake-anthropic", "prometheus", "alertmanager", "redis")
for p, ns in notes.items():
    for n in ns:
        m = re.match(r"^; (?:the )?([a-z-]+) ", n, re.I)
        if m and m.group(1).lower() in names and m.group(1).lower() != p.replace("manager-b", "manager"):
            sys.exit(f"[program:{p}] carries a note about {m.group(1)}: {n}")
def noted(flag):
    return sorted(p for p, ns in notes.items() if any(flag in n for n in ns))
if noted("--shutdown-grace-ms") != ["gateway"]:
    sys.exit(f"--shutdown-grace-ms noted in {noted('--shutdown-grace-ms')}, want the gateway only")
if noted("--kill-grace-ms") != ["manager"]:
    sys.exit(f"--kill-grace-ms noted in {noted('--kill-grace-ms')}, want the manager only")
for p, flag, ms in (("gateway", "--shutdown-grace-ms", grace_ms), ("manager", "--kill-grace-ms", kill_ms)):
    said = re.search(re.escape(flag) + r"[^(]*\((\d+) s\)", " ".join(notes[p]))
    if not said or int(said.group(1)) * 1000 != ms:
        sys.exit(f"[program:{p}] note on {flag} does not say its default {ms / 1000:g} s")
for p, ms in (("gateway", grace_ms), ("manager", kill_ms), ("manager-b", kill_ms)):
    if wait[p] * 1000 < ms + 2000:
        sys.exit(f"[program:{p}] stopwaitsecs={wait[p]} is not 2 s above {ms} ms")
PY

ops_stack_env
# A port already taken is refused up front, naming the option to change.
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' \
  "$OPS_HTTP" & holder=$!
af_wait_port "127.0.0.1:$OPS_HTTP"
rc=0; bash "$AF_ROOT/scripts/run-local.sh" >"$AF_TMP/busy.out" 2>&1 || rc=$?
kill "$holder"; wait "$holder" 2>/dev/null || true
af_eq "$rc" 1 "run-local.sh exit code with the gateway's port taken"
grep -q "127.0.0.1:$OPS_HTTP is already in use (AF_GATEWAY_LISTEN in " "$AF_TMP/busy.out" \
  || af_fail "busy port message: $(cat "$AF_TMP/busy.out")"
ops_stack_start 10
af_log "stack up: 10 agents ready"

# ---- CURVE on by default ------------------------------------------------------------
grep -qx 'AF_CURVE_DIR=${AF_VAR}/certs' "$AF_VAR/agentfleet.env" || af_fail "env file does not turn CURVE on"
for role in manager gateway agentd autoscaler; do
  [ -s "$AF_VAR/certs/$role.cert_secret" ] && [ -s "$AF_VAR/certs/allowed/$role.cert" ] \
    || af_fail "run-local.sh made no $role certificate in $AF_VAR/certs"
done
af_eq "$(stat -c %a "$AF_VAR/certs/manager.cert_secret")" 600 "mode of manager.cert_secret"
cert_sum=$(cat "$AF_VAR"/certs/*.cert_secret | md5sum)
curve_metric() { # metrics-port name
  curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v m="$2" '$1 == m {print int($2)}' || true
}
admitted=$(curve_metric "$OPS_MGR_METRICS" zmq_curve_admitted_total)
[ "${admitted:-0}" -ge 10 ] || af_fail "manager admitted ${admitted:-no} CURVE handshakes (10 ready agents)"
af_eq "$(curve_metric "$OPS_MGR_METRICS" zmq_curve_refused_total)" 0 "manager's refused CURVE handshakes"
gw_admitted=$(curve_metric "$OPS_HTTP" zmq_curve_admitted_total)
[ "${gw_admitted:-0}" -ge 10 ] || af_fail "gateway admitted ${gw_admitted:-no} CURVE handshakes from 10 agents"
af_log "CURVE: manager admitted $admitted, gateway $gw_admitted handshakes"
export FLEET_TOKEN
FLEET_TOKEN=$("$fc" token --user alice)
admin=$("$fc" token --user root --role admin)

# ---- spawn, list, chat, session ---------------------------------------------------
agent=$("$fc" agents spawn --cores 2 | awk '{print $1}')
[[ "$agent" == ag_* ]] || af_fail "spawn printed '$agent'"
"$fc" agents list | grep -q "^$agent  alice  ready" || af_fail "agents list lacks $agent"
"$fc" --json agents get "$agent" | grep -Eq '"cores":[[:space:]]*2' || af_fail "agents get: no cores 2"

"$fc" chat "$agent" -m "first turn" >"$AF_TMP/chat1.out" 2>"$AF_TMP/chat1.err" \
  || af_fail "chat failed: $(cat "$AF_TMP/chat1.err")"
grep -q '^You said: first turn w0 w1' "$AF_TMP/chat1.out" || af_fail "chat reply: $(cat "$AF_TMP/chat1.out")"
session=$(sed -n 's/^\[session \(se_[A-Za-z0-9_-]*\) on .*/\1/p' "$AF_TMP/chat1.err")
[ -n "$session" ] || af_fail "no session id on stderr: $(cat "$AF_TMP/chat1.err")"
"$fc" chat "$agent" --session "$session" -m "second turn" >/dev/null 2>&1 || af_fail "second turn failed"
"$fc" sessions show "$session" >"$AF_TMP/show.out" || af_fail "sessions show failed"
af_eq "$(grep -c '^user: ' "$AF_TMP/show.out")" 2 "user turns in the session"
grep -q "^agent    $agent" "$AF_TMP/show.out" || af_fail "session not on $agent"

# Streaming: the first delta reaches the terminal well before the reply ends
# (the fake paces 40 tokens/s, a reply is ~27 tokens).
"$fc" --json chat -m "stream please" 2>/dev/null | while IFS= read -r line; do
  printf '%s %s\n' "$(date +%s%N)" "$line"
done >"$AF_TMP/stream.out"
ndelta=$(grep -c '"event":"delta"' "$AF_TMP/stream.out" || true)
[ "$ndelta" -ge 10 ] || af_fail "only $ndelta delta events: $(head -3 "$AF_TMP/stream.out")"
t_first=$(grep -m1 '"event":"delta"' "$AF_TMP/stream.out" | cut -d' ' -f1)
t_done=$(grep -m1 '"event":"done"' "$AF_TMP/stream.out" | cut -d' ' -f1)
spread=$(( (t_done - t_first) / 1000000 ))
[ "$spread" -ge 300 ] || af_fail "tokens did not stream: first delta only ${spread} ms before done"
af_log "stream: $ndelta deltas over ${spread} ms"

# ---- kill -9 each daemon; supervisord restarts it; the system serves again ------------
ready_agents() {
  curl -fsS "http://127.0.0.1:$OPS_MGR_METRICS/metrics" 2>/dev/null \
    | awk '$1 == "manager_agents{state=\"ready\"}" {print int($2)}' || true
}
for prog in gateway manager autoscaler fake-anthropic; do
  old=$(ops_ctl pid "$prog")
  [ "${old:-0}" -gt 0 ] || af_fail "$prog has no pid"
  kill -KILL "$old"
  new=0
  for _ in $(seq 200); do
    new=$(ops_ctl pid "$prog" 2>/dev/null || echo 0)
    if [ "${new:-0}" -gt 0 ] && [ "$new" != "$old" ] && ops_ctl status "$prog" | grep -q RUNNING; then break; fi
    sleep 0.1
  done
  [ "${new:-0}" -gt 0 ] && [ "$new" != "$old" ] || af_fail "supervisord did not restart $prog"
  # Serving again: ready, and a new chat completes.
  ok=0
  for _ in $(seq 150); do
    if curl -fsS -o /dev/null "$FLEET_URL/readyz" 2>/dev/null \
       && "$fc" chat -m "after $prog restart" >"$AF_TMP/after.out" 2>/dev/null \
       && grep -q "^You said: after $prog restart" "$AF_TMP/after.out"; then ok=1; break; fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || af_fail "no chat served after $prog was killed and restarted"
  case "$prog" in
    manager)
      # Agents outlive the manager and re-register: still 11 (10 pool + alice's),
      # no duplicates; the session on alice's agent continues.
      for _ in $(seq 100); do [ "$(ready_agents)" = 11 ] && break; sleep 0.1; done
      af_eq "$(ready_agents)" 11 "ready agents after the manager's restart"
      "$fc" chat "$agent" --session "$session" -m "third turn" >/dev/null 2>&1 \
        || af_fail "session $session broken by the manager's restart"
      ;;
    autoscaler)
      af_get -fsS "http://127.0.0.1:$OPS_AS_METRICS/metrics" | grep -q '^# TYPE autoscaler_decisions_total' \
        || af_fail "autoscaler metrics not served after restart"
      ;;
  esac
  af_log "$prog: killed $old, restarted as $new, serving"
done

# ---- stats and scale through fleetctl --------------------------------------------
"$fc" --token "$admin" --json stats | grep -Eq '"ready":[[:space:]]*11' || af_fail "stats: not 11 ready"
"$fc" --token "$admin" scale 12 --reason "ops test" | grep -q '^target 12' || af_fail "scale 12 refused"
# The target counts pool agents: 12 of them, plus alice's own.
for _ in $(seq 100); do [ "$(ready_agents)" = 13 ] && break; sleep 0.1; done
af_eq "$(ready_agents)" 13 "ready agents after scale 12 (12 pool + alice's)"
pool=$("$fc" --token "$admin" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["pool"])')
af_eq "$pool" 12 "pool agents after scale 12"
rc=0; "$fc" scale 20 >/dev/null 2>"$AF_TMP/scale.err" || rc=$?
af_eq "$rc" 3 "exit code of scale with a user token"
grep -q 'admin' "$AF_TMP/scale.err" || af_fail "scale refusal does not say admin: $(cat "$AF_TMP/scale.err")"

# ---- Ctrl-C: everything stops, nothing is left ------------------------------------------
ops_stack_stop
# The next run keeps the certificates (a new key would lock out running peers).
AF_RUN_PREPARE_ONLY=1 bash "$AF_ROOT/scripts/run-local.sh" >"$AF_TMP/prepare.out" 2>&1 \
  || af_fail "prepare-only run failed: $(cat "$AF_TMP/prepare.out")"
af_eq "$(cat "$AF_VAR"/certs/*.cert_secret | md5sum)" "$cert_sum" "certificates after a second run"
! grep -q 'created the CURVE certificates' "$AF_TMP/prepare.out" || af_fail "second run made new certificates"
grep -q '^agentfleet stopped' "$AF_TMP/run-local.log" || af_fail "run-local did not finish"
! grep -q 'WARNING: agent processes outlived' "$AF_TMP/run-local.log" || af_fail "agents outlived the manager"
left=$(ops_leftovers)
[ -z "$left" ] || { ps -o pid,args -p $left >&2; af_fail "processes left after Ctrl-C: $left"; }
af_log "PASS: restarts of 4 daemons survived; Ctrl-C left nothing running"
