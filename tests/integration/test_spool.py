# SPDX-License-Identifier: Apache-2.0
"""The durable spool end to end: lanner is killed with SIGKILL while 10,000 accepted alerts wait
for a webhook that is down; restarted with the receiver up, it delivers all of them."""
import http.client
import json
import signal
import subprocess
import time
import unittest

from lanner_harness import LANNER, Workspace, free_port, wait_until

N = 10000


def body(i):
    return json.dumps({"priority": "Warning", "rule": "spooled", "time": "2025-05-07T12:50:34Z",
                       "output": "alert %d" % i, "output_fields": {"n": i}})


class SpoolTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def test_kill_9_with_10000_spooled_then_restart_delivers_all(self):
        rport = free_port()
        yaml = ("webhook: {address: 'http://127.0.0.1:%d/', maxconcurrentrequests: 32}\n"
                "retry: {initial: 200ms, max: 1s}\n" % rport)
        lan = self.ws.lanner(yaml)
        conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=10)
        sent = set()
        for i in range(N):
            status, data, _ = lan.post_alert(body(i), conn=conn)
            self.assertEqual(status, 200, data)
            sent.add(json.loads(data)["uuid"])
        conn.close()
        # Every 200 above was answered after the alert's spool transaction committed.
        lan.proc.send_signal(signal.SIGKILL)
        lan.proc.wait()

        stats = subprocess.run([LANNER, "spool", "stats", "--path", lan.spool],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(stats.returncode, 0, stats.stderr)
        self.assertRegex(stats.stdout, r"webhook\s+%d\s" % N)

        rcv = self.ws.receiver(port=rport)
        lan2 = self.ws.lanner(yaml, spool=lan.spool)

        def delivered():
            return {json.loads(r["body"])["uuid"] for r in rcv.requests() if r["status"] == 200}
        self.assertTrue(wait_until(lambda: len(delivered()) >= N, 120, 0.5), len(delivered()))
        self.assertEqual(delivered(), sent)
        self.assertIn("left from a previous run", lan2.output())
        # Delivered means forgotten: the spool is empty once the acks are written.
        self.assertEqual(lan2.stop(), 0, lan2.output())
        stats = subprocess.run([LANNER, "spool", "stats", "--path", lan.spool],
                               capture_output=True, text=True, timeout=60)
        self.assertIn("(nothing waiting)", stats.stdout)

    def test_memory_mode_keeps_nothing_on_disk(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner("spool: {mode: memory}\nwebhook: {address: '%s'}\n" % rcv.url())
        self.assertEqual(lan.post_alert(body(1))[0], 200)
        self.assertTrue(wait_until(lambda: rcv.count() == 1, 30))


if __name__ == "__main__":
    unittest.main()
