#!/usr/bin/env bash
# `make run`: prepares var/ (JWT secret, TLS pair, API keys file, env file) and
# runs the whole stack under supervisord in the foreground: manager (process
# provider, 10 pool agents), autoscaler, gateway on :8080/:8443, and
# bin/fake-anthropic as the upstream unless ANTHROPIC_API_KEY is set. Ctrl-C
# (or SIGTERM) stops every program and every agent.
#
# Environment: AF_VAR (default <repo>/var) holds state and logs; an existing
# $AF_VAR/agentfleet.env is kept (edit it to change ports or options), and so
# is $AF_VAR/cost.json, the gateway's cost controls (first made from
# deploy/cost.example.json). The banner's commands for a second terminal must
# work as printed (tests/integration/ops_banner.sh runs them).
# AF_RUN_PREPARE_ONLY=1 prepares var/ and exits; AF_RUN_DETACH=1 starts
# supervisord in the background, waits until the gateway is ready and returns
# (scripts/deploy uses both).
# CURVE is on by default: the env file's AF_CURVE_DIR (var/certs) gets its
# certificates from scripts/make-certs.sh the first time (kept across runs).
# AF_RUN_HA=1 also runs redis-server (the lease) and a second manager
# (manager-b): two managers, one leading (docs/operations.md).
set -euo pipefail

