#!/usr/bin/env bash
# gateway rate limits: with the default 100 requests/min per client IP, the
# 101st request in a burst gets 429 with Retry-After (and the Anthropic error
# body); a per-user limit holds across IPs and does not touch other users; a
# flood from many distinct source addresses keeps the bucket table at its bound.
. "$(dirname "$0")/lib.sh"

HARNESS="$AF_BUILD/tests/integration/harness_gateway_fleet"
MP=$(af_free_port); AP=$(af_free_port); HP=$(af_free_port); UP=$(af_free_port); AP2=$(af_free_port)
KEYS="$AF_TMP/keys"
ALICE=$("$AF_BIN/gateway" --add-key alice user --keys-file "$KEYS")
BOB=$("$AF_BIN/gateway" --add-key bob user --keys-file "$KEYS")
af_start harness "$HARNESS" --manager "tcp://127.0.0.1:$MP" --gateway "tcp://127.0.0.1:$AP" --pool 1
af_start gw_ip "$AF_BIN/gateway" --listen "127.0.0.1:$HP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP" --keys-file "$KEYS" --gateway-id gwip
af_start gw_user "$AF_BIN/gateway" --listen "127.0.0.1:$UP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP2" --keys-file "$KEYS" --ip-rate 0 --user-rate 5 --gateway-id gwus
af_wait_port "127.0.0.1:$HP"; af_wait_port "127.0.0.1:$UP"
for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/readyz")" = 200 ] && break; sleep 0.1; done

af_log "per IP: 100 pass, the 101st is refused"
urls=(); for _ in $(seq 100); do urls+=(-o /dev/null "http://127.0.0.1:$HP/v1/agents"); done
codes=$(curl -s -H "x-api-key: $ALICE" -w '%{http_code}\n' "${urls[@]}" | sort | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')
af_eq "$codes" "200:100 " "the first 100 requests"
code=$(curl -s -D "$AF_TMP/hdr" -o "$AF_TMP/body" -w '%{http_code}' -H "x-api-key: $BOB" "http://127.0.0.1:$HP/v1/agents")
af_eq "$code" 429 "the 101st request (another user, same IP)"
ra=$(grep -i '^Retry-After:' "$AF_TMP/hdr" | tr -dc 0-9)
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] || af_fail "Retry-After '$ra'"
af_eq "$(jq -r .error.type "$AF_TMP/body")" rate_limit_error "error type"
# Health probes are not rate limited.
af_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/healthz")" 200 "healthz under limit"
af_get -s "http://127.0.0.1:$HP/metrics" | grep -q '^gateway_rate_limited_total{scope="ip"} 1' || af_fail "rate_limited_total"

af_log "per user: 5/min for alice, bob unaffected"
for i in 1 2 3 4 5; do
  af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $ALICE" "http://127.0.0.1:$UP/v1/agents")" 200 "alice #$i"
done
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $ALICE" "http://127.0.0.1:$UP/v1/agents")" 429 "alice #6"
af_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $BOB" "http://127.0.0.1:$UP/v1/agents")" 200 "bob"
af_get -s "http://127.0.0.1:$UP/metrics" | grep -q '^gateway_rate_limited_total{scope="user"} 1' || af_fail "user scope counted"
af_log "a flood of distinct IPs keeps the bucket table bounded"
FP=$(af_free_port); AP3=$(af_free_port)
af_start gw_flood "$AF_BIN/gateway" --listen "127.0.0.1:$FP" --manager "tcp://127.0.0.1:$MP" \
  --agent-listen "tcp://127.0.0.1:$AP3" --keys-file "$KEYS" --rate-table-max 32 --gateway-id gwfl
af_wait_port "127.0.0.1:$FP"
cpids=()
for i in $(seq 2 201); do
  curl -s -o /dev/null --interface "127.0.$((i / 200)).$((i % 200 + 2))" -H "x-api-key: $ALICE" \
    "http://127.0.0.1:$FP/v1/agents" &
  cpids+=($!)
  if [ "${#cpids[@]}" -ge 25 ]; then wait "${cpids[@]}"; cpids=(); fi
done
[ "${#cpids[@]}" -gt 0 ] && wait "${cpids[@]}"
n=$(curl -s "http://127.0.0.1:$FP/metrics" | sed -n 's/^gateway_rate_buckets_ip //p')
af_eq "$n" 32 "per-IP buckets after 200 distinct addresses"
# Limiting still works for a fresh address after the churn.
urls=(); for _ in $(seq 101); do urls+=(-o /dev/null "http://127.0.0.1:$FP/v1/agents"); done
last=$(curl -s --interface 127.0.3.3 -H "x-api-key: $ALICE" -w '%{http_code}\n' "${urls[@]}" | tail -1)
af_eq "$last" 429 "101st request from one address after the flood"
echo PASS
