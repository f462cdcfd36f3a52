#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fleet benchmark (issue 9): end-to-end alerts/s agent -> Kafka -> central -> webhook, with the
consumer lag printed over time, next to the single-process POST / -> webhook figure measured in
the same run on the same machine.

    tests/bench/fleet/fleet_bench.py [--lanner BIN] [--mock BIN] [-n ALERTS] [--senders N]

Setup: librdkafka's mock cluster (tests/tools/kafka_mock, 3 brokers, topic of 6 partitions);
2 agents (kafka output, key hostname, murmur2); 2 centrals in one group (kafka_input, disk
spool); one webhook receiver (tests/integration/receiver.py). Alerts are POSTed to the agents by
--senders keep-alive connections. The figure is alerts delivered to the receiver per second,
from the first POST to the last delivery. Lag: sum of lanner_kafka_input_lag over both centrals
(high watermark - committed offset), sampled every 0.5 s.

Baseline: one lanner, POST / -> webhook, same receiver, same number of alerts and senders.
The receiver (Python) is part of both paths; read the two figures as a ratio.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))

import lanner_harness  # noqa: E402
from lanner_harness import FALCO_JSON, Workspace, wait_until  # noqa: E402


def body(u, i):
    a = json.loads(FALCO_JSON)
    a["uuid"] = u
    a["hostname"] = "node-%d" % (i % 500)
    return json.dumps(a, separators=(",", ":"))


def post_all(targets, n, senders):
    uuids = [str(uuidlib.uuid4()) for _ in range(n)]
    errors = []

    def run(lan, idx):
        c = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=30)
        for i in idx:
            st, _, _ = lan.post_alert(body(uuids[i], i), conn=c)
            if st != 200:
                errors.append(st)
        c.close()

    th = [threading.Thread(target=run, args=(targets[k % len(targets)],
                                             range(k, n, senders)), daemon=True)
          for k in range(senders)]
    for t in th:
        t.start()
    return th, errors


def lag(centrals):
    total = 0
    for c in centrals:
        try:
            m = c.metrics()
        except Exception:
            continue
        total += sum(v for k, v in m.items() if k.startswith("lanner_kafka_input_lag{"))
    return int(total)


def baseline(ws, n, senders):
    rx = ws.receiver()
    lan = ws.lanner("detector: {enabled: false}\nwebhook: {address: '%s', "
                    "maxconcurrentrequests: 16}\n" % rx.url("/"))
    t0 = time.monotonic()
    th, errors = post_all([lan], n, senders)
    for t in th:
        t.join()
    wait_until(lambda: rx.count() >= n, 600, 0.1)
    dt = time.monotonic() - t0
    return n / dt, dt, errors


def fleet(ws, mock_bin, n, senders):
    sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))
    os.environ["KAFKA_MOCK"] = mock_bin
    import test_kafka
    test_kafka.KAFKA_MOCK = mock_bin
    mock = test_kafka.KafkaMock(brokers=3, topics=("alerts:6",))
    try:
        rx = ws.receiver()
        agents = [ws.lanner("detector: {enabled: false}\nkafka: {hostport: '%s', topic: alerts, "
                            "key: hostname, balancer: murmur2}\n" % mock.bootstrap)
                  for _ in range(2)]
        centrals = [ws.lanner(
            "detector: {enabled: false}\n"
            "kafka_input:\n  brokers: '%s'\n  topics: [alerts]\n  group: bench\n"
            "webhook: {address: '%s', maxconcurrentrequests: 16}\n"
            % (mock.bootstrap, rx.url("/"))) for _ in range(2)]
        # Both centrals own partitions before the clock starts.
        wait_until(lambda: all("assigned" in c.output() for c in centrals), 30, 0.2)
        t0 = time.monotonic()
        th, errors = post_all(agents, n, senders)
        samples = []
        while rx.count() < n and time.monotonic() - t0 < 600:
            samples.append((time.monotonic() - t0, rx.count(), lag(centrals)))
            print("  t=%5.1fs delivered=%6d lag=%6d" % samples[-1], flush=True)
            time.sleep(0.5)
        for t in th:
            t.join()
        dt = time.monotonic() - t0
        return n / dt, dt, errors, samples
    finally:
        mock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lanner", default=lanner_harness.LANNER)
    ap.add_argument("--mock", default=os.path.join(
        os.path.dirname(os.path.abspath(lanner_harness.LANNER)), "..", "tests", "tools",
        "kafka_mock"))
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--senders", type=int, default=4)
    a = ap.parse_args()
    lanner_harness.LANNER = a.lanner
    ws = Workspace()
    try:
        print("baseline: POST / -> lanner -> webhook, %d alerts, %d senders" %
              (a.n, a.senders), flush=True)
        b_rate, b_dt, b_err = baseline(ws, a.n, a.senders)
        print("baseline: %.0f alerts/s (%.1f s, %d errors)" % (b_rate, b_dt, len(b_err)),
              flush=True)
        print("fleet: POST / -> 2 agents -> Kafka (3 brokers, 6 partitions) -> 2 centrals -> "
              "webhook", flush=True)
        f_rate, f_dt, f_err, _ = fleet(ws, os.path.abspath(a.mock), a.n, a.senders)
        print("fleet: %.0f alerts/s (%.1f s, %d errors)" % (f_rate, f_dt, len(f_err)))
        print("ratio fleet/baseline: %.2f" % (f_rate / b_rate))
    finally:
        ws.close()


if __name__ == "__main__":
    main()
