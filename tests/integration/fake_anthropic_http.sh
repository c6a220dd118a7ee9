#!/usr/bin/env bash
# bin/fake-anthropic over plain HTTP (curl, python for 200 concurrent streams):
# auth and version checks, 400 naming the bad field, 404/405, the Message JSON
# shape, the SSE event order exactly as documented, max_tokens truncation, every
# fault (flag, /_config with fault_count, per-request marker), retry-after,
# latency and pacing, a client that leaves mid-stream or from a hung request
# counted as `aborted`, 200 concurrent streams, --help/--check-config, SIGTERM.
. "$(dirname "$0")/lib.sh"

FAKE="$AF_BIN/fake-anthropic"
port=$(af_free_port)
af_start fake "$FAKE" --listen "127.0.0.1:$port"
fake_pid=$AF_LAST_PID
af_wait_port "127.0.0.1:$port"
base="http://127.0.0.1:$port"

jget() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
stat() { curl -sf "$base/_stats" | jget "j$1"; }
msg() { # msg TEXT [extra JSON fields] -> request body
  python3 -c 'import json,sys; b={"model":"claude-test","max_tokens":256,"messages":[{"role":"user","content":sys.argv[1]}]}; b.update(json.loads(sys.argv[2])); print(json.dumps(b))' "$1" "${2:-{\}}"
}
# post BODY [curl args...]: body in $AF_TMP/body, headers in $AF_TMP/hdr, prints status.
post() {
  local body="$1"; shift
  curl -s -o "$AF_TMP/body" -D "$AF_TMP/hdr" -w '%{http_code}' "$@" \
    -H 'x-api-key: test-key' -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' --data-binary "$body" "$base/v1/messages"
}
body() { jget "j$1" <"$AF_TMP/body"; }
header() { tr -d '\r' <"$AF_TMP/hdr" | awk -v k="$(echo "$1" | tr A-Z a-z)" -F': ' 'tolower($1)==k {print $2}'; }

# ---- headers ---------------------------------------------------------------------
code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' -H 'anthropic-version: 2023-06-01' --data-binary "$(msg hi)" "$base/v1/messages")
af_eq "$code" 401 "no x-api-key"
af_eq "$(body '["type"]')" error "error body type"
af_eq "$(body '["error"]["type"]')" authentication_error "no key -> authentication_error"
code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' -H 'x-api-key: k' --data-binary "$(msg hi)" "$base/v1/messages")
af_eq "$code" 400 "no anthropic-version"
af_eq "$(body '["error"]["type"]')" invalid_request_error "no version -> invalid_request_error"
case "$(body '["error"]["message"]')" in anthropic-version*) ;; *) af_fail "version error does not name the header";; esac
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok' -H 'anthropic-version: 2023-06-01' --data-binary "$(msg hi)" "$base/v1/messages")
af_eq "$code" 200 "Authorization: Bearer accepted"

# ---- 400 naming the field ----------------------------------------------------------
bad() { # bad BODY FIELD-PREFIX
  local code; code=$(post "$1")
  af_eq "$code" 400 "bad body $1"
  af_eq "$(body '["error"]["type"]')" invalid_request_error "bad body type"
  case "$(body '["error"]["message"]')" in "$2"*) ;; *) af_fail "error '$(body '["error"]["message"]')' does not start with '$2'";; esac
}
bad '{"max_tokens":10,"messages":[{"role":"user","content":"x"}]}' "model: Field required"
bad '{"model":"m","max_tokens":"ten","messages":[{"role":"user","content":"x"}]}' "max_tokens:"
bad '{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}' "max_tokens:"
bad '{"model":"m","max_tokens":10}' "messages: Field required"
bad '{"model":"m","max_tokens":10,"messages":[]}' "messages:"
bad '{"model":"m","max_tokens":10,"messages":[{"role":"system","content":"x"}]}' "messages.0.role:"
bad '{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"text","text":5}]}]}' "messages.1.content.0.text:"
bad '{"model":"m","max_tokens":10,"messages":[{"role":"user","content":42}]}' "messages.0.content:"
bad '{"model":"m","max_tokens":10,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}' "temperature:"
bad '{"model":"m","max_tokens":10,"stream":"yes","messages":[{"role":"user","content":"x"}]}' "stream:"
bad '{"model":"m","max_tokens":10,"system":7,"messages":[{"role":"user","content":"x"}]}' "system:"
bad '{"model":"m","max_tokens":10,"bogus":1,"messages":[{"role":"user","content":"x"}]}' "bogus: Extra inputs"
bad '{"model":"m",' "request body is not valid JSON"
bad "$(msg 'x [[fault:418]]')" "messages: marker [[fault:X]]"

