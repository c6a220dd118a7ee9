#!/usr/bin/env python3
"""Chaos run on loopback: the whole stack (Redis, fake Anthropic API, manager
with its process provider, agents, two gateways, the autoscaler) under a
steady, bounded chat load, while each daemon is killed with SIGKILL in turn
(an agent, the manager, Redis, a gateway, the autoscaler), then half the
agents at once. Killed daemons come back the way supervisord (manager,
gateways, autoscaler, Redis) or the manager's auto-heal (agents) would bring
them back. Redis keeps an append-only file (fsync per write), so it comes back
with what it acknowledged; the turns made while it is down are in the agents'
memory and written back when it returns. (A Redis without persistence comes
back empty: then only that write-back restores histories, and the routes made
before the outage are gone, so a session may be placed on an agent that reads
before the old one has written back. That is a known limit, not what this run
tests; durability_redis_down.sh covers the empty return.)
The autoscaler is live: its sessions-per-agent is set so that the load
overflows the initial 4 agents and it scales the fleet to 6 through the
manager before the first kill (the run waits for that); after its own kill
its successor must evaluate again.

Every request ends as one of:
  ok      200 with a complete reply: an acknowledged turn;
  failed  the client was told: an HTTP error status, a cut connection, or
          a stream that ends with an error event or without its done event;
  lost    no answer within the client timeout, a 200 that is not a complete
          turn, or a stream whose done does not match the deltas received
          (a silent gap) (must be 0).
Every third turn streams (SSE), the others are plain JSON.
A gateway that refuses the connection (it is down) is not a failure: the
client sends the same request to the other gateway, like a load balancer.
At the end every acknowledged turn must be in its session's history in Redis
(turns_lost), and the failures after each kill must not exceed the requests
that were in flight when it happened (sent before the killed processes were
dead). Last line:
  requests=N ok=N failed=N lost=N turns_lost=N
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from free_port import free_port  # noqa: E402  (ports below the ephemeral range)
import threading
import time

ROOT = os.environ.get("AF_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("AF_BIN", "bin")
BIN = BIN if os.path.isabs(BIN) else os.path.join(ROOT, BIN)
WORKERS = int(os.environ.get("CHAOS_WORKERS", "8"))
SESSIONS_PER_WORKER = 3
PAUSE_S = 0.05          # between a worker's requests
BACKOFF_S = 0.3         # after a failure, like a client honouring Retry-After
CLIENT_TIMEOUT_S = 20
SETTLE_S = float(os.environ.get("CHAOS_SETTLE_S", "5"))  # load between kills
AGENTS = 4
FLEET = AGENTS + AGENTS // 2   # after the autoscaler's one +50 % step
SESSIONS = WORKERS * SESSIONS_PER_WORKER
# Sessions per agent such that SESSIONS overflow AGENTS (utilization above the
# 0.8 up threshold) and sit in band on FLEET (strictly below 0.8 spa each).
SPA = SESSIONS * 10 // (FLEET * 8) + 1
assert SESSIONS > 0.8 * SPA * AGENTS, "load does not overflow the initial agents"
HEARTBEAT_MS = 300

TMP = tempfile.mkdtemp(prefix="af-chaos.")
procs = {}              # name -> Popen (only processes started here)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)




def wait_port(port, secs=10):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(name, argv, env=None):
    e = dict(os.environ)
    e.update(env or {})
    out = open(os.path.join(TMP, name + ".log"), "ab")
    procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=e,
                                   start_new_session=True)
    return procs[name]


def kill9(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


P = {k: free_port() for k in ("redis", "fake", "mgr", "mgr_metrics", "http1", "agent1", "http2", "agent2",
                              "as_metrics")}
UPKEY = f"sk-chaos-{os.getpid()}-secret"
KEYS = os.path.join(TMP, "keys")


def start_manager():
    env = {"AF_AGENTD_REDIS_URL": f"redis://127.0.0.1:{P['redis']}",
           "AF_AGENTD_RATE_LIMIT": "1000000",
           "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{P['fake']}"}
    start("manager", [f"{BIN}/manager", "--listen", f"tcp://127.0.0.1:{P['mgr']}",
                      "--metrics-listen", f"127.0.0.1:{P['mgr_metrics']}",
                      "--min-agents", str(AGENTS), "--max-agents", str(AGENTS * 2),
                      "--heartbeat-ms", str(HEARTBEAT_MS),
                      "--anthropic-key-file", os.path.join(TMP, "upstream.key")], env)


def start_redis():
    start("redis", ["redis-server", "--port", str(P["redis"]), "--bind", "127.0.0.1", "--dir", TMP,
                    "--save", "", "--appendonly", "yes", "--appendfsync", "always"])
    wait_port(P["redis"])


def start_autoscaler():
    # Short interval and up cooldown so it acts within the run; a scale-down
    # (a planned drain, not chaos) never comes within it.
    start("autoscaler", [f"{BIN}/autoscaler", "--manager", f"tcp://127.0.0.1:{P['mgr']}",
                         "--metrics-listen", f"127.0.0.1:{P['as_metrics']}",
                         "--interval-s", "0.5", "--cooldown-up-s", "1", "--cooldown-down-s", "3600",
                         "--min-agents", str(AGENTS), "--max-agents", str(AGENTS * 2),
                         "--sessions-per-agent", str(SPA)])
    wait_port(P["as_metrics"])


def autoscaler_evaluated_since(t0):
    """The autoscaler's last evaluation (STATS answered by the manager) is after t0."""
    try:
        _, data = http_req(P["as_metrics"], "GET", "/metrics")
    except OSError:
        return False
    for line in data.decode().split("\n"):
        if line.startswith("autoscaler_last_evaluation_timestamp_seconds "):
            return float(line.split()[1]) >= t0
    return False


