# Helpers for the ops_* scenarios (sourced after lib.sh; not a scenario itself):
# a private copy of the `make run` stack on free ports, under supervisord.

# Writes $AF_VAR/agentfleet.env from deploy/agentfleet.env.example with free
# ports, exports AF_VAR, OPS_HTTP, OPS_HTTPS, OPS_MGR_METRICS, OPS_AS_METRICS,
# OPS_FAKE, OPS_MGR (tcp endpoint), and for AF_RUN_HA=1 OPS_MGR_B (manager-b's
# endpoint), OPS_MGR_B_METRICS, OPS_REDIS. Extra "KEY=value" lines may follow as args.
ops_stack_env() {
  OPS_ENV_ARGS=("$@")
  export AF_VAR="$AF_TMP/var"
  mkdir -p "$AF_VAR"
  OPS_HTTP=$(af_free_port); OPS_HTTPS=$(af_free_port)
  OPS_MGR_PORT=$(af_free_port); OPS_AGENT_PORT=$(af_free_port)
  OPS_MGR_METRICS=$(af_free_port); OPS_AS_METRICS=$(af_free_port); OPS_FAKE=$(af_free_port)
  OPS_PROM=$(af_free_port); OPS_AM=$(af_free_port)
  OPS_MGR_B_PORT=$(af_free_port); OPS_MGR_B_METRICS=$(af_free_port); OPS_REDIS=$(af_free_port)
  OPS_MGR="tcp://127.0.0.1:$OPS_MGR_PORT"
  OPS_MGR_B="tcp://127.0.0.1:$OPS_MGR_B_PORT"
  export OPS_HTTP OPS_HTTPS OPS_MGR_METRICS OPS_AS_METRICS OPS_FAKE OPS_MGR OPS_PROM OPS_AM
  export OPS_MGR_B OPS_MGR_B_METRICS OPS_REDIS
  sed -e "s/127.0.0.1:8080/127.0.0.1:$OPS_HTTP/" \
      -e "s/127.0.0.1:8443/127.0.0.1:$OPS_HTTPS/" \
      -e "s/127.0.0.1:5550/127.0.0.1:$OPS_MGR_PORT/" \
      -e "s/127.0.0.1:5560/127.0.0.1:$OPS_AGENT_PORT/" \
      -e "s/127.0.0.1:9101/127.0.0.1:$OPS_MGR_METRICS/" \
      -e "s/127.0.0.1:9102/127.0.0.1:$OPS_AS_METRICS/" \
      -e "s/127.0.0.1:8090/127.0.0.1:$OPS_FAKE/" \
      -e "s/127.0.0.1:9090/127.0.0.1:$OPS_PROM/" \
      -e "s/127.0.0.1:9093/127.0.0.1:$OPS_AM/" \
      -e "s/127.0.0.1:5551/127.0.0.1:$OPS_MGR_B_PORT/" \
      -e "s/127.0.0.1:9103/127.0.0.1:$OPS_MGR_B_METRICS/" \
      -e "s/127.0.0.1:6390/127.0.0.1:$OPS_REDIS/" \
      "$AF_ROOT/deploy/agentfleet.env.example" >"$AF_VAR/agentfleet.env"
  local kv
  for kv in "$@"; do printf '%s\n' "$kv" >>"$AF_VAR/agentfleet.env"; done
  export FLEET_URL="http://127.0.0.1:$OPS_HTTP"
}

# On any exit (a failed assertion included) stop the stack the way Ctrl-C
# does before lib.sh's cleanup, whose TERM-then-KILL of run-local.sh could
# otherwise orphan supervisord.
_ops_exit() {
  local rc=$?
  if [ -n "${OPS_RUN_PID:-}" ] && kill -0 "$OPS_RUN_PID" 2>/dev/null; then
    kill -INT -- "-$OPS_RUN_PID" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$OPS_RUN_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  (exit "$rc")
  af_cleanup
}
trap _ops_exit EXIT