# ---- 404, 405 ------------------------------------------------------------------------
code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' "$base/v1/complete")
af_eq "$code" 404 "unknown path"
af_eq "$(body '["error"]["type"]')" not_found_error "404 type"
code=$(curl -s -o "$AF_TMP/body" -D "$AF_TMP/hdr" -w '%{http_code}' "$base/v1/messages")
af_eq "$code" 405 "GET /v1/messages"
af_eq "$(header allow)" POST "Allow header"

# Over the API's 32 MiB request limit: its JSON 413.
head -c 34000000 /dev/zero | tr '\0' ' ' >"$AF_TMP/big"
af_eq "$(post @"$AF_TMP/big")" 413 "body over 32 MiB"
af_eq "$(body '["error"]["type"]')" request_too_large "413 type"
rm -f "$AF_TMP/big"

# ---- the Message object ----------------------------------------------------------------
code=$(post "$(msg 'hello there' '{"system":"be brief","temperature":0.5}')")
af_eq "$code" 200 "create"
af_eq "$(header content-type)" application/json "create content type"
python3 - "$AF_TMP/body" <<'EOF' || af_fail "Message JSON shape"
import json, re, sys
m = json.load(open(sys.argv[1]))
assert list(m) == ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"], list(m)
assert re.fullmatch(r"msg_[A-Za-z0-9]{24}", m["id"]), m["id"]
assert (m["type"], m["role"], m["model"]) == ("message", "assistant", "claude-test"), m
assert m["content"] == [{"type": "text", "text": "You said: hello there"}], m["content"]
assert m["stop_reason"] == "end_turn" and m["stop_sequence"] is None, m
# input = "be brief" (2) + "hello there" (2); output = 4 words
assert m["usage"] == {"input_tokens": 4, "output_tokens": 4}, m["usage"]
EOF
[ -n "$(header request-id)" ] || af_fail "no request-id header"
# What the client sent, for tests of clients: body and version, never the key.
curl -sf "$base/_last" >"$AF_TMP/last"
af_eq "$(jget '(j["path"], j["headers"]["anthropic-version"], j["body"]["system"], j["body"]["messages"][0]["content"])' <"$AF_TMP/last")" \
  "('/v1/messages', '2023-06-01', 'be brief', 'hello there')" "/_last"
grep -q test-key "$AF_TMP/last" && af_fail "/_last leaks the key"

# Array content, an assistant turn, filler words; last *user* message is echoed.
code=$(post '{"model":"m","max_tokens":50,"messages":[{"role":"user","content":[{"type":"text","text":"first"},{"type":"text","text":"second part"}]},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"again [[words:3]]"}]}]}')
af_eq "$code" 200 "array content"
af_eq "$(body '["content"][0]["text"]')" "You said: again [[words:3]] w0 w1 w2" "echo of last user turn + filler"
af_eq "$(body '["usage"]')" "{'input_tokens': 6, 'output_tokens': 7}" "usage with array content"

# ---- max_tokens truncation ---------------------------------------------------------------
code=$(post "$(msg 'a b c d e' '{"max_tokens":3}')")
af_eq "$(body '["content"][0]["text"]')" "You said: a" "truncated text"
af_eq "$(body '["stop_reason"]')" max_tokens "truncated stop_reason"
af_eq "$(body '["usage"]["output_tokens"]')" 3 "truncated output_tokens"

# ---- SSE: exact event order and framing -------------------------------------------------
post "$(msg 'stream me please' '{"stream":true,"max_tokens":5}')" -N >/dev/null
af_eq "$(header content-type)" "text/event-stream; charset=utf-8" "SSE content type"
python3 - "$AF_TMP/body" <<'EOF' || af_fail "SSE stream"
import json, sys
raw = open(sys.argv[1]).read()
assert raw.endswith("\n\n"), repr(raw[-20:])
events = []
for block in raw[:-2].split("\n\n"):
    lines = block.split("\n")
    assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
    name, data = lines[0][7:], json.loads(lines[1][6:])
    assert data["type"] == name, (name, data)
    events.append((name, data))