def ready_agents(i):
    try:
        st, data = http_req(P[f"http{i}"], "GET", "/readyz")
        return json.loads(data).get("agents") if st == 200 else None
    except (OSError, ValueError):
        return None


def start_gateway(i):
    start(f"gateway{i}", [f"{BIN}/gateway", "--listen", f"127.0.0.1:{P[f'http{i}']}",
                          "--manager", f"tcp://127.0.0.1:{P['mgr']}",
                          "--agent-listen", f"tcp://127.0.0.1:{P[f'agent{i}']}",
                          "--keys-file", KEYS, "--heartbeat-ms", str(HEARTBEAT_MS),
                          "--ip-rate", "0", "--user-rate", "0", "--gateway-id", f"chaos-gw{i}",
                          "--redis-url", f"redis://127.0.0.1:{P['redis']}"])
    wait_port(P[f"http{i}"])


def agent_pids():
    """agentd processes of this run: the ones pointed at our manager's port."""
    out = []
    needle = f"tcp://127.0.0.1:{P['mgr']}".encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"/agentd") and needle in cmd:
            out.append(int(d))
    return sorted(out)


def http_req(port, method, path, body=None, key=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"content-type": "application/json"}
    if key:
        h["x-api-key"] = key
    c.request(method, path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


# ---- load ------------------------------------------------------------------

lock = threading.Lock()
stats = {"requests": 0, "ok": 0, "failed": 0, "lost": 0, "failover": 0}
inflight = [0]
failures = []           # (time, detail)
acked = {}              # session -> [user messages acknowledged, in order]
stop = threading.Event()


def sse_result(data, session):
    """A streamed 200: deltas then one done (or error) event. A done whose
    content is not exactly the deltas received is a silent gap: lost."""
    ev, deltas, done, err = None, [], None, None
    for line in data.decode("utf-8", "replace").split("\n"):
        if line.startswith("event: "):
            ev = line[7:].strip()
        elif line.startswith("data: "):
            try:
                d = json.loads(line[6:])
            except ValueError:
                return "lost", "SSE data that is not JSON"
            if ev == "delta":
                deltas.append(d.get("text", ""))
            elif ev == "done":
                done = d
            elif ev == "error":
                err = d.get("error", {})
    if err is not None:
        return "failed", f"stream error event {err.get('type')}: {str(err.get('message'))[:80]}"
    if done is None:
        return "failed", "stream ended without done (cut)"
    if done.get("session_id") != session or done.get("content") != "".join(deltas):
        return "lost", "stream done does not match its deltas (a gap)"
    return "ok", done


def one_request(ports, session, text, stream=False):
    """Returns ("ok", body) | ("failed", why) | ("lost", why) | ("refused", why)."""
    port = ports[0]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
    try:
        c.connect()
    except (ConnectionRefusedError, socket.timeout, OSError) as e:
        return "refused", str(e)
    try:
        body = {"session_id": session, "message": text}
        if stream:
            body["stream"] = True
        c.request("POST", "/v1/chat", json.dumps(body),
                  {"content-type": "application/json", "x-api-key": KEY})
        r = c.getresponse()
        data = r.read()
    except socket.timeout:
        return "lost", "no answer within the client timeout"
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        return "failed", f"connection cut: {type(e).__name__}"
    finally:
        c.close()
    if r.status == 200 and stream:
        return sse_result(data, session)
    if r.status != 200:
        try:
            err = json.loads(data)["error"]
            return "failed", f"{r.status} {err['type']}: {err['message'][:80]}"
        except (ValueError, KeyError, TypeError):
            return "lost", f"{r.status} without an error body"
    try:
        j = json.loads(data)
    except ValueError:
        return "lost", "200 with a body that is not JSON"
    if j.get("status") != "completed" or j.get("session_id") != session or "content" not in j:
        return "lost", "200 without a completed turn"
    return "ok", j


def worker(w):
    sessions = [f"se_chaos_{os.getpid()}_{w}_{k}" for k in range(SESSIONS_PER_WORKER)]
    n = 0
    rnd = random.Random(w)
    while not stop.is_set():
        s = sessions[n % len(sessions)]
        n += 1
        text = f"w{w} {s[-1]} turn {n}"
        ports = [P["http1"], P["http2"]]
        if rnd.random() < 0.5:
            ports.reverse()
        with lock:
            stats["requests"] += 1
            inflight[0] += 1
        stream = n % 3 == 0  # every third turn streams (12 words at 200/s)
        if stream:
            text += " [[words:12]] [[tps:200]]"
        sent = time.time()
        result, detail = one_request(ports, s, text, stream)
        if result == "refused":  # that gateway is down: the other one, once
            with lock:
                stats["failover"] += 1
            ports = ports[1:]
            result, detail = one_request(ports, s, text, stream)
            if result == "refused":
                result, detail = "failed", "both gateways refused the connection"
        if result == "lost":  # must not happen: say enough to find it in the logs
            detail += (f" (session {s}, {'stream' if stream else 'json'} turn {n}, gateway :{ports[0]},"
                       f" sent {time.strftime('%H:%M:%S', time.localtime(sent))}.{int(sent * 1000) % 1000:03d})")
        with lock:
            inflight[0] -= 1
            stats[result] += 1
            if result == "ok":
                acked.setdefault(s, []).append(text)
            else:
                failures.append((time.time(), f"{result}: {detail}"))
        time.sleep(BACKOFF_S if result != "ok" else PAUSE_S)


def main():
    global KEY
    for b in ("fake-anthropic", "manager", "agentd", "gateway", "autoscaler"):
        if not os.access(f"{BIN}/{b}", os.X_OK):
            sys.exit(f"missing {BIN}/{b}")
    if not shutil.which("redis-server"):
        sys.exit("redis-server not installed")
    KEY = subprocess.run([f"{BIN}/gateway", "--add-key", "chaos", "user", "--keys-file", KEYS],
                         capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(TMP, "upstream.key"), "w") as f:
        f.write(UPKEY + "\n")
    start_redis()
    # A little upstream latency so that requests are in flight at each kill.
    start("fake", [f"{BIN}/fake-anthropic", "--listen", f"127.0.0.1:{P['fake']}",
                   "--api-key", UPKEY, "--latency-ms", "30"])
    wait_port(P["fake"])
    start_manager()
    start_gateway(1)
    start_gateway(2)
    for i in (1, 2):
        end = time.time() + 30
        while time.time() < end and ready_agents(i) != AGENTS:
            time.sleep(0.1)
        if ready_agents(i) != AGENTS:
            raise RuntimeError(f"gateway {i}: {AGENTS} agents never became ready")
    start_autoscaler()
    log(f"stack up: {AGENTS} agents, 2 gateways, Redis, autoscaler (sessions per agent {SPA});"
        f" {WORKERS} workers x {SESSIONS_PER_WORKER} sessions")

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(WORKERS)]
    [t.start() for t in threads]
    t0 = time.time()
    while time.time() < t0 + 30 and not all(ready_agents(i) == FLEET for i in (1, 2)):
        time.sleep(0.1)
    if not all(ready_agents(i) == FLEET for i in (1, 2)):
        raise RuntimeError(f"the autoscaler did not scale {AGENTS} -> {FLEET} agents under the load"
                           f" (gateways see {ready_agents(1)}, {ready_agents(2)})")
    log(f"autoscaler scaled the fleet {AGENTS} -> {FLEET} agents under the load"
        f" in {time.time() - t0:.1f} s")
    time.sleep(SETTLE_S)

    kills = []  # (name, time, requests in flight at the kill)

    def kill(name, pids, wait):
        """kill -9 pids and wait until they are dead. In flight at the kill: the
        requests in flight just before it plus those sent until the processes
        were dead (a request sent in between can meet the dying process)."""
        with lock:
            t0, infl, sent0 = time.time(), inflight[0], stats["requests"]
        for p in pids:
            kill9(p)
        wait()
        with lock:
            infl += stats["requests"] - sent0
        kills.append((name, t0, infl))
        log(f"kill -9 {name} (requests in flight: {infl})")

    def gone(pids, secs=2):
        """Agents are not our children: dead once gone or a zombie."""
        end = time.time() + secs
        while time.time() < end:
            alive = []
            for p in pids:
                try:
                    with open(f"/proc/{p}/stat") as f:
                        if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                            alive.append(p)
                except OSError:
                    pass
            if not alive:
                return
            time.sleep(0.005)

    pids = agent_pids()
    kill(f"agent pid {pids[0]}", pids[:1], lambda: gone(pids[:1]))
    time.sleep(SETTLE_S)

    def kill_restart(name, restart):
        """kill -9, then back after 1 s, as supervisord would."""
        kill(name, [procs[name].pid], procs[name].wait)
        time.sleep(1)
        restart()
        time.sleep(SETTLE_S)

    kill_restart("manager", start_manager)
    kill_restart("redis", start_redis)
    kill_restart("gateway1", lambda: start_gateway(1))
    t_as = time.time()
    kill_restart("autoscaler", start_autoscaler)
    if not autoscaler_evaluated_since(t_as):
        raise RuntimeError("the restarted autoscaler has not evaluated (no STATS from the manager)")
    log("the restarted autoscaler evaluates again")

    pids = agent_pids()
    half = pids[: max(1, len(pids) // 2)]
    kill(f"half the agents ({len(half)} of {len(pids)}: pids {' '.join(map(str, half))})", half,
         lambda: gone(half))
    time.sleep(SETTLE_S + 3)

    stop.set()
    [t.join(CLIENT_TIMEOUT_S + 5) for t in threads]
    log(f"load stopped; failover to the other gateway on refused connections: {stats['failover']}")

    # Failures per kill window, bounded by what was in flight at the kill.
    bounded = True
    bounds = [k[1] for k in kills] + [float("inf")]
    before = sum(1 for t, _ in failures if t < kills[0][1])
    if before:
        log(f"failures before the first kill: {before}")
        bounded = False
    for i, (name, t0, infl) in enumerate(kills):
        win = [d for t, d in failures if bounds[i] <= t < bounds[i + 1]]
        ok = len(win) <= infl
        bounded = bounded and ok
        log(f"after kill -9 {name}: failed_with_error={len(win)} in_flight_at_kill={infl}"
            f" {'ok' if ok else 'OVER'}")
        for d in sorted(set(win)):
            log(f"    {sum(1 for x in win if x == d)} x {d}")

    # Every acknowledged turn must be in Redis, in order.
    turns_lost = 0
    for s, texts in acked.items():
        raw = subprocess.run(["redis-cli", "-p", str(P["redis"]), "GET", f"session:{s}"],
                             capture_output=True, text=True).stdout.strip()
        try:
            msgs = json.loads(raw)["messages"] if raw else []
        except (ValueError, KeyError):
            msgs = []
        users = [m["content"] for m in msgs if m.get("role") == "user"]
        pos = 0
        missing = []
        for t in texts:
            try:
                pos = users.index(t, pos) + 1
            except ValueError:
                turns_lost += 1
                missing.append(t)
        if missing:  # say which, to find them in the logs
            log(f"session {s}: {len(missing)} acknowledged turns not in Redis (first: {missing[0]!r},"
                f" last: {missing[-1]!r}); Redis holds {len(users)} user turns, the last {users[-1:]!r}")
    log(f"acknowledged turns: {sum(len(v) for v in acked.values())} in {len(acked)} sessions")
    print(f"requests={stats['requests']} ok={stats['ok']} failed={stats['failed']} "
          f"lost={stats['lost']} turns_lost={turns_lost}", flush=True)
    return 0 if stats["lost"] == 0 and turns_lost == 0 and bounded and stats["ok"] > 0 else 1


def cleanup():
    stop.set()
    for name in ("autoscaler", "gateway1", "gateway2", "manager", "fake", "redis"):
        p = procs.get(name)
        if p and p.poll() is None:
            p.terminate()
    deadline = time.time() + 5
    for p in procs.values():
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
    # Agents the manager did not take down (e.g. orphaned by its kill -9).
    for pid in agent_pids():
        kill9(pid)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the bound in run.sh: clean up
    rc = 1
    try:
        rc = main()
    except Exception as e:  # report, clean up, fail
        log(f"chaos run aborted: {e}")
    finally:
        cleanup()
        if rc != 0:
            for f in sorted(os.listdir(TMP)):
                if f.endswith(".log"):
                    print(f"--- {f} (tail)", file=sys.stderr)
                    with open(os.path.join(TMP, f), "rb") as fh:
                        sys.stderr.write(b"".join(fh.readlines()[-15:]).decode(errors="replace"))
        if os.environ.get("CHAOS_KEEP_LOGS"):
            print(f"logs kept in {TMP}", file=sys.stderr)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
