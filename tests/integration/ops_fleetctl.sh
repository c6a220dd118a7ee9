#!/usr/bin/env bash
# fleetctl against the `make run` stack: credentials (minted JWTs, API keys
# added, used and revoked without a restart), ownership (another user's agent
# is "not found"), interactive chat keeping its session, sessions delete,
# HTTPS with -k / --cacert, --json for scripts, and the exit codes and
# messages of every kind of failure; --help for every command.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
fc="$AF_BIN/fleetctl"
ops_stack_env "AF_AGENTD_MAX_RETRIES=0"   # upstream faults reach the client at once
ops_stack_start 10

# run EXPECTED_RC cmd...: output in $AF_TMP/out, $AF_TMP/err
run() {
  local want="$1" rc=0; shift
  "$@" >"$AF_TMP/out" 2>"$AF_TMP/err" || rc=$?
  [ "$rc" = "$want" ] || af_fail "'$*' exited $rc, want $want; stderr: $(cat "$AF_TMP/err"); stdout: $(head -c 300 "$AF_TMP/out")"
}

# ---- help and usage --------------------------------------------------------------
run 0 "$fc" --help
grep -q 'exit codes' "$AF_TMP/out" || af_fail "--help lacks exit codes"
for c in "agents spawn" "agents list" "agents get" "agents delete" chat "sessions show" \
         "sessions delete" stats scale usage "budgets reset" token "keys add" "keys list" "keys revoke"; do
  # shellcheck disable=SC2086
  run 0 "$fc" $c --help
  grep -q "^usage: fleetctl $c" "$AF_TMP/out" || af_fail "$c --help: $(head -1 "$AF_TMP/out")"
done
run 0 "$fc" agents --help
run 2 "$fc" agents frobnicate
run 2 "$fc" frobnicate
run 2 "$fc" scale lots
grep -q 'N must be a whole number' "$AF_TMP/err" || af_fail "scale usage message: $(cat "$AF_TMP/err")"
run 2 "$fc" chat --max-tokens many
run 2 "$fc" token
grep -q -- '--user is required' "$AF_TMP/err" || af_fail "token usage message"
run 2 "$fc" token --user alice --role root
run 2 "$fc" token --user alice --ttl 1y

# ---- credentials ------------------------------------------------------------------
unset FLEET_TOKEN
run 3 "$fc" agents list
grep -q 'no credentials: set FLEET_TOKEN' "$AF_TMP/err" || af_fail "no hint without a token"
run 3 "$fc" --token not.a.jwt stats
grep -q 'HTTP 401 authentication_error' "$AF_TMP/err" || af_fail "bad token message: $(cat "$AF_TMP/err")"
run 5 "$fc" --url "http://127.0.0.1:$(af_free_port)" --token x stats
grep -q 'cannot reach the gateway' "$AF_TMP/err" || af_fail "unreachable message: $(cat "$AF_TMP/err")"
alice=$("$fc" token --user alice)
bob=$("$fc" token --user bob --ttl 15m)
admin=$("$fc" token --user root --role admin)
run 0 "$fc" --json token --user carol --ttl 90s
python3 -c 'import json,sys,time; d=json.load(open(sys.argv[1])); assert d["user"]=="carol" and 80 < d["expires_at"]-time.time() <= 90, d' "$AF_TMP/out" \
  || af_fail "token --json: $(cat "$AF_TMP/out")"