names = [n for n, _ in events]
# "You said: stream me please" cut at max_tokens 5 -> 5 deltas, stop_reason max_tokens
assert names == ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 5 + \
    ["content_block_stop", "message_delta", "message_stop"], names
start = events[0][1]["message"]
assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] == 3, start
assert start["id"].startswith("msg_") and start["role"] == "assistant", start
assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
deltas = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
assert all(d["delta"]["type"] == "text_delta" and d["index"] == 0 for n, d in events if n == "content_block_delta")
assert deltas == ["You", " said:", " stream", " me", " please"], deltas
assert events[-3][1] == {"type": "content_block_stop", "index": 0}
assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 5}}, events[-2][1]
assert events[-1][1] == {"type": "message_stop"}
EOF
# Streaming truncation: max_tokens 2 -> 2 deltas and stop_reason max_tokens.
post "$(msg 'a b c' '{"stream":true,"max_tokens":2}')" -N >/dev/null
af_eq "$(grep -c '^event: content_block_delta' "$AF_TMP/body")" 2 "truncated stream deltas"
grep -q '"stop_reason":"max_tokens"' "$AF_TMP/body" || af_fail "truncated stream stop_reason"

# ---- faults by marker --------------------------------------------------------------------
curl -sf -X POST "$base/_reset" >/dev/null
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "$base/_last")" 404 "/_reset forgets /_last"
for f in 400:invalid_request_error 403:permission_error 404:not_found_error 429:rate_limit_error 500:api_error 529:overloaded_error; do
  code=$(post "$(msg "x [[fault:${f%%:*}]]")")
  af_eq "$code" "${f%%:*}" "marker fault ${f%%:*}"
  af_eq "$(body '["error"]["type"]')" "${f#*:}" "marker fault type"
  case "${f%%:*}" in 429|529) af_eq "$(header retry-after)" 1 "retry-after on ${f%%:*}";;
                     *) af_eq "$(header retry-after)" "" "no retry-after on ${f%%:*}";; esac
done
code=$(post "$(msg 'x [[fault:midstream]]')")
af_eq "$code" 500 "midstream on a non-stream request"
af_eq "$(body '["error"]["type"]')" api_error "midstream non-stream type"
post "$(msg 'one two three four five six [[fault:midstream]]' '{"stream":true}')" -N >/dev/null
af_eq "$(header connection)" close "midstream closes the connection"
af_eq "$(grep -c '^event: content_block_delta' "$AF_TMP/body")" 4 "deltas before the mid-stream error"
af_eq "$(grep '^event:' "$AF_TMP/body" | tail -1)" "event: error" "stream ends with an error event"
af_eq "$(tail -n 3 "$AF_TMP/body" | grep '^data:' | cut -c7- | jget '(j["type"], j["error"]["type"])')" "('error', 'overloaded_error')" "error event body"
grep -q '^event: message_stop' "$AF_TMP/body" && af_fail "message_stop after a mid-stream error"
af_eq "$(stat '["errors_injected"]')" 8 "errors_injected by markers"
af_eq "$(stat '["by_status"]')" "{'200': 1, '400': 1, '403': 1, '404': 1, '429': 1, '500': 2, '529': 1}" "by_status after faults"

# ---- faults by /_config with fault_count, retry-after knob --------------------------------
curl -sf "$base/_config" -d '{"fault":"429","fault_count":2,"retry_after":9}' >/dev/null
af_eq "$(post "$(msg a)")" 429 "config fault 1/2"
af_eq "$(header retry-after)" 9 "retry-after knob"
af_eq "$(curl -sf "$base/_config" | jget '(j["fault"], j["fault_left"])')" "('429', 1)" "fault_left counts down"
af_eq "$(post "$(msg a)")" 429 "config fault 2/2"
af_eq "$(post "$(msg a)")" 200 "back to normal after fault_count"
curl -sf "$base/_config" -d '{"fault":"500"}' >/dev/null   # fault_count 2 still set
curl -sf "$base/_config" -d '{"fault_count":0}' >/dev/null  # 0 = every request
for _ in 1 2 3; do af_eq "$(post "$(msg a)")" 500 "fault on every request"; done
curl -sf "$base/_config" -d '{"fault":"none","retry_after":1}' >/dev/null
af_eq "$(post "$(msg a)")" 200 "fault none"
code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' "$base/_config" -d '{"fault":"teapot"}')
af_eq "$code" 400 "bad knob value"
case "$(body '["error"]["message"]')" in fault:*) ;; *) af_fail "bad knob not named";; esac
code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' "$base/_config" -d '{"latency_ms":5,"nope":1}')
af_eq "$code" 400 "unknown knob"
af_eq "$(curl -sf "$base/_config" | jget 'j["latency_ms"]')" 0 "rejected /_config changes nothing"

