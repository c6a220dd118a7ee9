#!/usr/bin/env bash
# `make run` with ANTHROPIC_API_KEY set: the real API is the upstream. No
# bin/fake-anthropic runs; agents get the key only in WELCOME (never in any
# process's argv or environment, never in a log) and call the default
# https://api.anthropic.com. This box has no network, so a chat must answer
# at once with a JSON error naming the upstream (502 api_error), never hang.
# Then, with an HTTPS proxy in the env file and the manager restarted (its
# new agents inherit it), the proxy sees the agents' CONNECT to
# api.anthropic.com:443: the host they really call.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
fc="$AF_BIN/fleetctl"
key="sk-ant-test-$(openssl rand -hex 16)"

ops_stack_env
ANTHROPIC_API_KEY="$key" ops_stack_start 10
grep -q 'upstream: https://api.anthropic.com (ANTHROPIC_API_KEY)' "$AF_TMP/run-local.log" \
  || af_fail "run-local.sh does not say the upstream is the real API: $(head -5 "$AF_TMP/run-local.log")"

# ---- no fake upstream ----------------------------------------------------------------------------
ops_ctl status fake-anthropic >"$AF_TMP/fake.status" 2>&1 || true
grep -q '^fake-anthropic  *STOPPED  *Not started' "$AF_TMP/fake.status" \
  || af_fail "fake-anthropic under supervisord: $(cat "$AF_TMP/fake.status")"
for p in $(pgrep -f "^$AF_BIN/fake-anthropic( |$)" || true); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "AF_VAR=$AF_VAR" && af_fail "a fake-anthropic runs for this stack (pid $p)"
done
(exec 3<>"/dev/tcp/127.0.0.1/$OPS_FAKE") 2>/dev/null && af_fail "something listens on the fake's port $OPS_FAKE"
af_eq "$(cat "$AF_VAR/anthropic.key")" "$key" "the key agents are handed (var/anthropic.key)"
af_eq "$(stat -c %a "$AF_VAR/anthropic.key")" 600 "mode of var/anthropic.key"

# ---- the key: in no argv, environment or log ----------------------------------------------------------
# stack_pids: supervisord and everything under it (daemons and agents).
stack_pids() {
  local sv
  sv=$(cat "$AF_VAR/run/supervisord.pid")
  echo "$sv"
  ps -e -o pid= -o ppid= | awk -v root="$sv" '
    { parent[$1] = $2; pids[NR] = $1 }
    END { for (i in pids) { p = pids[i]; q = p
            while (q in parent && q != root && q > 1) q = parent[q]
            if (q == root && p != root) print p } }'
  # Agents are in process groups of their own but stay the manager's children.
}
check_no_key() { # what
  local p n=0 agents=0
  for p in $(stack_pids); do
    [ -r "/proc/$p/environ" ] || continue
    n=$((n + 1))
    grep -q "^$AF_BIN/agentd " <(tr '\0' ' ' <"/proc/$p/cmdline") && agents=$((agents + 1))
    tr '\0' '\n' <"/proc/$p/cmdline" | grep -qF "$key" && af_fail "$1: the key is in the argv of pid $p"
    tr '\0' '\n' <"/proc/$p/environ" | grep -qF "$key" && af_fail "$1: the key is in the environment of pid $p"
    tr '\0' '\n' <"/proc/$p/environ" | grep -qE '^(ANTHROPIC_API_KEY|ANTHROPIC_BASE_URL|AF_AGENTD_ANTHROPIC_BASE_URL)=' \
      && af_fail "$1: pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-60)) has an upstream variable set"
  done
  [ "$agents" -ge 10 ] || af_fail "$1: only $agents agents among the $n stack processes"
  grep -rlF "$key" "$AF_VAR/log" && af_fail "$1: the key is in a log file"
  af_log "$1: key absent from $n processes ($agents agents) and every log"
}
check_no_key "at start"

