#!/usr/bin/env bash
# Manager high availability (issue #9): two managers share a lease in a real
# redis-server; one leads (fencing token 1), the other stands by with its registry warm
# from agent heartbeats and answers not_leader. Agents and the gateway know both
# endpoints. kill -9 of the leader: the standby leads within 5 s with a higher token;
# spawn, list, placement and chat keep working; the pool is not spawned again and no
# agent is spawned twice or lost (every link on CURVE). The old leader returns as a standby; the new leader
# is paused (SIGSTOP) past its lease: the standby takes over with token 3, and the
# resumed stale leader steps down by its own clock without acting. A manager stopped
# cleanly under HA leaves the agents running.
. "$(dirname "$0")/lib.sh"

command -v redis-server >/dev/null || af_fail "redis-server not installed"
for b in fake-anthropic manager agentd gateway; do [ -x "$AF_BIN/$b" ] || af_fail "missing $AF_BIN/$b"; done
RP=$(af_free_port); FP=$(af_free_port); MPA=$(af_free_port); MPB=$(af_free_port)
MMA=$(af_free_port); MMB=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port)
CLUSTER="tcp://127.0.0.1:$MPA,tcp://127.0.0.1:$MPB"
CERTS="$AF_TMP/certs" # every link on CURVE, as deployed (both managers share the manager keypair)
bash "$AF_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null
UPKEY="sk-upstream-$$-ha"; echo "$UPKEY" >"$AF_TMP/upstream.key"
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
ROOT=$("$AF_BIN/gateway" --add-key root admin --keys-file "$KEYS")
G="http://127.0.0.1:$HP"
agents() { pgrep -f -- "agentd .*--manager $CLUSTER" | sort || true; }
# Under HA a manager's clean exit leaves its agents running (by design): stop the
# ones this scenario made (found by its unique cluster list) before the usual cleanup.
trap 'rc=$?; a=$(agents); [ -n "$a" ] && kill -TERM $a 2>/dev/null; (exit $rc); af_cleanup' EXIT
metric() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
MA="http://127.0.0.1:$MMA"; MB="http://127.0.0.1:$MMB"

af_start redis redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no
af_wait_port "127.0.0.1:$RP"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$FP" --api-key "$UPKEY"
af_wait_port "127.0.0.1:$FP"
start_manager() { # name listen-port metrics-port
  ANTHROPIC_BASE_URL="http://127.0.0.1:$FP" af_start "$1" "$AF_BIN/manager" \
    --listen "tcp://127.0.0.1:$2" --metrics-listen "127.0.0.1:$3" --min-agents 2 --max-agents 6 \
    --heartbeat-ms 300 --anthropic-key-file "$AF_TMP/upstream.key" \
    --redis-url "redis://127.0.0.1:$RP" --lease-ttl-ms 2000 --manager-id "$1" --cluster "$CLUSTER" \
    --curve-dir "$CERTS"
}
start_manager mgr-a "$MPA" "$MMA"; PA=$AF_LAST_PID
for _ in $(seq 100); do [ "$(metric "$MA" manager_leader)" = 1 ] && break; sleep 0.05; done
af_eq "$(metric "$MA" manager_leader)" 1 "first manager leads"
start_manager mgr-b "$MPB" "$MMB"; PB=$AF_LAST_PID
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "$CLUSTER" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --heartbeat-ms 300 --ip-rate 100000 \
  --curve-dir "$CERTS"
af_wait_port "127.0.0.1:$HP"
ASP=$(af_free_port)
af_start autoscaler "$AF_BIN/autoscaler" --manager "$CLUSTER" --interval-s 1 --dry-run true \
  --metrics-listen "127.0.0.1:$ASP" --curve-dir "$CERTS"
for _ in $(seq 200); do
  [ "$(curl -s "$G/readyz" | jq -r .agents 2>/dev/null)" = 2 ] && break; sleep 0.1
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$G/readyz")" 200 "readyz through the leader"
af_eq "$(metric "$MA" manager_fence_token)" 1 "leader's fencing token"
af_eq "$(metric "$MB" manager_leader)" 0 "second manager stands by"

