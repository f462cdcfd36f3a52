#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Response latency benchmark (issue 6): alert accepted by lanner (POST / answered 200) ->
scale PATCH completed on the Kubernetes API stand-in, over N alerts for N distinct Deployments
(bench/app-0 .. app-N-1, one pod each), p50/p99/max. Loopback only.

Usage: bench_response.py [--lanner PATH] [--alerts 1000] [--rate 100] [--concurrency 64]

Alerts are sent open-loop at --rate per second over one keep-alive connection; the responder
runs k8s.scale_down (GET pod, GET ReplicaSet, GET Deployment, PATCH annotations, PATCH /scale)
with up to --concurrency alerts in flight (response.maxconcurrentrequests). The stand-in stamps
when it answered each request (t_done); latency = PATCH /scale answered - POST / answered.
Target: p99 <= 50 ms.
"""
import argparse
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../integration"))
from k8s_standin import StandIn, small_cluster  # noqa: E402
import lanner_harness  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lanner", default=lanner_harness.LANNER)
    ap.add_argument("--alerts", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    lanner_harness.LANNER = args.lanner

    ws = lanner_harness.Workspace()
    k8s = StandIn(ws.tmp.name, small_cluster(args.alerts))
    try:
        pf = os.path.join(ws.tmp.name, "policy.yaml")
        with open(pf, "w", encoding="utf-8") as f:
            f.write("max_actions_per_minute: 0\npolicies:\n  - name: bench\n"
                    "    actions: [{action: k8s.scale_down}]\n")
        kc = k8s.kubeconfig(os.path.join(ws.tmp.name, "kubeconfig"))
        lan = lanner_harness.Lanner(
            ws.tmp.name, "response: {enabled: true, kubeconfig: '%s', policy_file: '%s', "
            "maxconcurrentrequests: %d}\nqueue: {max_alerts: 100000}\n"
            % (kc, pf, args.concurrency))
        ws.started.append(lan)
        conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=30)
        accepted = {}
        t0 = time.monotonic()
        for i in range(args.alerts):
            due = t0 + i / args.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            body = json.dumps({
                "output": "bench", "priority": "Critical", "rule": "bench miner",
                "time": "2026-11-28T12:00:00Z", "source": "syscall",
                "output_fields": {"k8s.ns.name": "bench",
                                  "k8s.pod.name": "app-%d-5d4f8c7b9-p" % i}})
            conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("POST / answered %d" % r.status)
            accepted["/apis/apps/v1/namespaces/bench/deployments/app-%d/scale" % i] = time.time()
        conn.close()

        def done():
            reqs = k8s.requests()
            got = {r["path"]: r["t_done"] for r in reqs
                   if r["method"] == "PATCH" and r["path"] in accepted}
            return got if len(got) == len(accepted) else None
        got = lanner_harness.wait_until(done, 120, step=0.5)
        if not got:
            raise RuntimeError("not every Deployment was scaled down")
        lat = [(got[p] - accepted[p]) * 1000.0 for p in accepted]
        print("alerts %d (distinct deployments), rate %.0f/s, concurrency %d" %
              (len(lat), args.rate, args.concurrency))
        print("alert accepted -> scale PATCH completed: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (pct(lat, 50), pct(lat, 99), max(lat)))
        return 0
    finally:
        ws.close()
        k8s.close()


if __name__ == "__main__":
    sys.exit(main())