# ---- latency and pacing --------------------------------------------------------------------
t=$(curl -s -o /dev/null -w '%{time_starttransfer}' -H 'x-api-key: k' -H 'anthropic-version: 1' --data-binary "$(msg 'slow [[latency:400]]')" "$base/v1/messages")
python3 -c "import sys; sys.exit(0 if float('$t') >= 0.39 else 1)" || af_fail "latency marker: first byte after ${t}s"
curl -sf "$base/_config" -d '{"latency_ms":300}' >/dev/null
t=$(curl -s -o /dev/null -w '%{time_starttransfer}' -H 'x-api-key: k' -H 'anthropic-version: 1' --data-binary "$(msg 'slow')" "$base/v1/messages")
python3 -c "import sys; sys.exit(0 if float('$t') >= 0.29 else 1)" || af_fail "latency knob: first byte after ${t}s"
curl -sf "$base/_config" -d '{"latency_ms":0}' >/dev/null
# "You said: pace [[words:8]] [[tps:20]]" + 8 fillers = 13 deltas at 20/s: 12 gaps of 50 ms.
t=$(curl -s -N -o "$AF_TMP/body" -w '%{time_total}' -H 'x-api-key: k' -H 'anthropic-version: 1' --data-binary "$(msg 'pace [[words:8]] [[tps:20]]' '{"stream":true}')" "$base/v1/messages")
python3 -c "import sys; sys.exit(0 if 0.5 <= float('$t') < 3 else 1)" || af_fail "pacing: 13 deltas at 20/s took ${t}s"
af_eq "$(grep -c '^event: content_block_delta' "$AF_TMP/body")" 13 "paced deltas"
# The same through the knobs: reply_words 2, tokens_per_sec 10 -> 5 deltas, 4 gaps of 100 ms.
curl -sf "$base/_config" -d '{"reply_words":2,"tokens_per_sec":10}' >/dev/null
t=$(curl -s -N -o "$AF_TMP/body" -w '%{time_total}' -H 'x-api-key: k' -H 'anthropic-version: 1' --data-binary "$(msg 'knobs' '{"stream":true}')" "$base/v1/messages")
python3 -c "import sys; sys.exit(0 if 0.35 <= float('$t') < 3 else 1)" || af_fail "tokens_per_sec knob: 5 deltas at 10/s took ${t}s"
af_eq "$(grep '^data: .*text_delta' "$AF_TMP/body" | sed 's/.*"text":"\([^"]*\)".*/\1/' | tr -d '\n')" "You said: knobs w0 w1" "reply_words knob"
curl -sf "$base/_config" -d '{"reply_words":0,"tokens_per_sec":0}' >/dev/null

# ---- clients that leave: mid-stream and from a hung request ---------------------------------
curl -sf -X POST "$base/_reset" >/dev/null
rc=0; curl -s -N -o "$AF_TMP/body" --max-time 0.6 -H 'x-api-key: k' -H 'anthropic-version: 1' \
  --data-binary "$(msg 'long [[words:500]] [[tps:20]]' '{"stream":true}')" "$base/v1/messages" || rc=$?
af_eq "$rc" 28 "curl gave up mid-stream"
rc=0; curl -s -o /dev/null --max-time 0.5 -H 'x-api-key: k' -H 'anthropic-version: 1' \
  --data-binary "$(msg 'x [[fault:hang]]')" "$base/v1/messages" || rc=$?
af_eq "$rc" 28 "hung request never answered"
for _ in $(seq 30); do [ "$(stat '["aborted"]')" = 2 ] && break; sleep 0.1; done
af_eq "$(stat '["aborted"]')" 2 "both departures counted as aborted"
af_eq "$(stat '["in_flight"]')" 0 "nothing left in flight"
af_eq "$(stat '["completed"]')" 0 "nothing completed"
sent=$(stat '["output_tokens"]')
[ "$sent" -lt 40 ] || af_fail "stream went on after the client left: $sent words"

# ---- 200 concurrent streams on one loop ----------------------------------------------------
curl -sf -X POST "$base/_reset" >/dev/null
python3 - "$port" <<'EOF' || af_fail "200 concurrent streams"
import asyncio, json, sys, urllib.request
port = int(sys.argv[1])
N = 200

async def one(i):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"model": "m", "max_tokens": 100, "stream": True,
                       "messages": [{"role": "user", "content": f"client {i} [[words:20]] [[tps:10]]"}]}).encode()
    w.write(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\nanthropic-version: 1\r\n"
            b"Connection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await w.drain()
    data = await r.read()
    w.close()
    text = data.decode()
    assert text.startswith("HTTP/1.1 200"), text[:80]
    assert "event: message_stop" in text, (i, text[-200:])
    return text.count("event: content_block_delta")

async def main():
    tasks = [asyncio.create_task(one(i)) for i in range(N)]
    # Each stream lasts 25 x 100 ms: all N must be open at once at some point.
    seen = 0
    for _ in range(40):
        await asyncio.sleep(0.05)
        st = await asyncio.to_thread(
            lambda: json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats")))
        seen = max(seen, st["in_flight"])
        if seen == N:
            break
    assert seen == N, f"at most {seen} streams open at once"
    counts = await asyncio.gather(*tasks)
    assert counts == [26] * N, counts[:5]  # "You said: client i [[words:20]] [[tps:10]]" + 20

asyncio.run(asyncio.wait_for(main(), 30))
EOF
af_eq "$(stat '["completed"]')" 200 "200 streams completed"
af_eq "$(stat '["streams"]')" 200 "200 streams counted"
af_eq "$(stat '["output_tokens"]')" 5200 "200 x 26 words"

# ---- flags: --fault/--fault-count/--retry-after/--api-key, --help, --check-config ----------
port2=$(af_free_port)
af_start fake2 "$FAKE" --listen "127.0.0.1:$port2" --fault 529 --fault-count 1 --retry-after 7 --api-key only-this-key
af_wait_port "127.0.0.1:$port2"
code=$(curl -s -o "$AF_TMP/body" -D "$AF_TMP/hdr" -w '%{http_code}' -H 'x-api-key: only-this-key' -H 'anthropic-version: 1' --data-binary "$(msg a)" "http://127.0.0.1:$port2/v1/messages")
af_eq "$code" 529 "--fault 529"
af_eq "$(header retry-after)" 7 "--retry-after"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-api-key: only-this-key' -H 'anthropic-version: 1' --data-binary "$(msg a)" "http://127.0.0.1:$port2/v1/messages")
af_eq "$code" 200 "--fault-count 1 used up"
code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' -H 'x-api-key: another-key' -H 'anthropic-version: 1' --data-binary "$(msg a)" "http://127.0.0.1:$port2/v1/messages")
af_eq "$code" 401 "--api-key refuses other keys"
af_eq "$(body '["error"]["type"]')" authentication_error "wrong key type"
grep -q only-this-key "$AF_TMP/fake2.log" && af_fail "the API key reached the log"
"$FAKE" --help | grep -q -- '--tokens-per-sec' || af_fail "--help lacks --tokens-per-sec"
rc=0; "$FAKE" --check-config --fault teapot 2>/dev/null || rc=$?
af_eq "$rc" 2 "--check-config refuses a bad fault"
"$FAKE" --check-config --fault midstream | grep -q "configuration OK" || af_fail "--check-config OK"

# ---- SIGTERM with a hung request open: clean exit 0 ------------------------------------------
curl -s -o /dev/null --max-time 5 -H 'x-api-key: k' -H 'anthropic-version: 1' \
  --data-binary "$(msg 'x [[fault:hang]]')" "$base/v1/messages" &
for _ in $(seq 30); do [ "$(stat '["in_flight"]')" = 1 ] && break; sleep 0.1; done
kill -TERM "$fake_pid"
rc=0; wait "$fake_pid" || rc=$?
af_eq "$rc" 0 "exit status after SIGTERM"
grep -q "shutting down" "$AF_TMP/fake.log" || af_fail "no shutdown line"

af_log "fake_anthropic_http: PASS"
