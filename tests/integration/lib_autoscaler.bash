# Helpers for the autoscaler scenarios (sourced after lib.sh; not a scenario
# itself, hence not *.sh). Both daemons bind ephemeral ports and report them,
# so scenarios never race other tests for a port picked in advance.

# Starts the stand-in manager (extra args passed on); sets CTL and HM (ports).
as_harness() {
  rm -f "$AF_TMP/ports"
  af_start harness "$AF_BUILD/tests/integration/harness_autoscaler_manager" \
    --bind 'tcp://127.0.0.1:*' --metrics-listen 127.0.0.1:0 --ports-file "$AF_TMP/ports" "$@"
  local _
  for _ in $(seq 200); do [ -s "$AF_TMP/ports" ] && break; sleep 0.05; done
  [ -s "$AF_TMP/ports" ] || af_fail "harness did not start"
  read -r CTL HM <"$AF_TMP/ports"
}

# as_start NAME args...: starts an autoscaler with /metrics on a free port;
# sets AM (that port) and AS_PID.
as_start() {
  local name="$1" _; shift
  af_start "$name" "$AF_BIN/autoscaler" --metrics-listen 127.0.0.1:0 "$@"
  AS_PID=$AF_LAST_PID AM=
  for _ in $(seq 200); do
    AM=$(sed -n 's/.*autoscaler started .*metrics_port=\([0-9]*\).*/\1/p' "$AF_TMP/$name.log" | head -1)
    [ -n "$AM" ] && break
    kill -0 "$AS_PID" 2>/dev/null || af_fail "$name exited: $(tail -n 3 "$AF_TMP/$name.log")"
    sleep 0.05
  done
  [ -n "$AM" ] || af_fail "$name did not start"
}