# Starts scripts/run-local.sh (as `make run` does, without the build) in the
# background; its pid is OPS_RUN_PID. Waits until the gateway is ready and
# the manager reports at least $1 ready agents (default 10).
ops_stack_start() {
  local attempt
  # Free ports are picked, then bound later: another test on the machine may
  # take one in between. Then pick new ones and start again (once).
  for attempt in 1 2; do
    if _ops_stack_start_once "${1:-10}"; then return 0; fi
    grep -q 'bind_failed\|already in use\|Address already in use' "$AF_TMP/run-local.log" "$AF_VAR"/log/*.log 2>/dev/null \
      || { cat "$AF_TMP/run-local.log" >&2; af_fail "run-local.sh exited"; }
    af_log "a port was taken meanwhile; new ports, attempt $((attempt + 1))"
    rm -rf "$AF_VAR"
    ops_stack_env "${OPS_ENV_ARGS[@]}"
  done
  cat "$AF_TMP/run-local.log" >&2
  af_fail "run-local.sh exited twice"
}

# One start; returns 1 when run-local.sh exited before the stack was ready.
_ops_stack_start_once() {
  local want="${1:-10}" i n=0
  # Its own process group with SIGINT at its default (a background job of a
  # script would ignore it), so ops_stack_stop can play a terminal's Ctrl-C.
  setsid env --default-signal=INT,TERM bash "$AF_ROOT/scripts/run-local.sh" >"$AF_TMP/run-local.log" 2>&1 &
  OPS_RUN_PID=$!
  _af_pids+=("$OPS_RUN_PID")
  for ((i = 0; i < 600; i++)); do
    kill -0 "$OPS_RUN_PID" 2>/dev/null || { wait "$OPS_RUN_PID" 2>/dev/null || true; OPS_RUN_PID=; return 1; }
    n=$(curl -fsS "http://127.0.0.1:$OPS_MGR_METRICS/metrics" 2>/dev/null \
        | awk '$1 == "manager_agents{state=\"ready\"}" {print int($2)}' || true)
    if [ "${n:-0}" -ge "$want" ] && curl -fsS -o /dev/null "$FLEET_URL/readyz" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  af_fail "stack not ready after 60 s (ready agents: ${n:-0})"
}

# supervisorctl against our private supervisord.
ops_ctl() { supervisorctl -c "$AF_VAR/supervisorctl.conf" "$@"; }

# Stops run-local.sh as Ctrl-C does (SIGINT to its whole process group), or
# with "term" as a service manager does (SIGTERM to run-local.sh alone), and
# waits for it.
ops_stack_stop() {
  [ -n "${OPS_RUN_PID:-}" ] || return 0
  if [ "${1:-}" = term ]; then
    kill -TERM "$OPS_RUN_PID" 2>/dev/null || true
  else
    kill -INT -- "-$OPS_RUN_PID" 2>/dev/null || true
  fi
  local i
  for ((i = 0; i < 400; i++)); do kill -0 "$OPS_RUN_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$OPS_RUN_PID" 2>/dev/null && af_fail "run-local.sh still running 40 s after SIGINT"
  wait "$OPS_RUN_PID" 2>/dev/null || true
  OPS_RUN_PID=
}

# Pids of processes started from our checkout's bin/ that hold our env file,
# manager endpoint or ports (anything the stack left behind).
ops_leftovers() {
  local p
  for p in $(pgrep -f "^($AF_BIN/(agentd|manager|gateway|autoscaler|fake-anthropic)|(/usr/bin/)?prometheus(-alertmanager)?)( |$)" || true); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "AF_VAR=$AF_VAR"; then echo "$p"; fi
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--manager $OPS_MGR"; then echo "$p"; fi
  done | sort -u
  # AF_RUN_HA=1's redis-server (it names itself by its address, not its argv).
  [ -n "${OPS_REDIS:-}" ] && pgrep -f "^redis-server 127.0.0.1:$OPS_REDIS( |$)"
  pgrep -f "supervisord -c $AF_ROOT/deploy/supervisord.conf" | while read -r p; do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "AF_VAR=$AF_VAR" && echo "$p"
  done
  return 0
}
