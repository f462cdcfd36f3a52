# SPDX-License-Identifier: Apache-2.0
"""The gateway end to end: real lanner processes and a real local HTTP receiver on 127.0.0.1.
Issue 2's acceptance tests: byte-compatible forwarding, retries, Retry-After, an outage with
1,000 alerts, bad bodies, metrics, signals, configuration errors."""
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest

from lanner_harness import FALCO_JSON, LANNER, Workspace, free_port, wait_until

FAST_RETRY = "retry: {initial: 100ms, max: 1s}\n"


def webhook_yaml(receiver, extra="", webhook=""):
    """Config with the webhook output pointing at receiver; `webhook` adds keys to its section."""
    return "webhook: {address: '%s'%s}\n%s%s" % (receiver.url("/"), ", " + webhook if webhook else "",
                                                FAST_RETRY, extra)


def alert_body(rule="Some rule", priority="Warning", **fields):
    return json.dumps({
        "output": "12:00:00.000000000: %s something" % priority,
        "priority": priority,
        "rule": rule,
        "time": "2025-05-07T12:50:34.502309868Z",
        "output_fields": fields or {"proc.name": "cat"},
        "tags": ["b", "a"],
    })


class GatewayTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def test_forwards_falco_json_byte_for_byte_plus_uuid(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner(webhook_yaml(rcv))
        status, body, _ = lan.post_alert(FALCO_JSON)
        self.assertEqual(status, 200, body)
        uuid = json.loads(body)["uuid"]
        self.assertTrue(wait_until(lambda: rcv.count() == 1, 30))
        got = rcv.requests()[0]
        self.assertEqual(got["method"], "POST")
        self.assertEqual(got["body"], FALCO_JSON[:-1] + ',"uuid":"%s"}' % uuid)
        headers = {k.lower(): v for k, v in got["headers"]}
        self.assertEqual(headers["content-type"], "application/json")

    def test_500_three_times_then_200_delivers_on_the_fourth_and_no_fifth(self):
        rcv = self.ws.receiver("--fail-first", "3")
        lan = self.ws.lanner(webhook_yaml(rcv))
        status, body, _ = lan.post_alert(alert_body())
        self.assertEqual(status, 200)
        self.assertTrue(wait_until(lambda: rcv.count() == 4, 30), rcv.count())
        time.sleep(2.0)
        reqs = rcv.requests()
        self.assertEqual(len(reqs), 4)
        self.assertEqual([r["status"] for r in reqs], [500, 500, 500, 200])
        self.assertEqual(len({r["body"] for r in reqs}), 1)
        m = lan.metrics()
        self.assertEqual(m['lanner_retries_total{sink="webhook"}'], 3)
        self.assertEqual(
            m['falcosecurity_falcosidekick_outputs_total{destination="webhook",status="ok"}'], 1)

    def test_429_retry_after_is_honoured(self):
        rcv = self.ws.receiver("--status-429-first", "1", "--retry-after", "1")
        lan = self.ws.lanner(webhook_yaml(rcv))
        lan.post_alert(alert_body())
        self.assertTrue(wait_until(lambda: rcv.count() >= 2, 30))
        reqs = rcv.requests()
        # The first answer was 429 Retry-After: 1; the backoff alone would be 50-100 ms. Timed
        # by the receiver's arrival stamps, not by polling it (late on a busy machine).
        self.assertGreaterEqual(reqs[1]["t"] - reqs[0]["t"], 0.95)
        self.assertEqual([r["status"] for r in rcv.requests()], [429, 200])

    def test_receiver_down_10s_while_1000_alerts_arrive(self):
        port = free_port()
        lan = self.ws.lanner("webhook: {address: 'http://127.0.0.1:%d/'}\n"
                             "retry: {initial: 200ms, max: 2s}\n" % port)
        start = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=10)
        sent = set()
        for i in range(1000):
            status, body, _ = lan.post_alert(alert_body(rule="outage", n=i), conn=conn)
            self.assertEqual(status, 200)
            sent.add(json.loads(body)["uuid"])
        conn.close()
        self.assertEqual(len(sent), 1000)
        time.sleep(max(0.0, 10.0 - (time.monotonic() - start)))
        rcv = self.ws.receiver(port=port)

        def delivered():
            return {json.loads(r["body"])["uuid"] for r in rcv.requests() if r["status"] == 200}
        self.assertTrue(wait_until(lambda: len(delivered()) >= 1000, 60, 0.2),
                        len(delivered()))
        self.assertEqual(delivered(), sent)
        m = lan.metrics()
        self.assertEqual(m.get('lanner_queue_depth{sink="webhook"}'), 0)

    def test_bad_bodies_get_the_right_4xx_and_a_message(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner(webhook_yaml(rcv, "http: {max_body: 64KiB}\n"))
        cases = [
            (b'{"priority": "Warning", "rule": ', 400, b"invalid JSON at line 1"),
            (b'{"priority": "Warning"', 400, b"invalid JSON"),
            (b"not json at all", 400, b"invalid JSON"),
            (b'{"priority": 5, "rule": "r", "time": "2025-05-07T12:50:34Z", '
             b'"output_fields": {}}', 400, b"priority: expected a string"),
            (b'{"priority": "Loud", "rule": "r", "time": "2025-05-07T12:50:34Z", '
             b'"output_fields": {}}', 400, b"priority: unknown priority 'Loud'"),
            (b'{"priority": "Warning", "time": "2025-05-07T12:50:34Z", '
             b'"output_fields": {}}', 400, b"rule: missing or empty"),
            (b'{"priority": "Warning", "rule": "r", "output_fields": {}}', 400,
             b"time: missing"),
            (b'{"priority": "Warning", "rule": "r", "time": "2025-05-07T12:50:34Z"}', 400,
             b"output_fields: missing"),
            (b'{"priority": "Warning", "rule": "caf\xe9", "time": "2025-05-07T12:50:34Z", '
             b'"output_fields": {}}', 400, b"invalid JSON"),
            (b"", 400, b"empty body"),
            (b'{"priority": "Warning", "rule": "r", "time": "2025-05-07T12:50:34Z", '
             b'"output_fields": {}, "pad": "' + b"x" * 70000 + b'"}', 413, b""),
        ]
        for body, want, msg in cases:
            status, data, _ = lan.post_alert(body)
            self.assertEqual(status, want, (body[:60], data))
            self.assertIn(msg, data, (body[:60], data))
        status, _, headers = lan.request("GET", "/")
        self.assertEqual(status, 405)
        self.assertIn("POST", headers.get("Allow", headers.get("allow", "")))
        status, _, _ = lan.request("GET", "/nope")
        self.assertEqual(status, 404)
        # Nothing reached the output, and lanner is still healthy.
        time.sleep(0.3)
        self.assertEqual(rcv.count(), 0)
        self.assertTrue(lan.healthy())
        m = lan.metrics()
        self.assertEqual(
            m['falcosecurity_falcosidekick_inputs_total{source="requests",status="rejected"}'],
            len(cases) - 1)  # the 413 is refused before the route sees it

    def test_json_lines_body_is_a_batch_all_or_nothing(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner(webhook_yaml(rcv))
        lines = [alert_body(rule="batch-%d" % i) for i in range(50)]
        body = ("\n".join(lines) + "\n\n").encode()
        status, data, _ = lan.request("POST", "/", body=body,
                                      headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual((status, json.loads(data)), (200, {"accepted": 50}), data)
        self.assertTrue(wait_until(lambda: rcv.count() == 50, 30), rcv.count())
        got = sorted(json.loads(r["body"])["rule"] for r in rcv.requests())
        self.assertEqual(got, sorted("batch-%d" % i for i in range(50)))
        self.assertEqual(len({json.loads(r["body"])["uuid"] for r in rcv.requests()}), 50)
        # One bad line (the third, counting the blank one) rejects the whole request.
        bad = (lines[0] + "\n\n" + '{"priority": "Loud", "rule": "r", "time": '
               '"2025-05-07T12:50:34Z", "output_fields": {}}\n' + lines[1]).encode()
        status, data, _ = lan.request("POST", "/", body=bad,
                                      headers={"Content-Type": "application/jsonl"})
        self.assertEqual(status, 400, data)
        self.assertIn(b"line 3: priority: unknown priority 'Loud'", data)
        for empty in (b"\n \n", b""):
            status, data, _ = lan.request("POST", "/", body=empty,
                                          headers={"Content-Type": "application/x-ndjson"})
            self.assertEqual(status, 400, data)
            self.assertIn(b"empty body: expected Falco JSON alerts, one per line", data)
        time.sleep(0.3)
        self.assertEqual(rcv.count(), 50)
        m = lan.metrics()
        self.assertEqual(
            m['falcosecurity_falcosidekick_inputs_total{source="requests",status="accepted"}'], 50)
        self.assertEqual(
            m['falcosecurity_falcosidekick_inputs_total{source="requests",status="rejected"}'], 3)

    def test_endpoints_and_metrics_match_what_happened(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner(webhook_yaml(rcv, "customfields: {env: prod}\n",
                                          webhook="minimumpriority: error"))
        status, data, _ = lan.request("GET", "/healthz")
        self.assertEqual((status, data), (200, b'{"status": "ok"}'))
        status, data, _ = lan.request("GET", "/ping")
        self.assertEqual((status, data), (200, b"pong\n"))
        for prio in ("Warning", "Error", "Critical", "Notice"):
            self.assertEqual(lan.post_alert(alert_body(rule="r-" + prio, priority=prio))[0], 200)
        # The test alert is Debug but bypasses minimumpriority.
        self.assertEqual(lan.request("POST", "/test")[0], 200)
        self.assertTrue(wait_until(lambda: rcv.count() == 3, 30), rcv.count())
        time.sleep(0.3)
        bodies = [json.loads(r["body"]) for r in rcv.requests()]
        self.assertEqual(sorted(b["rule"] for b in bodies), ["Test rule", "r-Critical", "r-Error"])
        for b in bodies:
            self.assertEqual(b["output_fields"]["env"], "prod")
        test = [b for b in bodies if b["rule"] == "Test rule"][0]
        self.assertEqual(test["priority"], "Debug")
        self.assertEqual(test["source"], "internal")
        self.assertEqual(test["tags"], ["example", "test"])
        m = lan.metrics()
        self.assertEqual(
            m['falcosecurity_falcosidekick_inputs_total{source="requests",status="accepted"}'], 4)
        self.assertEqual(
            m['falcosecurity_falcosidekick_inputs_total{source="test",status="accepted"}'], 1)
        self.assertEqual(
            m['falcosecurity_falcosidekick_outputs_total{destination="webhook",status="ok"}'], 3)
        host = bodies[0]["hostname"]
        self.assertEqual(m['falcosecurity_falcosidekick_falco_events_total{rule="r-Notice",'
                           'priority="Notice",source="syscalls",hostname="%s"}' % host], 1)

    def test_sigterm_drains_in_flight_deliveries_and_exits_0(self):
        rcv = self.ws.receiver("--delay-ms", "300")
        lan = self.ws.lanner(webhook_yaml(rcv, webhook="maxconcurrentrequests: 2"))
        for i in range(6):
            self.assertEqual(lan.post_alert(alert_body(n=i))[0], 200)
        self.assertEqual(lan.stop(signal.SIGTERM), 0, lan.output())
        self.assertEqual(rcv.count(), 6)
        self.assertIn("stopped", lan.output())

    def test_sigterm_while_alerts_arrive_loses_none_it_accepted(self):
        # POST / bodies are parsed on a thread of their own: a signal that comes while some are
        # out for parsing must neither lose them nor trip the exit. Whatever the timing, lanner
        # exits 0, every alert answered 200 is delivered, the others got 503 or a closed
        # connection.
        rcv = self.ws.receiver()
        lan = self.ws.lanner(webhook_yaml(rcv))
        accepted, other, lock = set(), [], threading.Lock()
        go = threading.Event()

        def client(k):
            conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=30)
            for i in range(100000):
                try:
                    status, body, _ = lan.post_alert(alert_body(rule="drain", k=k, n=i),
                                                     conn=conn)
                except (OSError, http.client.HTTPException):
                    break
                with lock:
                    if status == 200:
                        accepted.add(json.loads(body)["uuid"])
                        if len(accepted) >= 200:
                            go.set()
                    else:
                        other.append(status)
                if status != 200:
                    break
            conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        self.assertTrue(go.wait(120), len(accepted))
        self.assertEqual(lan.stop(signal.SIGTERM), 0, lan.output())
        for t in threads:
            t.join(60)
        self.assertEqual(set(other) - {503}, set(), other)
        delivered = {json.loads(r["body"])["uuid"] for r in rcv.requests() if r["status"] == 200}
        self.assertEqual(accepted - delivered, set())
        self.assertIn("stopped", lan.output())

    def test_bearer_token(self):
        lan = self.ws.lanner("http: {bearer_token: s3cret}\n")
        self.assertEqual(lan.request("GET", "/healthz")[0], 200)
        self.assertEqual(lan.post_alert(alert_body())[0], 401)
        status, _, _ = lan.request("POST", "/", body=alert_body(),
                                   headers={"Authorization": "Bearer s3cret"})
        self.assertEqual(status, 200)


class CliTest(unittest.TestCase):
    def run_lanner(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([LANNER] + list(args), capture_output=True, text=True, env=e,
                              timeout=60)

    def test_version_and_help(self):
        r = self.run_lanner("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^lanner \d+\.\d+\.\d+")
        r = self.run_lanner("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("-o KEY=VALUE", r.stdout)
        r = self.run_lanner("--bogus")
        self.assertEqual(r.returncode, 2)

    def test_config_errors_stop_before_anything_starts(self):
        ws = Workspace()
        try:
            cfg = os.path.join(ws.tmp.name, "bad.yaml")
            with open(cfg, "w") as f:
                f.write("listenaddress: 127.0.0.1\n"
                        "webhok:\n  address: http://127.0.0.1:1/\n"
                        "listenport: abc\n")
            r = self.run_lanner("-c", cfg, "--dry-run")
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stderr, re.escape(cfg) + r":4: error: listenport")
            self.assertIn("did you mean webhook", r.stderr)
            # A good value from -o wins over the bad one in the file.
            r = self.run_lanner("-c", cfg, "-o", "listenport=2999", "--dry-run")
            self.assertEqual(r.returncode, 0, r.stderr)
            # The environment sits between the file and -o.
            r = self.run_lanner("-c", cfg, "--dry-run", env={"LISTENPORT": "3000"})
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.run_lanner("-c", cfg, "--dry-run", "-o", "listenport=x",
                                env={"LISTENPORT": "3000"})
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("-o listenport=x", r.stderr)
        finally:
            ws.close()

    def test_port_in_use_is_a_clear_error(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            r = self.run_lanner("-o", "listenaddress=127.0.0.1", "-o", "listenport=%d" % port,
                                "-o", "stdout.enabled=false")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("cannot listen on 127.0.0.1:%d" % port, r.stderr)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