# ---- a chat: a prompt, clear JSON error --------------------------------------------------------------
alice=$("$fc" token --user alice)
# post PATH BODY: status in $code, body in $AF_TMP/body, seconds in $secs.
post() {
  local t0=$SECONDS
  code=$(curl -sS --max-time 30 -o "$AF_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $alice" \
         -H 'content-type: application/json' "$FLEET_URL$1" -d "$2" || true)
  secs=$((SECONDS - t0))
}
upstream_error() { # what: 502 api_error "upstream https://api.anthropic.com unreachable: ..." within 15 s
  [ "$secs" -le 15 ] || af_fail "$1 took $secs s"
  af_eq "$code" 502 "$1: status ($(cat "$AF_TMP/body"))"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["error"]; assert d["type"]=="error" and e["type"]=="api_error" and e["message"].startswith("upstream https://api.anthropic.com unreachable: "), d' \
    "$AF_TMP/body" || af_fail "$1: body $(cat "$AF_TMP/body")"
}
post /v1/chat '{"message":"Hello, Claude"}'
upstream_error "POST /v1/chat"
af_log "chat without network: HTTP $code in $secs s: $(cat "$AF_TMP/body")"
post /v1/messages '{"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
upstream_error "POST /v1/messages"
post /v1/messages '{"max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
upstream_error "POST /v1/messages (stream)"
rc=0; "$fc" --token "$alice" chat -m "hi" >/dev/null 2>"$AF_TMP/chat.err" || rc=$?
af_eq "$rc" 5 "fleetctl chat exit code without an upstream"
grep -q 'upstream https://api.anthropic.com unreachable: .*(HTTP 502 api_error)' "$AF_TMP/chat.err" || af_fail "fleetctl chat: $(cat "$AF_TMP/chat.err")"
curl -fsS -o /dev/null "$FLEET_URL/readyz" || af_fail "the gateway is not ready after upstream failures"

# ---- the host agents call, seen by an HTTPS proxy -----------------------------------------------------
proxy_port=$(af_free_port)
af_start proxy python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        line = c.recv(4096).split(b"\r\n", 1)[0]
        with open(sys.argv[2], "ab") as f: f.write(line + b"\n")
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    c.close()
' "$proxy_port" "$AF_TMP/proxy.lines"
af_wait_port "127.0.0.1:$proxy_port"
printf 'https_proxy=http://127.0.0.1:%s\n' "$proxy_port" >>"$AF_VAR/agentfleet.env"
# The manager stops its agents on a clean stop; the new ones inherit the proxy.
agents_without_proxy() {
  local p c=0
  for p in $(stack_pids); do
    grep -q "^$AF_BIN/agentd " <(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "https_proxy=http://127.0.0.1:$proxy_port" || c=$((c + 1))
  done
  echo "$c"
}
ops_ctl restart manager >/dev/null
n=0
for _ in $(seq 300); do
  n=$(curl -fsS "http://127.0.0.1:$OPS_MGR_METRICS/metrics" 2>/dev/null \
      | awk '$1 == "manager_agents{state=\"ready\"}" {print int($2)}' || true)
  [ "${n:-0}" -ge 10 ] && [ "$(agents_without_proxy)" = 0 ] && break
  sleep 0.1
done
[ "${n:-0}" -ge 10 ] || af_fail "only ${n:-0} agents ready after the manager's restart"
af_eq "$(agents_without_proxy)" 0 "agents without the proxy after the manager's restart"
post /v1/chat '{"message":"Hello again"}'
upstream_error "POST /v1/chat through the proxy"
af_log "chat through the proxy: HTTP $code in $secs s: $(cat "$AF_TMP/body")"
grep -qx 'CONNECT api.anthropic.com:443 HTTP/1.1' "$AF_TMP/proxy.lines" \
  || af_fail "the agents did not call api.anthropic.com:443: $(cat "$AF_TMP/proxy.lines" 2>/dev/null)"
af_log "proxy saw: $(sort -u "$AF_TMP/proxy.lines" | tr '\n' ' ')"
check_no_key "after the manager's restart"

ops_stack_stop
left=$(ops_leftovers)
[ -z "$left" ] || af_fail "processes left after Ctrl-C: $left"
grep -rlF "$key" "$AF_VAR/log" "$AF_TMP/run-local.log" && af_fail "the key is in a log after the stop"
af_log "PASS: real upstream: no fake, key in no argv/environ/log, 502 api_error at once, agents call api.anthropic.com:443"