AF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AF_VAR="${AF_VAR:-$AF_ROOT/var}"
mkdir -p "$AF_VAR"
AF_VAR="$(cd "$AF_VAR" && pwd)"
AF_ENV_FILE="$AF_VAR/agentfleet.env"
# AF_BIN: where the binaries are (tests point it at an ASan build).
AF_BIN="${AF_BIN:-$AF_ROOT/bin}"
case "$AF_BIN" in /*) ;; *) AF_BIN="$AF_ROOT/$AF_BIN";; esac
export AF_ROOT AF_VAR AF_ENV_FILE AF_BIN

say() { printf '%s\n' "$*"; }
die() { printf 'run-local: %s\n' "$*" >&2; exit 1; }

for b in gateway manager autoscaler agentd fake-anthropic fleetctl; do
  [ -x "$AF_BIN/$b" ] || die "$AF_BIN/$b is missing: build first (make run does)"
done
command -v supervisord >/dev/null || die "supervisord is not installed (make deps)"
command -v openssl >/dev/null || die "openssl is not installed (make deps)"

# ---- var/ -------------------------------------------------------------------
umask 077
mkdir -p "$AF_VAR/log" "$AF_VAR/run" "$AF_VAR/tls"
if [ ! -s "$AF_VAR/jwt.secret" ]; then
  openssl rand -hex 32 >"$AF_VAR/jwt.secret"
  say "created $AF_VAR/jwt.secret (HS256 secret for JWTs)"
fi
if [ ! -s "$AF_VAR/tls/gateway.crt" ] || [ ! -s "$AF_VAR/tls/gateway.key" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$AF_VAR/tls/gateway.key" -out "$AF_VAR/tls/gateway.crt" 2>/dev/null \
    || die "openssl could not make the TLS pair"
  say "created $AF_VAR/tls/gateway.{crt,key} (self-signed, localhost)"
fi
[ -e "$AF_VAR/api-keys" ] || : >"$AF_VAR/api-keys"
# supervisorctl needs only the socket: a config with no variables to export.
printf '[supervisorctl]\nserverurl=unix://%s/run/supervisor.sock\n' "$AF_VAR" >"$AF_VAR/supervisorctl.conf"
if [ ! -s "$AF_ENV_FILE" ]; then
  cp "$AF_ROOT/deploy/agentfleet.env.example" "$AF_ENV_FILE"
  say "created $AF_ENV_FILE (edit it to change ports and options)"
fi

# CURVE on every AF1 link: an env file from before CURVE was on by default
# gets the line (one that mentions AF_CURVE_DIR at all, even commented out or
# empty, is the operator's choice and stays).
if ! grep -q 'AF_CURVE_DIR' "$AF_ENV_FILE"; then
  printf '\n# Added by run-local.sh: ZeroMQ CURVE on every AF1 link (empty = off).\nAF_CURVE_DIR=${AF_VAR}/certs\n' >>"$AF_ENV_FILE"
  say "turned CURVE on in $AF_ENV_FILE (AF_CURVE_DIR=\${AF_VAR}/certs)"
fi
# Cost controls likewise: an env file from before they were on gets the line.
if ! grep -q 'AF_GATEWAY_COST_CONFIG' "$AF_ENV_FILE"; then
  printf '\n# Added by run-local.sh: cost controls (budgets, ceilings, routing; empty = off).\nAF_GATEWAY_COST_CONFIG=${AF_VAR}/cost.json\n' >>"$AF_ENV_FILE"
  say "turned cost controls on in $AF_ENV_FILE (AF_GATEWAY_COST_CONFIG=\${AF_VAR}/cost.json)"
fi

# The upstream: the real API when a key is given now, or was given before
# (var/anthropic.key holds a real key: a restart by systemd or scripts/deploy
# must not fall back to the fake), else the fake. AF_RUN_FAKE_UPSTREAM=1
# forces the fake.
# AF_RUN_HA=1 / AF_RUN_MONITORING=1 make run win over the env file's values.
run_ha="${AF_RUN_HA:-}" run_mon="${AF_RUN_MONITORING:-}"
set -a
# shellcheck disable=SC1090
. "$AF_ENV_FILE"
set +a
AF_RUN_HA="${run_ha:-${AF_RUN_HA:-0}}"
AF_RUN_MONITORING="${run_mon:-${AF_RUN_MONITORING:-0}}"
fake_key=sk-ant-local-fake
if [ -n "${AF_CURVE_DIR:-}" ]; then
  need_certs=0
  for role in manager gateway agentd autoscaler; do
    [ -s "$AF_CURVE_DIR/$role.cert_secret" ] && [ -s "$AF_CURVE_DIR/allowed/$role.cert" ] || need_certs=1
  done
  if [ "$need_certs" = 1 ]; then
    bash "$AF_ROOT/scripts/make-certs.sh" "$AF_CURVE_DIR" >/dev/null \
      || die "scripts/make-certs.sh could not make the CURVE certificates in $AF_CURVE_DIR"
    say "created the CURVE certificates in $AF_CURVE_DIR (scripts/make-certs.sh)"
  fi
fi
# The cost config the env file names: var/cost.json starts as a copy of
# deploy/cost.example.json (kept across runs, like the env file); any other
# path is the operator's and must exist (the gateway's --check-config says so).
if [ "${AF_GATEWAY_COST_CONFIG:-}" = "$AF_VAR/cost.json" ] && [ ! -e "$AF_VAR/cost.json" ]; then
  (umask 022; cp "$AF_ROOT/deploy/cost.example.json" "$AF_VAR/cost.json")
  say "created $AF_VAR/cost.json (cost controls: edit it, then restart the gateway)"
fi
if [ -z "${ANTHROPIC_API_KEY:-}" ] && [ -z "${AF_RUN_FAKE_UPSTREAM:-}" ] && [ -s "$AF_VAR/anthropic.key" ] \
   && [ "$(cat "$AF_VAR/anthropic.key")" != "$fake_key" ]; then
  ANTHROPIC_API_KEY="$(cat "$AF_VAR/anthropic.key")"
fi
if [ -n "${ANTHROPIC_API_KEY:-}" ] && [ -z "${AF_RUN_FAKE_UPSTREAM:-}" ]; then
  printf '%s\n' "$ANTHROPIC_API_KEY" >"$AF_VAR/anthropic.key"
  unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
  export AF_FAKE_ANTHROPIC_AUTOSTART=false
  upstream="https://api.anthropic.com (ANTHROPIC_API_KEY)"
else
  # The fake accepts any non-empty key; agents still need one to send.
  unset ANTHROPIC_API_KEY
  printf '%s\n' "$fake_key" >"$AF_VAR/anthropic.key"
  export ANTHROPIC_BASE_URL="http://${AF_FAKE_ANTHROPIC_LISTEN:-127.0.0.1:8090}"
  export AF_FAKE_ANTHROPIC_AUTOSTART=true
  upstream="bin/fake-anthropic on $ANTHROPIC_BASE_URL"
fi
umask 022

# Monitoring: Prometheus and Alertmanager under the same supervisord.
AF_RUN_MONITORING="${AF_RUN_MONITORING:-0}"
export AF_RUN_PROMETHEUS_LISTEN="${AF_RUN_PROMETHEUS_LISTEN:-127.0.0.1:9090}"
export AF_RUN_ALERTMANAGER_LISTEN="${AF_RUN_ALERTMANAGER_LISTEN:-127.0.0.1:9093}"
export AF_MONITORING_AUTOSTART=false
if [ "$AF_RUN_MONITORING" = 1 ]; then
  command -v prometheus >/dev/null || die "AF_RUN_MONITORING=1 needs prometheus (make deps)"
  command -v prometheus-alertmanager >/dev/null \
    || die "AF_RUN_MONITORING=1 needs prometheus-alertmanager (apt-get install prometheus-alertmanager)"
  export AF_MONITORING_AUTOSTART=true
  mkdir -p "$AF_VAR/monitoring/prometheus" "$AF_VAR/monitoring/alertmanager" "$AF_VAR/monitoring/rules"
  # deploy/prometheus.yml and its rules with `make run`'s default addresses
  # replaced by the env file's; AF_RUN_PROMETHEUS_INTERVAL (default 15s) sets
  # the scrape, evaluation and recording intervals.
  iv="${AF_RUN_PROMETHEUS_INTERVAL:-15s}"
  # AF_RUN_HA=1: manager-b is a manager target too (manager_leader of both).
  mgr_targets="'${AF_MANAGER_METRICS_LISTEN:-127.0.0.1:9101}'"
  [ "$AF_RUN_HA" = 1 ] && mgr_targets="$mgr_targets, '${AF_RUN_HA_MANAGER_METRICS_LISTEN:-127.0.0.1:9103}'"
  sed -e "s#127.0.0.1:8080#${AF_GATEWAY_LISTEN:-127.0.0.1:8080}#" \
      -e "s#- targets: \['127.0.0.1:9101'\]#- targets: [$mgr_targets]#" \
      -e "s#127.0.0.1:9101#${AF_MANAGER_METRICS_LISTEN:-127.0.0.1:9101}#g" \
      -e "s#127.0.0.1:9102#${AF_AUTOSCALER_METRICS_LISTEN:-127.0.0.1:9102}#" \
      -e "s#127.0.0.1:9093#$AF_RUN_ALERTMANAGER_LISTEN#" \
      -e "s#_interval: 15s#_interval: $iv#" \
      -e "s#scrape_timeout: 10s#scrape_timeout: $iv#" \
      "$AF_ROOT/deploy/prometheus.yml" >"$AF_VAR/monitoring/prometheus.yml"
  for r in "$AF_ROOT"/deploy/rules/*.yml; do
    sed "s#^    interval: 15s#    interval: $iv#" "$r" >"$AF_VAR/monitoring/rules/$(basename "$r")"
  done
  promtool check config "$AF_VAR/monitoring/prometheus.yml" >/dev/null 2>&1 \
    || die "the rendered $AF_VAR/monitoring/prometheus.yml does not pass promtool check config"
fi

# Two managers (AF_RUN_HA=1): a redis-server of our own for the lease and
# manager-b; the lease, the cluster list and both endpoints for the gateway
# and autoscaler go to an overlay af-exec reads after the env file.
export AF_HA_AUTOSTART=false
export AF_RUN_HA_MANAGER_LISTEN="${AF_RUN_HA_MANAGER_LISTEN:-tcp://127.0.0.1:5551}"
export AF_RUN_HA_MANAGER_METRICS_LISTEN="${AF_RUN_HA_MANAGER_METRICS_LISTEN:-127.0.0.1:9103}"
AF_RUN_REDIS_LISTEN="${AF_RUN_REDIS_LISTEN:-127.0.0.1:6390}"
rm -f "$AF_VAR/run/ha.env"
unset AF_ENV_OVERLAY
if [ "$AF_RUN_HA" = 1 ]; then
  command -v redis-server >/dev/null || die "AF_RUN_HA=1 needs redis-server (apt-get install redis-server)"
  export AF_HA_AUTOSTART=true
  mkdir -p "$AF_VAR/redis"
  # Lease data only: no snapshots, loopback (or the given host) only.
  {
    echo "# Rendered by scripts/run-local.sh (AF_RUN_HA=1) at each start."
    echo "bind ${AF_RUN_REDIS_LISTEN%:*}"
    echo "port ${AF_RUN_REDIS_LISTEN##*:}"
    echo "dir $AF_VAR/redis"
    echo "daemonize no"
    echo 'save ""'
    echo "appendonly no"
  } >"$AF_VAR/redis/redis.conf"
  cluster="${AF_MANAGER_LISTEN:-tcp://127.0.0.1:5550},$AF_RUN_HA_MANAGER_LISTEN"
  {
    echo "# Rendered by scripts/run-local.sh (AF_RUN_HA=1) at each start; read by"
    echo "# deploy/af-exec after agentfleet.env. manager-b overrides the id and"
    echo "# its addresses with flags (deploy/supervisord.conf)."
    echo "AF_MANAGER_REDIS_URL=redis://$AF_RUN_REDIS_LISTEN/0"
    echo "AF_MANAGER_MANAGER_ID=mgr-a"
    echo "AF_MANAGER_CLUSTER=$cluster"
    echo "AF_GATEWAY_MANAGER=$cluster"
    echo "AF_AUTOSCALER_MANAGER=$cluster"
  } >"$AF_VAR/run/ha.env"
  export AF_ENV_OVERLAY="$AF_VAR/run/ha.env"
fi

# Check each daemon's configuration before supervisord restarts it in a loop.
for d in gateway manager autoscaler; do
  out=$("$AF_ROOT/deploy/af-exec" "$d" --check-config 2>&1) || die "$d: $out"
done
if [ "$AF_RUN_HA" = 1 ]; then
  out=$("$AF_ROOT/deploy/af-exec" manager --manager-id mgr-b --listen "$AF_RUN_HA_MANAGER_LISTEN" \
        --metrics-listen "$AF_RUN_HA_MANAGER_METRICS_LISTEN" --check-config 2>&1) || die "manager-b: $out"
fi

conf="$AF_ROOT/deploy/supervisord.conf"
ctl="supervisorctl -c $AF_VAR/supervisorctl.conf"
if [ -z "${AF_RUN_PREPARE_ONLY:-}" ] && [ -S "$AF_VAR/run/supervisor.sock" ] && $ctl pid >/dev/null 2>&1; then
  die "agentfleet already runs for $AF_VAR (status: $ctl status; stop: $ctl shutdown)"
fi

# Ports already taken would only show as programs restarting in a loop: say
# which option to change instead.
port_busy() { # host:port
  local hp="${1#tcp://}" host port
  host="${hp%:*}"; port="${hp##*:}"
  case "$host" in ""|"*"|0.0.0.0) host=127.0.0.1 ;; esac
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}
if [ -z "${AF_RUN_PREPARE_ONLY:-}" ]; then
  for kv in "AF_GATEWAY_LISTEN=${AF_GATEWAY_LISTEN:-127.0.0.1:8080}" \
            "AF_GATEWAY_TLS_LISTEN=${AF_GATEWAY_TLS_LISTEN:-}" \
            "AF_GATEWAY_AGENT_LISTEN=${AF_GATEWAY_AGENT_LISTEN:-tcp://127.0.0.1:5560}" \
            "AF_MANAGER_LISTEN=${AF_MANAGER_LISTEN:-tcp://127.0.0.1:5550}" \
            "AF_MANAGER_METRICS_LISTEN=${AF_MANAGER_METRICS_LISTEN:-127.0.0.1:9101}" \
            "AF_AUTOSCALER_METRICS_LISTEN=${AF_AUTOSCALER_METRICS_LISTEN:-127.0.0.1:9102}" \
            "AF_FAKE_ANTHROPIC_LISTEN=${AF_FAKE_ANTHROPIC_LISTEN:-127.0.0.1:8090}" \
            "AF_RUN_PROMETHEUS_LISTEN=$AF_RUN_PROMETHEUS_LISTEN" \
            "AF_RUN_ALERTMANAGER_LISTEN=$AF_RUN_ALERTMANAGER_LISTEN" \
            "AF_RUN_HA_MANAGER_LISTEN=$AF_RUN_HA_MANAGER_LISTEN" \
            "AF_RUN_HA_MANAGER_METRICS_LISTEN=$AF_RUN_HA_MANAGER_METRICS_LISTEN" \
            "AF_RUN_REDIS_LISTEN=$AF_RUN_REDIS_LISTEN"; do
    name="${kv%%=*}" addr="${kv#*=}"
    [ -n "$addr" ] || continue
    [ "$name" = AF_FAKE_ANTHROPIC_LISTEN ] && [ "$AF_FAKE_ANTHROPIC_AUTOSTART" = false ] && continue
    case "$name" in AF_RUN_PROMETHEUS_LISTEN|AF_RUN_ALERTMANAGER_LISTEN)
      [ "$AF_MONITORING_AUTOSTART" = true ] || continue ;; esac
    case "$name" in AF_RUN_HA_*|AF_RUN_REDIS_LISTEN) [ "$AF_HA_AUTOSTART" = true ] || continue ;; esac
    if port_busy "$addr"; then
      die "$addr is already in use ($name in $AF_ENV_FILE); stop what holds it or pick another port there"
    fi
  done
fi

http="${AF_GATEWAY_LISTEN:-127.0.0.1:8080}"
https="${AF_GATEWAY_TLS_LISTEN:-}"
export FLEET_URL="http://$http"

if [ -n "${AF_RUN_PREPARE_ONLY:-}" ]; then
  say "prepared $AF_VAR"
  exit 0
fi

# ---- run --------------------------------------------------------------------
say "starting agentfleet under supervisord (logs in $AF_VAR/log, upstream: $upstream)"
if [ -n "${AF_RUN_DETACH:-}" ]; then
  setsid supervisord -c "$conf" </dev/null >>"$AF_VAR/log/supervisord.out" 2>&1 &
  sv=$!
  for _ in $(seq 1 600); do
    kill -0 "$sv" 2>/dev/null || die "supervisord exited; see $AF_VAR/log/supervisord.log"
    if curl -fsS --max-time 1 -o /dev/null "http://$http/readyz" 2>/dev/null; then
      say "agentfleet is up: $FLEET_URL (supervisord pid $sv; status: $ctl status; stop: $ctl shutdown)"
      exit 0
    fi
    sleep 0.1
  done
  die "the gateway is not ready after 60 s; see $AF_VAR/log/*.log"
fi
supervisord -c "$conf" &
sv=$!
stopping=0
on_signal() {
  stopping=1
  kill -TERM "$sv" 2>/dev/null || true
}
trap on_signal INT TERM

ready=0
for i in $(seq 1 600); do
  kill -0 "$sv" 2>/dev/null || break
  [ "$stopping" = 1 ] && break
  if curl -fsS --max-time 1 -o /dev/null "http://$http/readyz" 2>/dev/null; then ready=1; break; fi
  # A program that exits during its first second, twice in a row, is not
  # going to start (a bind failure, a bad option): show why and stop.
  if [ $((i % 10)) = 0 ]; then
    now_failing=$($ctl status 2>/dev/null | awk '$2 == "BACKOFF" || $2 == "FATAL" {print $1}' | tr '\n' ' ' || true)
    fatal=""
    for p in $now_failing; do case " ${was_failing:-} " in *" $p "*) fatal="$fatal $p" ;; esac; done
    was_failing="$now_failing"
  fi
  if [ $((i % 10)) = 0 ] && [ -n "$fatal" ]; then
    for p in $fatal; do
      say "run-local: $p keeps failing at start; the end of $AF_VAR/log/$p.log:" >&2
      tail -n 5 "$AF_VAR/log/$p.log" >&2 2>/dev/null || true
    done
    failed=1
    on_signal
    break
  fi
  sleep 0.1
done

if [ "$ready" = 1 ]; then
  fleetctl="$AF_BIN/fleetctl"
  mon=""
  [ "$AF_MONITORING_AUTOSTART" = true ] && mon="
  monitor:  Prometheus http://$AF_RUN_PROMETHEUS_LISTEN  Alertmanager http://$AF_RUN_ALERTMANAGER_LISTEN"
  [ "$AF_HA_AUTOSTART" = true ] && mon="$mon
  managers: manager ${AF_MANAGER_LISTEN:-tcp://127.0.0.1:5550} and manager-b $AF_RUN_HA_MANAGER_LISTEN (metrics http://$AF_RUN_HA_MANAGER_METRICS_LISTEN/metrics); lease in redis $AF_RUN_REDIS_LISTEN"
  curve="plaintext AF1 (AF_CURVE_DIR is empty)"
  [ -n "${AF_CURVE_DIR:-}" ] && curve="CURVE on every AF1 link (certificates in $AF_CURVE_DIR)"
  mon="$mon
  security: $curve"
  costs="none (AF_GATEWAY_COST_CONFIG is empty: no budgets, no routing)"
  [ -n "${AF_GATEWAY_COST_CONFIG:-}" ] && costs="$AF_GATEWAY_COST_CONFIG (budgets, max_tokens ceilings, routing; fleetctl usage)"
  mon="$mon
  costs:    $costs"
  cat <<EOF

agentfleet is up: $FLEET_URL${https:+ and https://$https (self-signed: curl -k)}
  metrics:  http://$http/metrics  http://${AF_MANAGER_METRICS_LISTEN:-127.0.0.1:9101}/metrics  http://${AF_AUTOSCALER_METRICS_LISTEN:-127.0.0.1:9102}/metrics$mon
  logs:     $AF_VAR/log/
  control:  $ctl status|restart gateway|tail -f manager

In another terminal:
  export AF_VAR=$AF_VAR FLEET_URL=$FLEET_URL
  export FLEET_TOKEN=\$($fleetctl token --user alice --role admin)
  curl -s -H "Authorization: Bearer \$FLEET_TOKEN" $FLEET_URL/v1/chat \\
       -d '{"message":"Hello, Claude"}'
  $fleetctl agents list
  $fleetctl chat          # type a line, watch the tokens stream; Ctrl-D ends

Ctrl-C here stops everything.
EOF
elif [ "$stopping" = 0 ] && kill -0 "$sv" 2>/dev/null; then
  say "run-local: the gateway is not ready after 60 s; see $AF_VAR/log/*.log" >&2
fi

rc=0
while kill -0 "$sv" 2>/dev/null; do
  wait "$sv" || rc=$?
done
wait "$sv" 2>/dev/null || true

# Nothing may outlive us: agents are the manager's children (own process
# groups), which it stops on a clean exit. Report and clean up any straggler.
# Under HA a manager's clean exit leaves its agents running by design (another
# manager may lead them): stop them here, without a warning.
left=""
for p in $(pgrep -f "^$AF_BIN/agentd " || true); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "AF_VAR=$AF_VAR" && left="$left $p"
done
if [ -n "$left" ]; then
  if [ "$AF_HA_AUTOSTART" = true ]; then
    say "run-local: stopping the agents (under HA the managers leave them running)"
  else
    say "run-local: WARNING: agent processes outlived the manager:$left; stopping them" >&2
    rc=1
  fi
  for p in $left; do kill -TERM "$p" 2>/dev/null || true; done
  alive=""
  for _ in $(seq 100); do
    alive=""
    for p in $left; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for p in $alive; do kill -KILL "$p" 2>/dev/null || true; done
fi
say "agentfleet stopped"
if [ "${failed:-0}" = 1 ]; then exit 1; fi
if [ "$stopping" = 1 ]; then exit 0; fi
exit "$rc"
