#!/usr/bin/env bash
# The official Anthropic SDK (@anthropic-ai/sdk, tests/sdk) against bin/fake-anthropic:
# create and stream give the exact deterministic text and usage, a 529 surfaces as
# an APIError/OverloadedError with type overloaded_error, a mid-stream error event
# as an APIError, a bad key as AuthenticationError, SDK retries get through a
# fault_count'ed 529, and an SDK-side abort shows on the server as `aborted`.
. "$(dirname "$0")/lib.sh"

SDK="$AF_ROOT/tests/sdk"
[ -d "$SDK/node_modules/@anthropic-ai/sdk" ] || af_fail "SDK not installed: run scripts/install-deps.sh (npm install in tests/sdk)"

port=$(af_free_port)
key="fa-sdk-test-key-$$"
af_start fake "$AF_BIN/fake-anthropic" --listen "127.0.0.1:$port" --api-key "$key"
af_wait_port "127.0.0.1:$port"
base="http://127.0.0.1:$port"

# JSON field of stdin by a Python expression over `j`.
jget() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
stats() { curl -sf "$base/_stats"; }

# ---- create, stream, error, stream-error, auth in one run ------------------------
# "hello fleet agent": 3 input words; reply "You said: hello fleet agent" = 5 words.
out="$AF_TMP/check1.json"
node "$SDK/check.mjs" --base-url "$base" --api-key "$key" \
  --prompt "hello fleet agent" --max-tokens 64 \
  --expect-text "You said: hello fleet agent" \
  --expect-input-tokens 3 --expect-output-tokens 5 --expect-stop-reason end_turn --expect-deltas 5 \
  --error-prompt "please fail [[fault:529]]" --expect-error-status 529 \
  --expect-error-type overloaded_error --expect-error-class OverloadedError \
  --stream-error-prompt "one two three four five six [[fault:midstream]]" \
  --bad-key "wrong-key" >"$out" || { cat "$out" >&2; af_fail "SDK check reported mismatches"; }
af_eq "$(jget 'j["ok"]' <"$out")" "True" "summary ok"
af_eq "$(jget '",".join(c["name"] for c in j["cases"])' <"$out")" "create,stream,error,stream-error,auth" "cases run"
af_eq "$(jget 'j["cases"][1]["text"]' <"$out")" "You said: hello fleet agent" "streamed text"
af_eq "$(jget 'j["cases"][3]["error"]["type"]' <"$out")" "overloaded_error" "mid-stream error type"
# Reply to the midstream prompt has 9 words: the fake sends 4 deltas, then the error.
af_eq "$(jget 'j["cases"][3]["deltas_before_error"]' <"$out")" "4" "deltas before the mid-stream error"
af_eq "$(jget 'j["cases"][4]["error"]["class"]' <"$out")" "AuthenticationError" "bad key class"

s=$(stats)
af_eq "$(echo "$s" | jget 'j["requests"]')" "5" "requests"
af_eq "$(echo "$s" | jget 'j["completed"]')" "5" "completed"
af_eq "$(echo "$s" | jget 'j["streams"]')" "2" "streams"
af_eq "$(echo "$s" | jget 'j["errors_injected"]')" "2" "errors_injected"
af_eq "$(echo "$s" | jget 'j["aborted"]')" "0" "aborted"
af_eq "$(echo "$s" | jget 'j["by_status"]')" "{'200': 3, '401': 1, '529': 1}" "by_status"
# input: 3 (create) + 3 (stream) + 7 (midstream prompt); output: 5 + 5 + 4.
af_eq "$(echo "$s" | jget 'j["input_tokens"]')" "13" "input_tokens"
af_eq "$(echo "$s" | jget 'j["output_tokens"]')" "14" "output_tokens"

# ---- a mismatch makes the script fail (the check can fail) ------------------------
if node "$SDK/check.mjs" --base-url "$base" --api-key "$key" --cases create \
     --prompt "hi" --expect-text "You said: bye" >"$AF_TMP/neg.json"; then
  af_fail "check.mjs passed with a wrong expected text"
fi
af_eq "$(jget 'j["cases"][0]["mismatches"][0]["what"]' <"$AF_TMP/neg.json")" "text" "mismatch reported"

# ---- SDK retries through two injected 529s, then succeeds ---------------------------
curl -sf "$base/_reset" -X POST >/dev/null
curl -sf "$base/_config" -d '{"fault":"529","fault_count":2,"retry_after":0}' >/dev/null
node "$SDK/check.mjs" --base-url "$base" --api-key "$key" --cases create --max-retries 2 \
  --prompt "retry me" --expect-text "You said: retry me" >"$AF_TMP/retry.json" \
  || { cat "$AF_TMP/retry.json" >&2; af_fail "SDK did not get through 2 x 529 with 2 retries"; }
s=$(stats)
af_eq "$(echo "$s" | jget 'j["requests"]')" "3" "requests with retries"
af_eq "$(echo "$s" | jget 'j["by_status"]')" "{'200': 1, '529': 2}" "statuses with retries"
af_eq "$(curl -sf "$base/_config" | jget 'j["fault"]')" "none" "fault used up after fault_count"

# ---- abort from the SDK stops the transfer on the server ----------------------------
curl -sf "$base/_reset" -X POST >/dev/null
node "$SDK/check.mjs" --base-url "$base" --api-key "$key" --cases cancel \
  --cancel-prompt "long story [[words:400]] [[tps:20]]" --cancel-after 3 >"$AF_TMP/cancel.json" \
  || { cat "$AF_TMP/cancel.json" >&2; af_fail "cancel case failed"; }
for _ in $(seq 50); do
  [ "$(stats | jget 'j["aborted"]')" = "1" ] && break
  sleep 0.1
done
s=$(stats)
af_eq "$(echo "$s" | jget 'j["aborted"]')" "1" "aborted after SDK abort"
af_eq "$(echo "$s" | jget 'j["completed"]')" "0" "aborted stream not completed"
af_eq "$(echo "$s" | jget 'j["in_flight"]')" "0" "nothing left in flight"
sent=$(echo "$s" | jget 'j["output_tokens"]')
[ "$sent" -lt 50 ] || af_fail "server kept streaming after the abort: $sent of 402 words sent"

af_log "fake_anthropic_sdk: PASS"
