#!/usr/bin/env python3
"""Regenerates the per-daemon option tables of docs/operations.md from each
binary's --help (between the <!-- options:begin --> and <!-- options:end -->
markers). usage: options_md.py BINDIR docs/operations.md [--check]
--check exits 1 (and changes nothing) when the tables are out of date."""
import re
import subprocess
import sys

DAEMONS = ["gateway", "manager", "autoscaler", "agentd", "fake-anthropic"]
SKIP = {"config", "check-config", "version", "help"}


def tables(bindir):
    out = []
    for d in DAEMONS:
        text = subprocess.run([f"{bindir}/{d}", "--help"], capture_output=True, text=True).stdout
        envd = d.upper().replace("-", "_")
        out.append(f"### {d}\n")
        out.append("| option | env | default | what |\n|---|---|---|---|")
        for line in text.splitlines():
            m = re.match(r"\s+--([a-z0-9-]+)(?: (\S+))?\s{2,}(.*)$", line)
            if not m or m.group(1) in SKIP:
                continue
            name, _, what = m.groups()
            dm = re.search(r"\[default: (.*)\]$", what)
            default = f"`{dm.group(1)}`" if dm else ""
            what = re.sub(r"\s*\[default: .*\]$", "", what).replace("|", "\\|")
            env = "AF_" + envd + "_" + name.upper().replace("-", "_")
            out.append(f"| `--{name}` | `{env}` | {default} | {what} |")
        out.append("")
    return "\n".join(out)


def main():
    bindir, doc = sys.argv[1], sys.argv[2]
    text = open(doc).read()
    begin, end = "<!-- options:begin -->\n", "<!-- options:end -->"
    a, b = text.index(begin) + len(begin), text.index(end)
    new = text[:a] + tables(bindir) + "\n" + text[b:]
    if "--check" in sys.argv:
        if new != text:
            print(f"{doc}: option tables are out of date: run {sys.argv[0]} {bindir} {doc}",
                  file=sys.stderr)
            return 1
        return 0
    open(doc, "w").write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
