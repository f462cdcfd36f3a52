# SPDX-License-Identifier: Apache-2.0
"""Fleet through Kafka (issue 9): two agents (lanner with the kafka output, alerts POSTed to
them) produce 20,000 alerts into a 6-partition topic on librdkafka's mock cluster of 3 brokers;
two central lanner instances consume them as one group (kafka_input, disk spool, uuid dedup) and
deliver to one webhook receiver. Central A is kill -9ed mid-stream and started again on its
spool. A poison message sits in a partition.

What is asserted, and why (docs/fleet.md, "Duplicates"):
- the receiver has all 20,000 distinct uuids: offsets are committed only once an alert is in
  the spool, so what A had not made durable is replayed by the group, and what A had spooled is
  delivered by A's restart from its spool;
- no instance incarnation delivers a uuid twice (uuid dedup, per instance);
- no duplicates at the receiver, by design (docs/fleet.md, "Duplicates"), except the one
  irreducible window, identified exactly: alerts A1's webhook had delivered whose spool ack was
  not durable yet at the kill (the receiver got them, A1's spool still has them, with their
  offsets committed): A2 delivers them again. They are counted from A1's spool right after the
  kill and the duplicates must be among them.
- the poison message is skipped, counted, lands in the dead-letter topic, and its partition keeps
  flowing (every alert produced after it in that partition is delivered).
"""
import json
import os
import sqlite3
import signal
import subprocess
import sys
import threading
import time
import unittest
import uuid as uuidlib
import http.client

from lanner_harness import FALCO_JSON, Workspace, wait_until
from test_kafka import KCAT, KafkaMock

N_ALERTS = 20000
N_HOSTS = 120
POISON = b"this is not a Falco alert {"
HEADER = "X-Lanner-Central"


def alert_body(u, i):
    a = json.loads(FALCO_JSON)
    a["uuid"] = u
    a["hostname"] = "node-%d" % (i % N_HOSTS)
    return json.dumps(a, separators=(",", ":"))


def spool_in_doubt(path):
    """uuids a killed instance's spool still holds with a commit sent for their offset: its
    restart delivers them (the group committed past them); any of them its sinks had already
    delivered before the kill (ack not durable) is delivered twice. The spool is two files:
    path and path + ".1"."""
    held = set()
    for f in (path, path + ".1"):
        if not os.path.exists(f):
            continue
        db = sqlite3.connect(f)
        try:
            rows = db.execute("SELECT DISTINCT a.json FROM alerts a JOIN pending p ON "
                              "p.id = a.id WHERE a.origin_topic IS NOT NULL AND "
                              "a.origin_committing = 1")
            held |= set(json.loads(r[0])["uuid"] for r in rows)
        finally:
            db.close()
    return held


def metric_sum(lanners, prefix):
    total = 0.0
    for lan in lanners:
        try:
            m = lan.metrics()
        except (OSError, AssertionError, RuntimeError):
            continue
        total += sum(v for k, v in m.items() if k.startswith(prefix))
    return total


class FleetTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.mock = KafkaMock(brokers=3, topics=("alerts:6", "alerts-dlq:1"))

    def tearDown(self):
        self.ws.close()
        self.mock.close()

    def agent(self):
        return self.ws.lanner(
            "detector: {enabled: false}\n"
            "kafka:\n  hostport: '%s'\n  topic: alerts\n  balancer: murmur2\n"
            "  key: hostname\n" % self.mock.bootstrap)

    def central(self, name, receiver, spool=None):
        return self.ws.lanner(
            "detector: {enabled: false}\n"
            "kafka_input:\n"
            "  brokers: '%s'\n"
            "  topics: [alerts]\n"
            "  group: central\n"
            "  deadletter_topic: alerts-dlq\n"
            "  commit_interval: 200ms\n"
            "  properties:\n"
            "    session.timeout.ms: '6000'\n"
            "    heartbeat.interval.ms: '500'\n"
            "dedup:\n  uuid_window: 10m\n  max_entries: 100000\n"
            "webhook:\n  address: '%s'\n  customheaders: '%s:%s'\n"
            "  maxconcurrentrequests: 16\n"
            % (self.mock.bootstrap, receiver.url("/"), HEADER, name), spool=spool)

    def test_two_agents_two_centrals_kill_one(self):
        t0 = time.monotonic()
        rx = self.ws.receiver()
        agents = [self.agent(), self.agent()]
        a1 = self.central("A1", rx)
        b = self.central("B", rx)
        centrals = [a1, b]

        # The poison message goes first, into partition 2; everything after it must flow.
        r = subprocess.run([KCAT, "-b", self.mock.bootstrap, "-P", "-t", "alerts", "-p", "2"],
                           input=POISON + b"\n", capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_until(lambda: metric_sum(
            centrals, 'lanner_kafka_input_messages_total{topic="alerts",status="malformed"}')
            >= 1, 30, 0.2), a1.output() + b.output())

        uuids = [str(uuidlib.uuid4()) for _ in range(N_ALERTS)]
        errors = []

        def post(agent, idx):
            conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=30)
            try:
                for i in idx:
                    status, _, _ = agent.post_alert(alert_body(uuids[i], i), conn=conn)
                    if status != 200:
                        errors.append(status)
            except OSError as e:
                errors.append(repr(e))
            finally:
                conn.close()

        threads = []
        for k in range(4):
            idx = range(k, N_ALERTS, 4)
            t = threading.Thread(target=post, args=(agents[k % 2], idx), daemon=True)
            t.start()
            threads.append(t)

        # Mid-stream: kill -9 central A, start it again on the same spool.
        self.assertTrue(wait_until(lambda: rx.count() >= N_ALERTS // 4, 60, 0.05),
                        "receiver: %d\n%s\n%s" % (rx.count(), agents[0].output()[-3000:],
                                                 a1.output()[-3000:]))
        a1.proc.send_signal(signal.SIGKILL)
        a1.proc.wait()
        killed_at = rx.count()
        time.sleep(1.0)
        spooled_committed = spool_in_doubt(a1.spool)
        a2 = self.central("A2", rx, spool=a1.spool)
        centrals = [a2, b]

        for t in threads:
            t.join(120)
        print("fleet: posted in %.1f s" % (time.monotonic() - t0), file=sys.stderr)
        self.assertEqual(errors, [])

        def distinct():
            seen = set()
            for rec in rx.requests():
                seen.add(json.loads(rec["body"])["uuid"])
            return len(seen)

        wait_until(lambda: rx.count() >= N_ALERTS and distinct() >= N_ALERTS, 60, 0.5)
        recs = rx.requests()
        by_inst = {}
        delivered = []
        for rec in recs:
            u = json.loads(rec["body"])["uuid"]
            inst = dict((k.lower(), v) for k, v in rec["headers"]).get(HEADER.lower(), "?")
            by_inst.setdefault(inst, []).append(u)
            delivered.append(u)
        dist = set(delivered)
        missing = set(uuids) - dist
        self.assertEqual(len(missing), 0, "%d alerts never delivered (%.1f s)\n%s\n%s" % (
            len(missing), time.monotonic() - t0, a2.output()[-4000:], b.output()[-4000:]))
        self.assertEqual(dist, set(uuids))
        for inst, us in by_inst.items():
            self.assertEqual(len(us), len(set(us)),
                             "instance %s delivered %d uuid(s) twice" %
                             (inst, len(us) - len(set(us))))
        # Duplicates, by (instance that delivered it first, instance that delivered it again).
        first, pairs = {}, {}
        for rec in recs:
            u = json.loads(rec["body"])["uuid"]
            inst = dict((k.lower(), v) for k, v in rec["headers"]).get(HEADER.lower(), "?")
            if u in first:
                pairs.setdefault((first[u], inst), set()).add(u)
            else:
                first[u] = inst
        # The irreducible window: alerts A1's webhook had delivered (the receiver has them from
        # A1) while their spool ack was not durable yet at the kill, and whose offset A1 had
        # committed: A2 must deliver what its spool holds and the group will not replay, and
        # cannot know the receiver already has it. Bounded by the requests in flight at the
        # kill plus the acks not yet written.
        in_doubt = spooled_committed & set(by_inst.get("A1", ()))
        dups = len(delivered) - len(dist)
        print("fleet: %d delivered, %d distinct, %d duplicate(s) (by first->again: %s); "
              "in doubt at the kill: %d (A1 delivered, spool ack not durable); per instance: "
              "%s; receiver had %d when A was killed, %.1f s" %
              (len(delivered), len(dist), dups,
               {"%s->%s" % k: len(v) for k, v in pairs.items()}, len(in_doubt),
               {k: len(v) for k, v in by_inst.items()}, killed_at, time.monotonic() - t0),
              file=sys.stderr)
        # Zero duplicates, by design, except the in-doubt ones: nothing the group replays is
        # delivered twice (alerts go out only once their offset's commit is acknowledged; a
        # restart drops from its spool what the group replays; a revoke leaves what is not
        # committed to the new owner).
        for (a, b_), us in pairs.items():
            if (a, b_) == ("A1", "A2"):
                self.assertLessEqual(us, in_doubt,
                                     "A2 delivered again %d alert(s) A1 had delivered that were "
                                     "not in doubt" % len(us - in_doubt))
            else:
                self.fail("%d uuid(s) delivered by %s then again by %s" % (len(us), a, b_))

        # The poison message: counted, dead-lettered with its origin, skipped.
        dlq = [l for l in self.mock.command("dump alerts-dlq") if l.startswith("MSG ")]
        self.assertGreaterEqual(len(dlq), 1)
        self.assertEqual(bytes.fromhex(dlq[0].split()[4]), POISON)
        for lan in agents + centrals:
            self.assertIsNone(lan.proc.poll(), lan.output())
        self.assertEqual(b.stop(), 0, b.output())
        self.assertEqual(a2.stop(), 0, a2.output())
        self.assertIn("kafka_input: closed", b.output())


if __name__ == "__main__":
    unittest.main()
