#!/usr/bin/env bash
# docs/openapi.yaml is a valid OpenAPI 3 document (@apidevtools/swagger-parser:
# schema and every $ref), it lists exactly the routes of the gateway's route
# table (gateway/server.c), and a running gateway serves every documented
# operation (no 404/405 for them; 401 without credentials, the probes public)
# while an undocumented path gets 404.
. "$(dirname "$0")/lib.sh"
tools="$AF_ROOT/tests/tools/node_modules/@apidevtools/swagger-parser"
[ -d "$tools" ] || af_fail "swagger-parser missing: (cd tests/tools && npm install)"
spec="$AF_ROOT/docs/openapi.yaml"
node "$AF_ROOT/tests/integration/ops/openapi_routes.mjs" "$spec" | sort >"$AF_TMP/doc.txt" \
  || af_fail "docs/openapi.yaml does not validate"
[ -s "$AF_TMP/doc.txt" ] || af_fail "no operations in docs/openapi.yaml"

# The gateway's route table: {"/path", AF_M_METHOD, R_ID} lines of s_routes.
sed -n '/s_routes\[\] = {/,/{NULL, 0, 0}/p' "$AF_ROOT/gateway/server.c" \
  | sed -n 's/^ *{"\(\/[^"]*\)", AF_M_\([A-Z]*\), R_[A-Z_]*},.*/\2 \1/p' \
  | sed 's/{[^}]*}/{}/g' | sort >"$AF_TMP/code.txt"
[ "$(wc -l <"$AF_TMP/code.txt")" -ge 10 ] || af_fail "could not read the gateway's route table"
if ! diff -u "$AF_TMP/code.txt" "$AF_TMP/doc.txt" >"$AF_TMP/diff.txt"; then
  af_fail "routes differ (- gateway/server.c, + docs/openapi.yaml):
$(cat "$AF_TMP/diff.txt")"
fi
af_log "$(wc -l <"$AF_TMP/doc.txt") operations documented, same as the route table"

# A running gateway answers each documented operation.
gw=$(af_free_port); ag=$(af_free_port); mgr=$(af_free_port)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$AF_TMP/jwt.secret"
af_start gateway "$AF_BIN/gateway" --listen "127.0.0.1:$gw" --agent-listen "tcp://127.0.0.1:$ag" \
  --manager "tcp://127.0.0.1:$mgr" --jwt-secret-file "$AF_TMP/jwt.secret" --manager-timeout-ms 200
af_wait_port "127.0.0.1:$gw"
while read -r method path; do
  url="http://127.0.0.1:$gw${path//\{\}/x1}"
  code=$(curl -s -o "$AF_TMP/body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
         --data-binary '{}' "$url")
  case "$path" in
    /healthz|/metrics) want=200 ;;
    /readyz) want=503 ;;   # no manager, no agents
    *) want=401 ;;
  esac
  [ "$code" = "$want" ] || af_fail "$method $path: HTTP $code, want $want: $(head -c 200 "$AF_TMP/body")"
  if [ "$want" = 401 ]; then
    grep -q '"type":"authentication_error"' "$AF_TMP/body" || af_fail "$method $path: 401 body $(cat "$AF_TMP/body")"
  fi
done <"$AF_TMP/doc.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/v1/not-documented")
af_eq "$code" 404 "undocumented path"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$gw/v1/stats")
af_eq "$code" 405 "undocumented method on a documented path"

# Not vacuous: a broken reference, and a route missing from the document, are caught.
sed "s|schemas/Agent'|schemas/NoSuchSchema'|" "$spec" >"$AF_TMP/bad.yaml"
cmp -s "$spec" "$AF_TMP/bad.yaml" && af_fail "mutation changed nothing"
if node "$AF_ROOT/tests/integration/ops/openapi_routes.mjs" "$AF_TMP/bad.yaml" >/dev/null 2>&1; then
  af_fail "a dangling \$ref validated"
fi
grep -v '^GET /v1/stats$' "$AF_TMP/doc.txt" >"$AF_TMP/short.txt"
diff -q "$AF_TMP/code.txt" "$AF_TMP/short.txt" >/dev/null && af_fail "a missing route went unnoticed"
af_log "PASS: openapi valid and in step with the gateway"
