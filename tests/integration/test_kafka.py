# SPDX-License-Identifier: Apache-2.0
"""The kafka output end to end: lanner -> librdkafka's mock cluster (tests/tools/kafka_mock, the
real Kafka protocol on loopback ports) -> read back with kcat. Issue 5's acceptance tests: every
alert arrives once with its exact JSON; brokers down for 10 s while 5,000 alerts arrive, and all
5,000 land afterwards."""
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import uuid as uuidlib

from lanner_harness import FALCO_JSON, LANNER, Workspace, free_port, wait_until

KAFKA_MOCK = os.environ.get(
    "KAFKA_MOCK", os.path.join(os.path.dirname(os.path.abspath(LANNER)), "..", "tests", "tools",
                               "kafka_mock"))
KCAT = shutil.which("kcat") or shutil.which("kafkacat")


class KafkaMock:
    """tests/tools/kafka_mock: a mock cluster, commands on stdin (see kafka_mock.c)."""

    def __init__(self, brokers=3, topics=("alerts:4",)):
        args = [KAFKA_MOCK, "-b", str(brokers)]
        for t in topics:
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("BOOTSTRAP "):
            raise RuntimeError("kafka_mock did not start: %r" % line)
        self.bootstrap = line.split()[1]

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = []
        while True:
            r = self.proc.stdout.readline()
            if not r:
                raise RuntimeError("kafka_mock exited")
            if r.startswith("OK") or r.startswith("ERR"):
                if r.startswith("ERR"):
                    raise RuntimeError("kafka_mock: %s (after %r)" % (r.strip(), line))
                return out
            out.append(r.rstrip("\n"))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def kcat_read(bootstrap, topic):
    """Every message of topic as (partition, key, value), read with kcat from the beginning."""
    r = subprocess.run([KCAT, "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-o", "beginning",
                        "-f", "%p\t%k\t%s\n"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("kcat failed (%d): %s" % (r.returncode, r.stderr))
    out = []
    for line in r.stdout.splitlines():
        if line:
            p, k, v = line.split("\t", 2)
            out.append((int(p), k, v))
    return out


def with_uuid(u, body=FALCO_JSON):
    """A Falco alert carrying its uuid: lanner keeps it, so its canonical JSON is this body."""
    return body[:-1] + ',"uuid":"%s"}' % u


def kafka_ok(lan):
    m = lan.metrics()
    return m.get('falcosecurity_falcosidekick_outputs_total{destination="kafka",status="ok"}', 0)


class KafkaTest(unittest.TestCase):
    def setUp(self):
        if not KCAT:
            self.fail("kcat is not installed (scripts/deps.sh installs it)")
        if not os.access(KAFKA_MOCK, os.X_OK):
            self.fail("%s is not built (target kafka_mock)" % KAFKA_MOCK)
        self.ws = Workspace()
        self.mock = None

    def tearDown(self):
        self.ws.close()
        if self.mock:
            self.mock.close()

    def lanner(self, extra=""):
        return self.ws.lanner("kafka:\n  hostport: '%s'\n  topic: alerts\n%s"
                              % (self.mock.bootstrap, extra))

    def test_every_alert_arrives_once_with_its_exact_json(self):
        self.mock = KafkaMock()
        lan = self.lanner()
        expected = {}
        conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=10)
        for _ in range(50):
            u = str(uuidlib.uuid4())
            status, body, _ = lan.post_alert(with_uuid(u), conn=conn)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["uuid"], u)
            expected[u] = with_uuid(u)
        conn.close()
        self.assertTrue(wait_until(lambda: kafka_ok(lan) == 50, 20), lan.output())
        got = kcat_read(self.mock.bootstrap, "alerts")
        self.assertEqual(len(got), 50)
        values = sorted(v for _, _, v in got)
        self.assertEqual(values, sorted(expected.values()))
        # Default key: the alert's hostname. Default balancer round_robin: every partition used.
        self.assertEqual({k for _, k, _ in got}, {"node-1"})
        self.assertEqual({p for p, _, _ in got}, {0, 1, 2, 3})

    def test_key_and_hash_balancer(self):
        self.mock = KafkaMock()
        lan = self.lanner("  key: field:proc.name\n  balancer: murmur2\n  compression: LZ4\n")
        names = ["cat", "bash", "nginx", "sshd"]
        for i in range(40):
            body = FALCO_JSON.replace('"proc.name":"cat"', '"proc.name":"%s"' % names[i % 4])
            self.assertEqual(lan.post_alert(body)[0], 200)
        self.assertTrue(wait_until(lambda: kafka_ok(lan) == 40, 20), lan.output())
        got = kcat_read(self.mock.bootstrap, "alerts")
        self.assertEqual(len(got), 40)
        by_key = {}
        for p, k, v in got:
            self.assertEqual(json.loads(v)["output_fields"]["proc.name"], k)
            by_key.setdefault(k, set()).add(p)
        self.assertEqual(set(by_key), set(names))
        # murmur2 is consistent: one partition per key.
        for k, parts in by_key.items():
            self.assertEqual(len(parts), 1, (k, parts))

    def test_brokers_down_10s_while_5000_alerts_arrive(self):
        self.mock = KafkaMock()
        # Short librdkafka timeout: messages time out during the outage and come back through
        # the pipeline's retry with backoff, which is the path under test.
        lan = self.lanner("  timeout: 3s\n  maxconcurrentrequests: 1000\n"
                          "  properties: {reconnect.backoff.max.ms: '1000'}\n"
                          "retry: {initial: 200ms, max: 2s}\n")
        sent = set()
        conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=10)
        for _ in range(100):
            u = str(uuidlib.uuid4())
            self.assertEqual(lan.post_alert(with_uuid(u), conn=conn)[0], 200)
            sent.add(u)
        self.assertTrue(wait_until(lambda: kafka_ok(lan) == 100, 20), lan.output())

        self.mock.command("down")
        down_at = time.monotonic()
        for _ in range(5000):
            u = str(uuidlib.uuid4())
            status, body, _ = lan.post_alert(with_uuid(u), conn=conn)
            self.assertEqual(status, 200, body)
            sent.add(u)
        conn.close()
        posted_in = time.monotonic() - down_at
        # The brokers stay down for 10 s, or for as long as posting takes on a loaded machine:
        # every one of the 5,000 alerts arrives during the outage either way.
        time.sleep(max(0, 10 - (time.monotonic() - down_at)))
        retries = lan.metrics().get('lanner_retries_total{sink="kafka"}', 0)
        self.mock.command("up")
        up_at = time.monotonic()

        def landed():
            return {json.loads(v)["uuid"] for _, _, v in kcat_read(self.mock.bootstrap, "alerts")}

        self.assertTrue(wait_until(lambda: kafka_ok(lan) >= 5100, 40, step=0.5), lan.output())
        recovered_in = time.monotonic() - up_at
        got = kcat_read(self.mock.bootstrap, "alerts")
        uuids = [json.loads(v)["uuid"] for _, _, v in got]
        self.assertEqual(set(uuids), sent)
        self.assertGreater(retries, 0, "the outage was never seen as a failure")
        print("\nkafka outage: 5000 alerts posted in %.1fs; %d retries during the outage; "
              "all %d delivered %.1fs after the brokers came back; %d duplicate(s)"
              % (posted_in, retries, len(sent), recovered_in, len(uuids) - len(set(uuids))),
              file=sys.stderr)
        self.assertEqual(landed(), sent)

    def test_refused_message_is_not_retried(self):
        self.mock = KafkaMock()
        lan = self.lanner("retry: {initial: 100ms, max: 500ms}\n")
        # The next produce requests are refused as too large: permanent, counted as errors.
        self.mock.command("errors 0 10 50")
        self.assertEqual(lan.post_alert(with_uuid(str(uuidlib.uuid4())))[0], 200)
        key = 'falcosecurity_falcosidekick_outputs_total{destination="kafka",status="error"}'
        self.assertTrue(wait_until(lambda: lan.metrics().get(key, 0) == 1, 20), lan.output())
        time.sleep(1)
        m = lan.metrics()
        self.assertEqual(m.get('lanner_retries_total{sink="kafka"}', 0), 0)
        self.assertEqual(m.get(key), 1)
        self.assertIn("Message size too large", lan.output())

    def test_topic_creation(self):
        self.mock = KafkaMock(topics=())
        lan = self.ws.lanner("kafka:\n  hostport: '%s'\n  topic: fresh\n  topiccreation: true\n"
                             % self.mock.bootstrap)
        u = str(uuidlib.uuid4())
        self.assertEqual(lan.post_alert(with_uuid(u))[0], 200)
        self.assertTrue(wait_until(lambda: kafka_ok(lan) == 1, 20), lan.output())
        self.assertEqual([v for _, _, v in kcat_read(self.mock.bootstrap, "fresh")],
                         [with_uuid(u)])

    def test_bad_librdkafka_property_stops_lanner_with_the_reason(self):
        self.mock = KafkaMock()
        cfg = os.path.join(self.ws.tmp.name, "bad.yaml")
        with open(cfg, "w") as f:
            f.write("listenaddress: 127.0.0.1\nlistenport: %d\nstdout: {enabled: false}\n"
                    "kafka:\n  hostport: '%s'\n  topic: alerts\n"
                    "  properties: {linger.ms: forever}\n" % (free_port(), self.mock.bootstrap))
        r = subprocess.run([LANNER, "-c", cfg], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("librdkafka refused linger.ms=forever", r.stderr)
        self.assertIn("bad.yaml", r.stderr)


if __name__ == "__main__":
    unittest.main()
