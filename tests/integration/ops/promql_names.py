#!/usr/bin/env python3
"""Checks PromQL expressions (Grafana panels, recording and alert rules)
against the metric names the daemons export.

usage: promql_names.py --exposition FILE... --rules FILE... --dashboard FILE
                       [--emit-rules OUT]
Known names: every `# TYPE name kind` in the exposition files (histograms add
name_bucket/_sum/_count), every recording rule's name, and `up`. Prints each
unknown name with where it is used and exits 1 when there is one. With
--emit-rules, writes every dashboard expression as a recording rule (Grafana's
$__ variables replaced) so `promtool check rules` can parse them.
Only the standard library and PyYAML-free parsing of the rules files (the
record:/expr: lines) are used."""
import argparse
import json
import re
import sys

KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "group", "by", "without", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "bool", "offset", "atan2",
    "inf", "nan", "le",
}
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr):
    """Metric names referenced by a PromQL expression (no full parser: strings,
    label matchers, ranges and grouping lists are removed, function calls are
    identifiers followed by '(')."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\w+", " ", e)
    names = set()
    for m in IDENT.finditer(e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if word.lower() in KEYWORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]?", word):
            continue
        names.add(word)
    return names


def rules_exprs(path):
    """(name, expr) of every rule, read from the YAML text: `record:`/`alert:`
    then `expr:` (single line or a `|` block)."""
    out = []
    name = None
    lines = open(path).read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*-?\s*(record|alert):\s*(\S+)", line)
        if m:
            name = (m.group(1), m.group(2))
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if m and name:
            indent = len(m.group(1))
            text = m.group(2)
            if text.strip() in ("|", ">", "|-", ">-"):
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or
                                          len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i].strip())
                    i += 1
                text = " ".join(block)
                out.append((name, text))
                continue
            out.append((name, text.strip().strip("'")))
        i += 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exposition", nargs="+", required=True)
    ap.add_argument("--rules", nargs="*", default=[])
    ap.add_argument("--dashboard")
    ap.add_argument("--emit-rules")
    a = ap.parse_args()

    known = {"up"}
    exported = set()
    for f in a.exposition:
        for line in open(f):
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                exported.add(m.group(1))
                known.add(m.group(1))
                if m.group(2) == "histogram":
                    for s in ("_bucket", "_sum", "_count"):
                        known.add(m.group(1) + s)
    uses = []  # (where, expr)
    for f in a.rules:
        for (kind, name), expr in rules_exprs(f):
            if kind == "record":
                known.add(name)
            uses.append((f"{f}: {kind} {name}", expr))
    panels_checked = 0
    exprs = []
    if a.dashboard:
        d = json.load(open(a.dashboard))
        ds = [v for v in d.get("templating", {}).get("list", []) if v.get("type") == "datasource"]
        if not ds:
            print("dashboard: no datasource variable", file=sys.stderr)
            return 1
        def walk(panels):
            for p in panels:
                yield p
                yield from walk(p.get("panels", []))
        for p in walk(d.get("panels", [])):
            if p.get("type") == "row":
                continue
            dsref = json.dumps(p.get("datasource"))
            if "${" + ds[0]["name"] + "}" not in dsref:
                print(f"panel '{p.get('title')}': datasource is not the ${ds[0]['name']} variable",
                      file=sys.stderr)
                return 1
            targets = p.get("targets", [])
            if not targets:
                print(f"panel '{p.get('title')}': no query", file=sys.stderr)
                return 1
            panels_checked += 1
            for t in targets:
                uses.append((f"panel '{p.get('title')}' {t.get('refId')}", t["expr"]))
                exprs.append(t["expr"])
    bad = 0
    for where, expr in uses:
        for n in sorted(metric_names(expr) - known):
            print(f"unknown metric {n} in {where}: {expr}", file=sys.stderr)
            bad += 1
    if a.emit_rules:
        with open(a.emit_rules, "w") as out:
            out.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, e in enumerate(exprs):
                e = re.sub(r"\$__(rate_interval|interval|range)", "5m", e)
                out.write(f"      - record: dashboard:expr_{i}\n        expr: {json.dumps(e)}\n")
    print(f"checked {len(uses)} expressions ({panels_checked} panels) against "
          f"{len(exported)} exported metric families; unknown names: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
