# SPDX-License-Identifier: Apache-2.0
"""Kubernetes audit detection end to end (issue 7): the upstream k8saudit rules validate with
zero errors; replaying each upstream sample raises exactly the alerts of ../shared/data/README.md;
lanner's own audit rules fire on the hand-written events and stay silent on their near-misses;
POST /k8s-audit (EventList, single Event, gzip) raises the same alerts at a local webhook
receiver, and malformed or oversized bodies get 4xx with a message without hurting lanner."""
import gzip
import json
import os
import subprocess
import unittest
import zlib

from lanner_harness import LANNER, Workspace, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../.."))
SHARED = os.path.normpath(os.path.join(ROOT, "../shared/data/k8saudit"))
UPSTREAM_RULES = os.path.join(SHARED, "k8s_audit_rules.yaml")
OWN = os.path.join(ROOT, "tests/data/k8saudit/lanner")
OVERRIDE = os.path.join(ROOT, "tests/data/k8saudit/disable_activity_rules.yaml")
OWN_RULES = os.path.join(ROOT, "rules/default/lanner_k8s_audit.yaml")

# ../shared/data/README.md: file -> (rule, priority, count)
UPSTREAM = {
    "exec_pod.json": ("Attach/Exec Pod", "Notice", 1),
    "create_nginx_pod_privileged.json": ("Create Privileged Pod", "Warning", 1),
    "create_nginx_service_nodeport.json": ("Create NodePort Service", "Warning", 1),
    "attach_cluster_admin_role.json": ("Attach to cluster-admin Role", "Warning", 1),
    "anonymous_creates_namespace_foo.json": ("Anonymous Request Allowed", "Warning", 1),
    "create_configmap_sensitive_values.json":
        ("Create/Modify Configmap With Private Credentials", "Warning", 6),
}


def tally(alerts):
    """{(rule, priority): count} of Falco JSON alerts."""
    out = {}
    for a in alerts:
        key = (a["rule"], a["priority"])
        out[key] = out.get(key, 0) + 1
    return out


