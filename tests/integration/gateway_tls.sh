#!/usr/bin/env bash
# gateway over TLS: a self-signed pair made by --tls-generate serves HTTPS
# (verified against the cert, TLS 1.2 and 1.3), TLS 1.1 is refused, plain HTTP
# on the TLS port fails cleanly (no hang, no crash) and both ports keep working.
. "$(dirname "$0")/lib.sh"

HARNESS="$AF_BUILD/tests/integration/harness_gateway_fleet"
MP=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port); TP=$(af_free_port)
KEY=$("$AF_BIN/gateway" --add-key alice user --keys-file "$AF_TMP/keys")
af_start harness "$HARNESS" --manager "tcp://127.0.0.1:$MP" --gateway "tcp://127.0.0.1:$AP" --pool 1
"$AF_BIN/gateway" --check-config --tls-listen "127.0.0.1:$TP" --tls-cert "$AF_TMP/none.crt" \
  --tls-key "$AF_TMP/none.key" >/dev/null 2>&1 && af_fail "--check-config accepted missing TLS files"
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --tls-listen "127.0.0.1:$TP" \
  --tls-cert "$AF_TMP/gw.crt" --tls-key "$AF_TMP/gw.key" --tls-generate \
  --manager "tcp://127.0.0.1:$MP" --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$AF_TMP/keys"
af_wait_port "127.0.0.1:$TP"
[ "$(stat -c %a "$AF_TMP/gw.key")" = 600 ] || af_fail "key file mode"

af_log "HTTPS works, verified against the generated cert"
for v in 1.2 1.3; do
  c=$(curl -s --cacert "$AF_TMP/gw.crt" --tlsv$v --tls-max $v -o "$AF_TMP/body" -w '%{http_code}' \
    -H "x-api-key: $KEY" -X POST --data-binary '{"message":"over tls"}' "https://localhost:$TP/v1/chat")
  af_eq "$c" 200 "chat over TLS $v ($(cat "$AF_TMP/body"))"
  af_eq "$(jq -r .content "$AF_TMP/body")" "You said: over tls" "content over TLS $v"
done
curl -s -N --cacert "$AF_TMP/gw.crt" -H "x-api-key: $KEY" -X POST \
  --data-binary '{"message":"a b c","stream":true}' "https://localhost:$TP/v1/chat" >"$AF_TMP/sse"
af_eq "$(grep -c '^event: delta' "$AF_TMP/sse")" 5 "SSE over TLS"

af_log "TLS 1.1 is refused"
if openssl s_client -connect "127.0.0.1:$TP" -tls1_1 </dev/null >"$AF_TMP/s11" 2>&1; then
  grep -q "Protocol  *: TLSv1.1" "$AF_TMP/s11" && af_fail "TLS 1.1 handshake succeeded"
fi
c=$(curl -s -k --tlsv1.1 --tls-max 1.1 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TP/healthz" || true)
af_eq "$c" 000 "curl over TLS 1.1"

af_log "plain HTTP on the TLS port fails cleanly"
start=$(date +%s%N)
c=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TP/healthz" || true)
af_eq "$c" 000 "plain HTTP on the TLS port"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 4000 ] || af_fail "plain HTTP on the TLS port hung"
af_eq "$(curl -s -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TP/healthz")" 200 "TLS port still serves"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/healthz")" 200 "HTTP port still serves"
af_eq "$(curl -s -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$HP/healthz" || true)" 000 "TLS on the HTTP port fails"
kill -0 "$AF_LAST_PID" || af_fail "gateway died"
echo PASS
