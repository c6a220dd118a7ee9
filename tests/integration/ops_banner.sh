#!/usr/bin/env bash
# `make run`'s banner works as printed: the commands under "In another
# terminal:" (token, first curl, fleetctl agents list, fleetctl chat) run
# verbatim in a fresh shell (no AF_* or FLEET_* of ours) against the running
# stack and succeed; the metrics URLs, the HTTPS address (curl -k) and the
# supervisorctl command it names answer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
ops_stack_env
ops_stack_start 10
log="$AF_TMP/run-local.log"
for _ in $(seq 50); do grep -q '^Ctrl-C here stops everything' "$log" && break; sleep 0.1; done
grep -q '^Ctrl-C here stops everything' "$log" || af_fail "no banner: $(cat "$log")"

# ---- the commands for "another terminal", verbatim ------------------------------------
# One command per line once backslash continuations are joined; each runs in
# the same fresh shell (the exports carry on), its output kept apart.
python3 - "$log" "$AF_TMP/banner" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = text[text.index("In another terminal:\n") + len("In another terminal:\n"):text.index("\nCtrl-C here")]
block = re.sub(r"\\\n\s*", "", block)
cmds = [l.strip() for l in block.splitlines() if l.strip()]
open(sys.argv[2] + ".cmds", "w").write("\n".join(cmds) + "\n")
with open(sys.argv[2] + ".sh", "w") as f:
    f.write("set -u\n")
    for i, c in enumerate(cmds):
        d = f"{sys.argv[2]}.{i}"
        # The interactive chat reads what a user would type.
        stdin = f" <<<'Hello from the banner'" if re.search(r"fleetctl chat\b", c) else " </dev/null"
        f.write(f"{{ {c}\n}}{stdin} >{d}.out 2>{d}.err; echo $? >{d}.rc\n")
    f.write(f"printf %s \"${{FLEET_TOKEN:-}}\" >{sys.argv[2]}.token\n")
PY
cmds="$AF_TMP/banner.cmds"
af_eq "$(wc -l <"$cmds")" 5 "commands under 'In another terminal:'"
# A new terminal: none of this test's variables (AF_VAR, FLEET_URL, ...).
env -i HOME="$AF_TMP" PATH=/usr/local/bin:/usr/bin:/bin bash "$AF_TMP/banner.sh" \
  || af_fail "the banner's commands did not run"
i=0
while IFS= read -r cmd; do
  b="$AF_TMP/banner.$i"
  af_eq "$(cat "$b.rc")" 0 "exit code of '$cmd' ($(cat "$b.err"))"
  out=$(cat "$b.out")
  case "$cmd" in
    export\ *FLEET_URL=*)
      grep -q " FLEET_URL=$FLEET_URL\$" <<<"$cmd" || af_fail "banner exports '$cmd'" ;;
    export\ FLEET_TOKEN=*)
      # `export X=$(...)` succeeds even when the command in it fails: look at
      # what it left in FLEET_TOKEN (the rest of the commands used it).
      [ -s "$b.err" ] && af_fail "token command: $(cat "$b.err")"
      token=$(cat "$AF_TMP/banner.token")
      [[ "$token" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || af_fail "the token line minted '$token'"
      "$AF_BIN/fleetctl" --token "$token" --json stats >/dev/null 2>&1 \
        || af_fail "the banner's admin token is refused by the gateway" ;;
    curl*)
      python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert "error" not in d, d; assert d["status"] == "completed" and d["content"].startswith("You said: Hello, Claude"), d' "$out" \
        || af_fail "the banner's curl answered: $out" ;;
    *"fleetctl agents list")
      n=$(grep -c ' ready ' <<<"$out" || true)
      [ "$n" -ge 10 ] || af_fail "agents list shows $n ready agents: $out" ;;
    *"fleetctl chat"*)
      grep -q '^You said: Hello from the banner' <<<"$out" || af_fail "banner chat printed: $out / $(cat "$b.err")" ;;
    *) af_fail "unexpected banner command: $cmd" ;;
  esac
  i=$((i + 1))
done <"$cmds"
af_log "banner: $i commands run verbatim in a fresh shell"

# ---- the addresses and the control command it names --------------------------------------
for url in $(sed -n 's/^  metrics: *//p' "$log"); do
  af_get -fsS "$url" | grep -q '^# TYPE ' || af_fail "banner metrics URL $url serves no metrics"
done
af_eq "$(sed -n 's/^  metrics: *//p' "$log" | wc -w)" 3 "metrics URLs in the banner"
https=$(sed -n 's/^agentfleet is up: .* and \(https:[^ ]*\) (self-signed: curl -k)$/\1/p' "$log")
[ -n "$https" ] || af_fail "banner names no HTTPS address"
curl -fsS -k -o /dev/null "$https/readyz" || af_fail "$https/readyz (curl -k) failed"
ctl=$(sed -n 's/^  control: *\(.*\) status|restart.*/\1/p' "$log")
$ctl status gateway | grep -q '^gateway  *RUNNING' || af_fail "'$ctl status gateway' does not show it running"
grep -q "^  costs:    $AF_VAR/cost.json (budgets" "$log" || af_fail "banner does not name the cost config"

ops_stack_stop
af_log "PASS: the make run banner's commands work as printed"
