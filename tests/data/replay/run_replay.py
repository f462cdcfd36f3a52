#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Replay tests: `lanner replay` over hand-written event streams must raise exactly the
expected alerts.

usage: run_replay.py LANNER CASE_DIR SHARED_DATA_DIR [CASE...]

Each case is CASE_DIR/NAME.jsonl (events, detector/event_json.h) with its expected alerts in
CASE_DIR/NAME.expected (one Falco JSON alert per line, in order; empty for a stream of near
misses). Directives in comment lines of the .jsonl:
    # args: -r @SHARED@/falco-rules/falco_rules.yaml    extra replay arguments (default rules
                                                         when there is no -r)
    # exit: 1                                           expected exit status (default 0)
    # stderr: TEXT                                      text stderr must contain (repeatable)
Alerts are compared key by key after dropping uuid and hostname (random and machine-specific).
Run with TZ=UTC: `output` starts with the local time of the event.
Cases naming @SHARED@ are skipped with a message when the shared data directory is absent,
except under CI (CI set in the environment), where that is a failure.
"""
import json
import os
import subprocess
import sys


def load_alerts(text, where):
    alerts = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            a = json.loads(line)
        except ValueError as e:
            raise SystemExit(f"{where}:{n}: not JSON: {e}")
        a.pop("uuid", None)
        a.pop("hostname", None)
        alerts.append(a)
    return alerts


def run_case(lanner, case_dir, shared, name):
    path = os.path.join(case_dir, name + ".jsonl")
    args, exit_want, stderr_want = [], 0, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("# args:"):
                args += line[len("# args:"):].split()
            elif line.startswith("# exit:"):
                exit_want = int(line[len("# exit:"):])
            elif line.startswith("# stderr:"):
                stderr_want.append(line[len("# stderr:"):].strip())
    if any("@SHARED@" in a for a in args) and not os.path.isdir(shared):
        if os.environ.get("CI"):
            return [f"{name}: shared data {shared} missing"]
        print(f"SKIP {name}: shared data {shared} missing")
        return []
    args = [a.replace("@SHARED@", shared) for a in args]
    env = dict(os.environ, TZ="UTC")
    p = subprocess.run([lanner, "replay", *args, path], capture_output=True, text=True,
                       env=env, timeout=60)
    errors = []
    if p.returncode != exit_want:
        errors.append(f"{name}: exit status {p.returncode}, want {exit_want}\n{p.stderr}")
    for s in stderr_want:
        if s not in p.stderr:
            errors.append(f"{name}: stderr lacks '{s}':\n{p.stderr}")
    got = load_alerts(p.stdout, name + " (output)")
    with open(os.path.join(case_dir, name + ".expected")) as f:
        want = load_alerts(f.read(), name + ".expected")
    if len(got) != len(want):
        errors.append(f"{name}: {len(got)} alerts, want {len(want)}:\n" +
                      "\n".join(f"  {a.get('rule')}: {a.get('output')}" for a in got))
    for i, (g, w) in enumerate(zip(got, want)):
        for key in sorted(set(g) | set(w)):
            if g.get(key) != w.get(key):
                errors.append(f"{name}: alert {i + 1} ({w.get('rule')}): {key}:\n"
                              f"  got  {json.dumps(g.get(key), sort_keys=True)}\n"
                              f"  want {json.dumps(w.get(key), sort_keys=True)}")
    return errors


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    lanner, case_dir, shared = sys.argv[1:4]
    names = sys.argv[4:] or sorted(f[:-len(".jsonl")] for f in os.listdir(case_dir)
                                   if f.endswith(".jsonl"))
    if not names:
        raise SystemExit(f"no cases in {case_dir}")
    failed = 0
    for name in names:
        errors = run_case(lanner, case_dir, shared, name)
        print(("FAIL " if errors else "ok   ") + name)
        for e in errors:
            print(e)
        failed += bool(errors)
    print(f"{len(names) - failed}/{len(names)} replay cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