def events_of(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def replay(*args):
    r = subprocess.run([LANNER, "replay", "--source", "k8s_audit"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines()], r.stderr


def rules_args(name):
    args = ["-r", UPSTREAM_RULES]
    if name == "create_configmap_sensitive_values.json":
        args += ["-r", OVERRIDE]
    return args


class ReplayTest(unittest.TestCase):
    def test_upstream_rules_validate(self):
        r = subprocess.run([LANNER, "rules", "validate", UPSTREAM_RULES], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("48 rules (48 enabled, 48 compiled), 0 errors", r.stdout + r.stderr)

    def test_upstream_samples(self):
        for name, (rule, prio, count) in UPSTREAM.items():
            with self.subTest(name):
                rc, alerts, err = replay(*rules_args(name), os.path.join(SHARED, name))
                self.assertEqual(rc, 0, err)
                self.assertEqual(tally(alerts), {(rule, prio): count}, err)
                for a in alerts:
                    self.assertEqual(a["source"], "k8s_audit")
                    self.assertEqual(a["tags"], ["k8s"])

    def test_configmap_without_override_is_the_same(self):
        # Falco's own test disables the generic activity rules; they are off in the stock
        # file anyway, so the count stays 6 without the override too.
        name = "create_configmap_sensitive_values.json"
        rc, alerts, err = replay("-r", UPSTREAM_RULES, os.path.join(SHARED, name))
        self.assertEqual(rc, 0, err)
        self.assertEqual(tally(alerts), {UPSTREAM[name][:2]: 6})

    def test_alert_content(self):
        rc, alerts, _ = replay("-r", UPSTREAM_RULES, os.path.join(SHARED, "exec_pod.json"))
        self.assertEqual(rc, 0)
        a = alerts[0]
        self.assertEqual(a["time"], "2018-10-26T13:38:34.902914000Z")
        self.assertEqual(a["output_fields"]["ka.uri.param[command]"], "bash")
        self.assertEqual(a["output_fields"]["ka.target.name"], "nginx-deployment-7998647bdf-phvq7")
        self.assertIn("Notice Attach/Exec to pod (user=minikube-user", a["output"])

    def test_own_rules(self):
        with open(os.path.join(OWN, "expected.json"), encoding="utf-8") as f:
            expected = json.load(f)
        self.assertEqual(len(expected), 20)
        covered = set()
        for name, want in sorted(expected.items()):
            for args in (["-r", OWN_RULES], []):  # the file, and the embedded defaults
                with self.subTest(name, args=args):
                    rc, alerts, err = replay(*args, os.path.join(OWN, name))
                    self.assertEqual(rc, 0, err)
                    self.assertEqual(
                        tally(alerts),
                        {(r, v["priority"]): v["count"] for r, v in want.items()}, err)
                    for a in alerts:
                        self.assertIn("lanner", a["tags"])
                        self.assertTrue(any(t.startswith("T1") for t in a["tags"]), a["tags"])
                        self.assertRegex(a["output"], r"user=\S+ verb=\S+ target=\S+ ns=")
            if name.endswith("_nearmiss.json"):
                self.assertEqual(want, {}, name)
            covered.update(want)
        self.assertEqual(len(covered), 10)  # every rule of lanner_k8s_audit.yaml fires somewhere

    def test_bad_lines_are_counted(self):
        with _Tmp() as tmp:
            path = os.path.join(tmp, "mixed.json")
            with open(os.path.join(SHARED, "exec_pod.json"), encoding="utf-8") as f:
                good = f.read().strip()
            with open(path, "w", encoding="utf-8") as f:
                f.write(good + "\n{not json\n\n{\"kind\":\"Pod\"}\n" + good + "\n")
            rc, alerts, err = replay("-r", UPSTREAM_RULES, path)
            self.assertEqual(rc, 1)
            self.assertEqual(len(alerts), 2)
            self.assertIn("2 events, 2 bad lines, 2 alerts", err)
            self.assertIn("mixed.json:2:", err)
            self.assertIn("mixed.json:4: not an audit Event", err)


class _Tmp:
    def __enter__(self):
        import tempfile
        self.d = tempfile.TemporaryDirectory(prefix="lanner-k8s-")
        return self.d.name

    def __exit__(self, *exc):
        self.d.cleanup()


class RouteTest(unittest.TestCase):
    """POST /k8s-audit on a running lanner with the upstream rules and a webhook receiver."""

    def setUp(self):
        self.ws = Workspace()
        self.rcv = self.ws.receiver()
        self.lan = self.ws.lanner(
            "webhook: {address: '%s'}\nretry: {initial: 100ms, max: 1s}\n"
            "http: {max_body: 64KiB}\nspool: {mode: memory}\n" % self.rcv.url("/"),
            args=["-r", UPSTREAM_RULES, "-r", OVERRIDE])

    def tearDown(self):
        self.ws.close()

    def post(self, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.lan.request("POST", "/k8s-audit", body=body, headers=h)

    def received(self, n):
        wait_until(lambda: self.rcv.count() >= n, 20)
        return [json.loads(r["body"]) for r in self.rcv.requests()]

    def test_samples_as_event_lists(self):
        total, want = 0, {}
        for i, (name, (rule, prio, count)) in enumerate(sorted(UPSTREAM.items())):
            body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                               "metadata": {}, "items": events_of(os.path.join(SHARED, name))})
            headers = {}
            if i == 0:
                body = gzip.compress(body.encode())
                headers = {"Content-Encoding": "gzip"}
            status, data, _ = self.post(body, headers)
            self.assertEqual(status, 200, data)
            summary = json.loads(data)
            self.assertEqual(summary["alerts"], count, name)
            self.assertEqual(summary["invalid"], 0)
            self.assertEqual(summary["rejected"], 0)
            total += count
            want[(rule, prio)] = count
        got = self.received(total)
        self.assertEqual(tally(got), want)
        for a in got:
            self.assertEqual(a["source"], "k8s_audit")
        # the same alerts as replay, field for field (uuid and hostname aside)
        rc, replayed, _ = replay(*rules_args("exec_pod.json"), os.path.join(SHARED, "exec_pod.json"))
        self.assertEqual(rc, 0)
        posted = [a for a in got if a["rule"] == "Attach/Exec Pod"][0]
        for key in ("output", "output_fields", "priority", "rule", "source", "tags", "time"):
            self.assertEqual(posted[key], replayed[0][key], key)
        m = self.lan.metrics()
        self.assertEqual(m['lanner_k8s_audit_events_total{status="evaluated"}'], 11)
        self.assertEqual(m['lanner_k8s_audit_requests_total{status="accepted"}'], 6)

    def test_single_event_and_deflate(self):
        ev = events_of(os.path.join(SHARED, "create_nginx_service_nodeport.json"))[0]
        status, data, _ = self.post(json.dumps(ev))
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data), {"events": 1, "invalid": 0, "alerts": 1, "rejected": 0})
        status, data, _ = self.post(zlib.compress(json.dumps(ev).encode()),
                                    {"Content-Encoding": "deflate"})
        self.assertEqual(status, 200, data)
        self.assertEqual(tally(self.received(2)), {("Create NodePort Service", "Warning"): 2})

    def test_bad_bodies(self):
        ev = events_of(os.path.join(SHARED, "exec_pod.json"))[0]
        cases = [
            (b"{not json", {}, 400, "invalid JSON"),
            (b"", {}, 400, "invalid JSON"),
            (b'{"kind":"Pod"}', {}, 400, "not an audit.k8s.io EventList or Event"),
            (b'{"kind":"EventList","items":7}', {}, 400, "not an audit.k8s.io EventList"),
            (b"[1,2]", {}, 400, "not an audit.k8s.io EventList or Event"),
            (b"not gzip at all", {"Content-Encoding": "gzip"}, 400, "invalid compressed body"),
            (gzip.compress(json.dumps(ev).encode())[:-12], {"Content-Encoding": "gzip"}, 400,
             "invalid compressed body"),
            (json.dumps(ev).encode(), {"Content-Encoding": "br"}, 415,
             "unsupported Content-Encoding"),
            # 64 KiB compressed, far more than 16 x 64 KiB once inflated
            (gzip.compress(b" " * (4 << 20)), {"Content-Encoding": "gzip"}, 413,
             "decompressed body exceeds the limit"),
        ]
        for body, headers, want, msg in cases:
            with self.subTest(msg, status=want):
                status, data, _ = self.post(body, headers)
                self.assertEqual(status, want, data)
                self.assertIn(msg, data.decode())
        # over http.max_body before decompression: the server's own 413
        status, _, _ = self.post(b" " * (65 * 1024))
        self.assertEqual(status, 413)
        # items that are not Events are counted and reported; the rest is evaluated
        body = json.dumps({"kind": "EventList", "items": [ev, {"kind": "Pod"}, 3, ev]})
        status, data, _ = self.post(body)
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data), {"events": 2, "invalid": 2, "alerts": 2, "rejected": 0})
        self.assertEqual(tally(self.received(2)), {("Attach/Exec Pod", "Notice"): 2})
        m = self.lan.metrics()
        self.assertEqual(m['lanner_k8s_audit_events_total{status="invalid"}'], 2)
        self.assertEqual(m['lanner_k8s_audit_requests_total{status="invalid"}'], 7)
        self.assertEqual(m['lanner_k8s_audit_requests_total{status="too_large"}'], 1)
        self.assertEqual(m['lanner_k8s_audit_requests_total{status="unsupported_encoding"}'], 1)
        self.assertTrue(self.lan.healthy())
        self.assertEqual(self.lan.stop(), 0)


if __name__ == "__main__":
    unittest.main()