# API keys: added, used, listed, revoked; the gateway re-reads the file.
run 0 "$fc" keys add --user dave
key=$(cat "$AF_TMP/out")
[[ "$key" == afk_* ]] || af_fail "keys add printed '$key'"
run 2 "$fc" keys add --user "bad user"
run 2 "$fc" keys add --user erin --role owner
run 1 "$fc" keys add --user erin --keys-file "$AF_TMP/no-such-dir/keys"
run 0 "$fc" keys list
grep -q ' dave  *user$' "$AF_TMP/out" || af_fail "keys list: $(cat "$AF_TMP/out")"
id=$(awk '$2 == "dave" {print $1}' "$AF_TMP/out")
# --json for scripts: the same entry, with the key's whole SHA-256.
run 0 "$fc" --json keys list
python3 - "$AF_TMP/out" "$key" "$id" <<'PY' || af_fail "keys list --json: $(cat "$AF_TMP/out")"
import hashlib, json, sys
keys = json.load(open(sys.argv[1]))
dave = [k for k in keys if k["user"] == "dave"]
sha = hashlib.sha256(sys.argv[2].encode()).hexdigest()
assert dave == [{"id": sha[:12], "sha256": sha, "user": "dave", "role": "user"}], dave
assert sys.argv[3] == sha[:12], (sys.argv[3], sha)
PY
grep -q "$key" "$AF_VAR/api-keys" && af_fail "the key itself is in the keys file"
ok=0
for _ in $(seq 50); do "$fc" --token "$key" agents list >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
[ "$ok" = 1 ] || af_fail "the new API key is not accepted"
run 0 "$fc" keys revoke "$id"
rc=0
for _ in $(seq 50); do rc=0; "$fc" --token "$key" agents list >/dev/null 2>&1 || rc=$?; [ "$rc" = 3 ] && break; sleep 0.1; done
af_eq "$rc" 3 "exit code with a revoked key"
run 4 "$fc" keys revoke "$id"
run 0 "$fc" --json keys list
python3 -c 'import json,sys; assert not [k for k in json.load(open(sys.argv[1])) if k["user"] == "dave"]' "$AF_TMP/out" \
  || af_fail "dave's key still listed after revoke: $(cat "$AF_TMP/out")"
# A malformed or ambiguous id is a usage error (2), like a missing one; no
# match is 4; a broken keys file is 1.
run 2 "$fc" keys revoke not-an-id
grep -q 'key id must be 8..64 lowercase hex digits' "$AF_TMP/err" || af_fail "bad id message: $(cat "$AF_TMP/err")"
run 2 "$fc" keys revoke 1234
run 2 "$fc" keys revoke
run 4 "$fc" keys revoke --user nobody
h1=$(printf 'a%.0s' $(seq 56)) h2=$(printf 'b%.0s' $(seq 56))
printf 'aaaaaaaa%s alice user\naaaaaaaa%s bob user\n' "$h1" "$h2" >"$AF_TMP/keys"
run 2 "$fc" keys revoke aaaaaaaa --keys-file "$AF_TMP/keys"
grep -q 'id aaaaaaaa matches 2 keys: give more digits' "$AF_TMP/err" || af_fail "ambiguous id message: $(cat "$AF_TMP/err")"
run 0 "$fc" --json keys revoke aaaaaaaab --keys-file "$AF_TMP/keys"
grep -Eq '"revoked":[[:space:]]*1' "$AF_TMP/out" || af_fail "keys revoke --json: $(cat "$AF_TMP/out")"
echo 'not-a-hash carol user' >>"$AF_TMP/keys"
run 1 "$fc" keys revoke --user alice --keys-file "$AF_TMP/keys"
grep -q 'line 2' "$AF_TMP/err" || af_fail "broken keys file message: $(cat "$AF_TMP/err")"

# ---- ownership, agents, sessions ---------------------------------------------------------
export FLEET_TOKEN="$alice"
run 0 "$fc" --json agents spawn
agent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$AF_TMP/out")
run 4 "$fc" --token "$bob" agents get "$agent"
grep -q 'HTTP 404 not_found_error' "$AF_TMP/err" || af_fail "bob's view of alice's agent: $(cat "$AF_TMP/err")"
run 0 "$fc" --token "$admin" agents get "$agent"
grep -q '^owner  *alice' "$AF_TMP/out" || af_fail "admin view: $(cat "$AF_TMP/out")"
run 2 "$fc" agents get
run 1 "$fc" agents spawn --cores 64
grep -q 'cores' "$AF_TMP/err" || af_fail "spawn --cores 64 message: $(cat "$AF_TMP/err")"