af_log "before failover: spawn, list, chat; the standby's registry is warm"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary '{}' "$G/v1/agents")
af_eq "$c" 201 "spawn via the leader ($(cat "$AF_TMP/b"))"; A1=$(jq -r .agent_id "$AF_TMP/b")
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"message":"before"}' "$G/v1/agents/$A1/chat")
af_eq "$c" 200 "chat before ($(cat "$AF_TMP/b"))"
for _ in $(seq 60); do
  [ "$(curl -s "$MB/metrics" | awk '$1 == "manager_agents{state=\"ready\"}" {print $2}')" = 3 ] && break
  sleep 0.1
done
af_eq "$(curl -s "$MB/metrics" | awk '$1 == "manager_agents{state=\"ready\"}" {print $2}')" 3 "standby knows all 3 agents"
BEFORE=$(agents); nb=$(echo "$BEFORE" | wc -l)
[ "$nb" = 3 ] || { pgrep -af -- "--manager $CLUSTER" >&2; af_fail "agent processes before failover: $nb"; }
spawns_b=$(grep -c 'event=spawn_started\|event=agent_forked' "$AF_TMP/mgr-b.log" || true)
af_eq "$spawns_b" 0 "the standby spawned nothing"

decisions() { grep -c 'decision direction=' "$AF_TMP/autoscaler.log" || true; }
for _ in $(seq 50); do [ "$(decisions)" -ge 3 ] && break; sleep 0.1; done
[ "$(decisions)" -ge 3 ] || af_fail "autoscaler made $(decisions) decisions through the leader"
af_eq "$(grep -c 'evaluation skipped' "$AF_TMP/autoscaler.log" || true)" 0 "autoscaler STATS all answered (standby refusals retried)"
af_log "kill -9 the leader"
t0=$(date +%s.%N)
kill -9 "$PA"
for _ in $(seq 120); do [ "$(metric "$MB" manager_leader)" = 1 ] && break; sleep 0.05; done
t1=$(date +%s.%N)
af_eq "$(metric "$MB" manager_leader)" 1 "standby took over"
took=$(python3 -c "print(round($t1 - $t0, 2))")
python3 -c "import sys; sys.exit(0 if $took < 5 else 1)" || af_fail "takeover took ${took}s (limit 5 s)"
af_eq "$(metric "$MB" manager_fence_token)" 2 "new leader's token is higher"
af_log "standby leads after ${took}s (lease TTL 2 s)"

d0=$(decisions)
af_log "after failover: list, chat on an old agent, spawn"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ROOT" "$G/v1/agents")
af_eq "$c" 200 "list after failover ($(cat "$AF_TMP/b"))"
af_eq "$(jq -r .count "$AF_TMP/b")" 3 "all agents listed by the new leader"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"message":"after"}' "$G/v1/agents/$A1/chat")
af_eq "$c" 200 "chat on an agent the old leader spawned ($(cat "$AF_TMP/b"))"
af_eq "$(jq -r .content "$AF_TMP/b")" "You said: after" "reply after failover"
# A new session is placed by the new leader (PLACE on a pool agent).
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST \
  --data-binary '{"message":"placed after"}' "$G/v1/chat")
af_eq "$c" 200 "new session placed after failover ($(cat "$AF_TMP/b"))"
af_eq "$(jq -r .content "$AF_TMP/b")" "You said: placed after" "reply on the placed session"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary '{}' "$G/v1/agents")
af_eq "$c" 201 "spawn via the new leader ($(cat "$AF_TMP/b"))"; A2=$(jq -r .agent_id "$AF_TMP/b")
sleep 1.5 # a pool re-spawn or a duplicate would show by now
AFTER=$(agents)
af_eq "$(echo "$AFTER" | wc -l)" 4 "agent processes after failover (3 + 1 spawned)"
for p in $BEFORE; do echo "$AFTER" | grep -qx "$p" || af_fail "agent process $p was lost"; done
ids=$(for p in $AFTER; do tr '\0' ' ' <"/proc/$p/cmdline" | grep -o -- '--id [^ ]*' | cut -d' ' -f2; done | sort)
af_eq "$(echo "$ids" | uniq | wc -l)" 4 "distinct agent ids"
echo "$ids" | grep -qx "$A2" || af_fail "spawned agent $A2 has no process"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ROOT" "$G/v1/agents")
af_eq "$(jq -r .count "$AF_TMP/b")" 4 "list after the spawn"
for _ in $(seq 40); do [ "$(decisions)" -ge $((d0 + 2)) ] && break; sleep 0.1; done
d1=$(decisions)
[ "$d1" -ge $((d0 + 2)) ] || af_fail "autoscaler decisions after failover: $d0 -> $d1"
af_log "the old leader comes back as a standby; the new leader is paused (stale) and resumed"
start_manager mgr-a2 "$MPA" "$MMA"; PA2=$AF_LAST_PID
for _ in $(seq 60); do
  [ "$(curl -s "$MA/metrics" | awk '$1 == "manager_agents{state=\"ready\"}" {print $2}')" = 4 ] && break
  sleep 0.1
done
af_eq "$(metric "$MA" manager_leader)" 0 "restarted manager stands by"
kill -STOP "$PB"
t0=$(date +%s.%N)
for _ in $(seq 120); do [ "$(metric "$MA" manager_leader)" = 1 ] && break; sleep 0.05; done
af_eq "$(metric "$MA" manager_leader)" 1 "restarted manager took over from the paused one"
af_eq "$(metric "$MA" manager_fence_token)" 3 "third leader, third token"
af_log "took over from the paused leader after $(python3 -c "print(round($(date +%s.%N) - $t0, 2))")s"
# The paused leader resumes 1 s from now, with requests queued to it (the gateway's
# DEALER round-robins): it must refuse them (its lease ran out by its own clock, and
# the gateway sends the newer token 3), so they reach the new leader instead.
spawned_b=$(grep -c 'event=spawn_started' "$AF_TMP/mgr-b.log" || true)
(sleep 1; kill -CONT "$PB") &
RESUME=$!
for i in 1 2; do
  c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ALICE" -X POST --data-binary '{}' "$G/v1/agents")
  [ "$c" = 201 ] || { grep -h "not_leader\|manager_error\|lease" "$AF_TMP"/gateway.log "$AF_TMP"/mgr-b.log "$AF_TMP"/mgr-a2.log | cut -c1-220 | tail -40 >&2; af_fail "spawn $i: $c $(cat "$AF_TMP/b")"; }
done
wait "$RESUME"
for _ in $(seq 60); do grep -q 'event=lease_lost id=mgr-b' "$AF_TMP/mgr-b.log" && break; sleep 0.05; done
grep -q 'event=lease_lost id=mgr-b' "$AF_TMP/mgr-b.log" || af_fail "resumed stale leader did not step down"
af_eq "$(metric "$MB" manager_leader)" 0 "resumed stale leader stands by"
sleep 1
af_eq "$(agents | wc -l)" 6 "agent processes: 4 + 2 spawned, none twice"
af_eq "$(grep -c 'event=spawn_started' "$AF_TMP/mgr-b.log" || true)" "$spawned_b" "spawns by the resumed stale leader"
af_log "requests the resumed stale leader refused: $(curl -s "$MB/metrics" | grep 'code="not_leader"' | grep -v '^#' | tr '\n' ' ')"

af_log "a manager stopped cleanly under HA leaves the agents running"
kill -TERM "$PB"
for _ in $(seq 50); do kill -0 "$PB" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PB" 2>/dev/null && af_fail "manager did not stop"
sleep 0.3
af_eq "$(agents | wc -l)" 6 "agents alive after a manager's clean exit"
grep -q 'event=agents_left_running' "$AF_TMP/mgr-b.log" || af_fail "no agents_left_running in the log"
c=$(curl -s -o "$AF_TMP/b" -w '%{http_code}' -H "x-api-key: $ROOT" "$G/v1/agents")
af_eq "$(jq -r .count "$AF_TMP/b")" 6 "list from the remaining leader"
af_log "PASS ha_failover"
