#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pools the fixed-workload rounds of several bench_detector.py reports.

One run of 14 rounds on a noisy 2-vCPU VM has a standard error of 2-4 percentage points on
"lanner - floor"; the target is 5. Pooling the per-round tables of several runs of the same
builds narrows it. Each report's "Per round, total seconds" table is read; per arm, each
round's (arm - floor) / none in percent is pooled; with a `compare` arm, lanner - compare too.

Usage: pool_fixed.py REPORT.md... (the Markdown bench_detector.py printed)
"""
import re
import statistics
import sys

ROW = re.compile(r"^\| (\d+) \| ([a-z ]+) \|(.*)\|$")


def rounds(path):
    """The report's per-round totals: a list of {arm: seconds}."""
    head, out = None, []
    try:
        f = open(path)
    except OSError as e:
        sys.exit("%s: %s" % (path, e.strerror))
    with f:
        for line in f:
            line = line.strip()
            if line.startswith("| round | order |"):
                head = [c.strip() for c in line.strip("|").split("|")][2:]
                continue
            m = ROW.match(line)
            if head and m:
                vals = [float(v) for v in m.group(3).split("|")]
                if len(vals) != len(head):
                    sys.exit("%s: a round row with %d values for %d arms" %
                             (path, len(vals), len(head)))
                out.append(dict(zip(head, vals)))
    if not out:
        sys.exit("%s: no per-round table (a bench_detector.py fixed-workload report?)" % path)
    return out


def describe(name, xs):
    se = statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else float("nan")
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else (xs[0], 0, xs[0])
    return ("%-16s %3d rounds: median %+.1f pp (IQR %+.1f..%+.1f), mean %+.1f pp, "
            "standard error %.1f" % (name, len(xs), statistics.median(xs), q[0], q[2],
                                     statistics.mean(xs), se))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pooled = {}
    for path in sys.argv[1:]:
        for r in rounds(path):
            for arm in r:
                if arm in ("none", "floor"):
                    continue
                pooled.setdefault(arm + " - floor", []).append(
                    (r[arm] - r["floor"]) / r["none"] * 100)
            if "compare" in r:
                pooled.setdefault("lanner - compare", []).append(
                    (r["lanner"] - r["compare"]) / r["none"] * 100)
    for name, xs in pooled.items():
        print(describe(name, xs))


if __name__ == "__main__":
    main()
