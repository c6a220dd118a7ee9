#!/usr/bin/env bash
# The docs say what the code does: README starts with `make run` and `make
# test`, its links resolve, and its tour's commands (fleetctl and curl lines
# without placeholders) succeed against the `make run` stack;
# docs/operations.md names every option of every daemon's --help, and every
# alert's runbook anchor is one of its headings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ops/stack.sh"
readme="$AF_ROOT/README.md" ops="$AF_ROOT/docs/operations.md"

# ---- README -------------------------------------------------------------------------
first=$(grep -m2 -E '^make (run|test)' "$readme" | awk '{print $1, $2}' | tr '\n' ',')
af_eq "$first" "make run,make test," "the first two commands of the README"
for link in $(grep -oE '\]\([^)#]+\)' "$readme" "$ops" | sed -E 's/.*\]\(([^)]*)\)/\1/' | grep -v '^http'); do
  [ -e "$AF_ROOT/$link" ] || [ -e "$AF_ROOT/docs/$link" ] || af_fail "broken link: $link"
done

# ---- operations.md: options and anchors --------------------------------------------------
for d in gateway manager autoscaler agentd fake-anthropic; do
  for opt in $("$AF_BIN/$d" --help | grep -oE '^  --[a-z0-9-]+' | tr -d ' '); do
    case "$opt" in --config|--check-config|--version|--help) continue ;; esac
    env="AF_$(echo "$d" | tr 'a-z-' 'A-Z_')_$(echo "${opt#--}" | tr 'a-z-' 'A-Z_')"
    grep -q -- "\`$opt\` | \`$env\`" "$ops" || af_fail "docs/operations.md lacks $d $opt ($env)"
  done
done
anchors=$(grep -E '^#{2,3} ' "$ops" | sed -E 's/^#+ //' | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9 -]//g; s/ /-/g')
for a in $(sed -n 's/.*runbook: docs\/operations.md#//p' "$AF_ROOT/deploy/rules/alerts.yml" | sort -u); do
  grep -qx "$a" <<<"$anchors" || af_fail "alert runbook anchor #$a is not a heading of docs/operations.md"
done

# ---- the tour, against the stack ------------------------------------------------------------
ops_stack_env
ops_stack_start 10
export PATH="$AF_BIN:$PATH"
# curl lines continued with a backslash: join them.
python3 - "$AF_TMP/tour.sh" "$readme" <<'PY'
import re, sys
text = open(sys.argv[2]).read()
tour = text[text.index("## A 5-minute tour"):text.index("## How it fits")]
cmds = []
for block in re.findall(r"```sh\n(.*?)```", tour, re.S):
    block = re.sub(r"\\\n\s*", "", block)
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if re.match(r"^(fleetctl|curl|export FLEET_TOKEN)", line) and "..." not in line:
            cmds.append(line)
open(sys.argv[1], "w").write("\n".join(cmds) + "\n")
PY
n=$(wc -l <"$AF_TMP/tour.sh")
[ "$n" -ge 8 ] || af_fail "only $n tour commands found"
sed -i "s/127.0.0.1:9101/127.0.0.1:$OPS_MGR_METRICS/g" "$AF_TMP/tour.sh"
i=0
while IFS= read -r cmd; do
  i=$((i + 1))
  case "$cmd" in
    export*) eval "$cmd" || af_fail "tour command failed: $cmd"; continue ;;
  esac
  out=$(eval "$cmd" 2>&1) || af_fail "tour command failed: $cmd
$out"
  [ -n "$out" ] || af_fail "tour command printed nothing: $cmd"
  ! grep -q '"type":"error"' <<<"$out" || af_fail "tour command answered an error: $cmd
$out"
done <"$AF_TMP/tour.sh"
ops_stack_stop
af_log "PASS: README tour ($i commands), links, options and runbook anchors"
