#!/usr/bin/env bash
# `make chaos`: the chaos run (tests/chaos/chaos.py) on loopback, bounded in
# time; exits non-zero when a request or an acknowledged turn was lost or the
# failures after a kill exceed the requests in flight at it. The last line is
# `requests=N ok=N failed=N lost=N turns_lost=N`.
set -euo pipefail
AF_ROOT="${AF_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export AF_ROOT AF_BIN="${AF_BIN:-bin}"
exec timeout --signal=TERM --kill-after=10 170 python3 "$AF_ROOT/tests/chaos/chaos.py"
