#!/usr/bin/env bash
# gateway JWT attack cases over real HTTP (HS256, RS256 and ES256 gateways): a
# good token passes; alg none, alg swapped (HS256 signed with the gateway's
# public key; another asymmetric alg),
# expired, not yet valid, bad signature and another key's token all get 401
# with WWW-Authenticate, are counted and audited, and no token reaches a log.
. "$(dirname "$0")/lib.sh"

HARNESS="$AF_BUILD/tests/integration/harness_gateway_fleet"
JWT="$AF_BUILD/tests/integration/tool_gateway_jwt"
[ -x "$HARNESS" ] && [ -x "$JWT" ] || af_fail "build the gateway harness and tool_gateway_jwt first"
MP=$(af_free_port); AP=$(af_free_port); HS=$(af_free_port); RS=$(af_free_port); AP2=$(af_free_port)
ES=$(af_free_port); AP3=$(af_free_port)
printf 'the-gateway-hmac-secret-0123456789' >"$AF_TMP/secret"
printf 'some-other-secret-0123456789abcdef' >"$AF_TMP/other-secret"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$AF_TMP/rsa.pem" 2>/dev/null
openssl pkey -in "$AF_TMP/rsa.pem" -pubout -out "$AF_TMP/rsa.pub" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$AF_TMP/rsa2.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$AF_TMP/ec.pem" 2>/dev/null
openssl pkey -in "$AF_TMP/ec.pem" -pubout -out "$AF_TMP/ec.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$AF_TMP/ec2.pem" 2>/dev/null

af_start harness "$HARNESS" --manager "tcp://127.0.0.1:$MP" --gateway "tcp://127.0.0.1:$AP" --pool 1
af_start gw_hs "$AF_BIN/gateway" --listen "127.0.0.1:$HS" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --jwt-alg HS256 --jwt-secret-file "$AF_TMP/secret" \
  --audit-log "$AF_TMP/audit.log" --gateway-id gwhs
af_start gw_rs "$AF_BIN/gateway" --listen "127.0.0.1:$RS" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP2" --jwt-alg RS256 --jwt-public-key-file "$AF_TMP/rsa.pub" \
  --audit-log "$AF_TMP/audit-rs.log" --gateway-id gwrs
af_start gw_es "$AF_BIN/gateway" --listen "127.0.0.1:$ES" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP3" --jwt-alg ES256 --jwt-public-key-file "$AF_TMP/ec.pub" \
  --gateway-id gwes
af_wait_port "127.0.0.1:$HS"; af_wait_port "127.0.0.1:$RS"; af_wait_port "127.0.0.1:$ES"

mint() { "$JWT" "$@"; }
# call PORT TOKEN -> prints status; body in $AF_TMP/body
call() {
  curl -s -o "$AF_TMP/body" -D "$AF_TMP/hdr" -w '%{http_code}' -H "Authorization: Bearer $2" \
    "http://127.0.0.1:$1/v1/stats"
}
refused() { # refused PORT TOKEN WHAT
  local c; c=$(call "$1" "$2")
  af_eq "$c" 401 "$3 must be refused ($(cat "$AF_TMP/body"))"
  af_eq "$(jq -r .error.type "$AF_TMP/body")" authentication_error "$3 error type"
  grep -qi '^WWW-Authenticate: Bearer' "$AF_TMP/hdr" || af_fail "$3: no WWW-Authenticate"
  echo "$2" >>"$AF_TMP/tokens"
}

for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HS/readyz")" = 200 ] && break; sleep 0.1; done

af_log "HS256 gateway"
GOOD=$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub alice --role user)
af_eq "$(call "$HS" "$GOOD")" 200 "a good HS256 token passes ($(cat "$AF_TMP/body"))"
ADMIN=$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub root --role admin)
c=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -X POST \
  --data-binary '{"target":3}' "http://127.0.0.1:$HS/v1/scale"); af_eq "$c" 200 "admin JWT may scale"
c=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $GOOD" -X POST \
  --data-binary '{"target":3}' "http://127.0.0.1:$HS/v1/scale"); af_eq "$c" 403 "user JWT may not scale"
refused "$HS" "$(mint --alg none --sub alice --role admin)" "alg none"
# Hand-forged alg none with an empty signature (libjwt may add none differently).
NONE="$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').$(printf '{"sub":"alice","role":"admin","exp":9999999999}' | base64 -w0 | tr '+/' '-_' | tr -d '=')."
refused "$HS" "$NONE" "forged alg none"
refused "$HS" "$(mint --alg RS256 --key-file "$AF_TMP/rsa.pem" --sub alice)" "RS256 on an HS256 gateway"
refused "$HS" "$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub alice --exp-in -120)" "expired"
refused "$HS" "$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub alice --nbf-in 600)" "not yet valid"
refused "$HS" "$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub alice --tamper)" "bad signature"
refused "$HS" "$(mint --alg HS256 --key-file "$AF_TMP/other-secret" --sub alice)" "another key"
refused "$HS" "$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub alice --no-exp)" "no exp"
refused "$HS" "$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub alice --role superuser)" "unknown role"
refused "$HS" "not.a.jwt" "garbage"
af_eq "$(call "$HS" "$(mint --alg HS256 --key-file "$AF_TMP/secret" --sub alice --exp-in -10)")" 200 "expired within leeway"

af_log "RS256 gateway"
af_eq "$(call "$RS" "$(mint --alg RS256 --key-file "$AF_TMP/rsa.pem" --sub bob)")" 200 "a good RS256 token passes"
# The confusion attack: HS256 keyed with the gateway's own public key.
refused "$RS" "$(mint --alg HS256 --key-file "$AF_TMP/rsa.pub" --sub bob --role admin)" "alg swapped HS256/public key"
refused "$RS" "$(mint --alg RS256 --key-file "$AF_TMP/rsa2.pem" --sub bob)" "RS256 by another key"
refused "$RS" "$(mint --alg none --sub bob)" "alg none on RS256"

af_log "ES256 gateway"
af_eq "$(call "$ES" "$(mint --alg ES256 --key-file "$AF_TMP/ec.pem" --sub carol)")" 200 "a good ES256 token passes"
refused "$ES" "$(mint --alg ES256 --key-file "$AF_TMP/ec2.pem" --sub carol)" "ES256 by another key"
refused "$ES" "$(mint --alg HS256 --key-file "$AF_TMP/ec.pub" --sub carol --role admin)" "alg swapped HS256/EC public key"
refused "$ES" "$(mint --alg RS256 --key-file "$AF_TMP/rsa.pem" --sub carol)" "RS256 on an ES256 gateway"

af_log "metrics, audit, no token in logs"
n=$(curl -s "http://127.0.0.1:$HS/metrics" | sed -n 's/^gateway_auth_failures_total{reason="invalid_jwt"} //p')
af_eq "$n" 10 "auth failures counted"
af_eq "$(jq -s '[.[] | select(.event=="auth_failure")] | length' "$AF_TMP/audit.log")" 10 "auth failures audited"
while read -r t; do
  sig="${t##*.}"; [ -n "$sig" ] || sig="${t%.*}"
  [ "${#sig}" -ge 16 ] || continue
  grep -qF -- "$sig" "$AF_TMP/audit.log" "$AF_TMP/audit-rs.log" "$AF_TMP/gw_hs.log" "$AF_TMP/gw_rs.log" "$AF_TMP/gw_es.log" \
    && af_fail "a token reached a log"
done <"$AF_TMP/tokens"
grep -qF "the-gateway-hmac-secret" "$AF_TMP/gw_hs.log" && af_fail "the secret reached the log"
echo PASS
