#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerate the configuration reference in README.md from `lanner --help-config` (the option
tables in the code are the source of truth). Usage: scripts/config-reference.py LANNER_BIN"""
import re
import subprocess
import sys

BEGIN = "<!-- config-reference:begin (scripts/config-reference.py) -->"
END = "<!-- config-reference:end -->"


def table(lanner):
    out = subprocess.run([lanner, "--help-config"], capture_output=True, text=True,
                         check=True).stdout
    rows = ["| key | type | default | environment | meaning |", "|---|---|---|---|---|"]
    for line in out.splitlines():
        if not line.strip():
            continue
        key, typ, default, env, *help_ = re.split(r"\s{2,}", line.strip(), maxsplit=4)
        typ = typ.replace("|", "\\|")
        default = "" if default == "-" else "`%s`" % default
        rows.append("| `%s` | %s | %s | `%s` | %s |" % (key, typ, default, env,
                                                      (help_ or [""])[0].replace("|", "\\|")))
    return "\n".join(rows)


def main():
    readme = open("README.md", encoding="utf-8").read()
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    readme = readme[:start] + "\n" + table(sys.argv[1]) + "\n" + readme[end:]
    open("README.md", "w", encoding="utf-8").write(readme)


if __name__ == "__main__":
    main()