# Interactive chat: two lines, two turns, one session.
printf 'first line\n\nsecond line\n' | "$fc" chat "$agent" >"$AF_TMP/chat.out" 2>"$AF_TMP/chat.err" \
  || af_fail "interactive chat failed: $(cat "$AF_TMP/chat.err")"
af_eq "$(grep -c '^You said: ' "$AF_TMP/chat.out")" 2 "replies in the interactive chat"
session=$(sed -n 's/^session \(se_[A-Za-z0-9_-]*\) (resume.*/\1/p' "$AF_TMP/chat.err")
[ -n "$session" ] || af_fail "no session line: $(cat "$AF_TMP/chat.err")"
run 0 "$fc" --json sessions show "$session"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); m=[x["content"] for x in d["messages"] if x["role"]=="user"]; assert m==["first line","second line"], m' \
  "$AF_TMP/out" || af_fail "session history: $(cat "$AF_TMP/out")"
run 4 "$fc" --token "$bob" sessions show "$session"
run 0 "$fc" sessions delete "$session"
run 4 "$fc" sessions show "$session"
run 0 "$fc" chat --no-stream -m "no stream please"
grep -q '^You said: no stream please' "$AF_TMP/out" || af_fail "--no-stream reply: $(cat "$AF_TMP/out")"
run 0 "$fc" agents delete "$agent"
grep -q "^$agent deleted" "$AF_TMP/out" || af_fail "delete output"
run 4 "$fc" agents get "$agent"

# Upstream failures (the fake's fault markers): clear message, exit code.
run 6 "$fc" chat -m "busy [[fault:429]]"
grep -q 'HTTP 429 rate_limit_error' "$AF_TMP/err" && grep -q 'retry after [0-9]* s' "$AF_TMP/err" \
  || af_fail "429 message: $(cat "$AF_TMP/err")"
run 5 "$fc" chat -m "cut [[fault:midstream]]"
grep -q '^You said: cut' "$AF_TMP/out" || af_fail "text before the cut not shown: $(cat "$AF_TMP/out")"
grep -q 'the reply failed: ' "$AF_TMP/err" || af_fail "midstream message: $(cat "$AF_TMP/err")"
run 5 "$fc" chat --no-stream -m "down [[fault:529]]"
grep -q 'HTTP 529 overloaded_error' "$AF_TMP/err" || af_fail "529 message: $(cat "$AF_TMP/err")"

# Usage and budgets (the gateway's cost accounting, on by default).
run 0 "$fc" --json usage
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["user"]=="alice" and d["today"]["requests"]>=3, d' \
  "$AF_TMP/out" || af_fail "usage --json: $(cat "$AF_TMP/out")"
run 0 "$fc" usage
grep -q '^today  *[0-9]* requests' "$AF_TMP/out" || af_fail "usage: $(cat "$AF_TMP/out")"
run 3 "$fc" usage --user bob
run 0 "$fc" --token "$admin" usage --user alice
run 3 "$fc" budgets reset alice
run 0 "$fc" --token "$admin" budgets reset alice
grep -q '^budget of alice reset' "$AF_TMP/out" || af_fail "budgets reset: $(cat "$AF_TMP/out")"
run 2 "$fc" budgets reset

# ---- stats, --json, HTTPS ------------------------------------------------------------------
run 0 "$fc" --json stats
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["agents"]["ready"]==10 and d["capacity"]==1000, d' \
  "$AF_TMP/out" || af_fail "stats --json: $(cat "$AF_TMP/out")"
run 0 "$fc" stats
grep -Eq '^agents +[0-9]+ total: 10 ready' "$AF_TMP/out" || af_fail "stats: $(cat "$AF_TMP/out")"
https="https://127.0.0.1:$OPS_HTTPS"
run 5 "$fc" --url "$https" stats
grep -q 'pass --cacert FILE, or -k' "$AF_TMP/err" || af_fail "TLS failure hint: $(cat "$AF_TMP/err")"
run 0 "$fc" --url "$https" -k stats
run 0 "$fc" --url "$https" --cacert "$AF_VAR/tls/gateway.crt" stats
ops_stack_stop
af_log "PASS: fleetctl credentials, ownership, chat, sessions, HTTPS and exit codes"
