# SPDX-License-Identifier: Apache-2.0
"""The web UI's API (docs/ui-api.md) end to end: 10,000 known alerts POSTed through `POST /`,
then every filter and every grouping checked against counts computed here; pagination while
alerts arrive; retention by age and by size; authentication; the live stream."""
import base64
import collections
import http.client
import json
import os
import random
import subprocess
import threading
import time
import unittest
import urllib.parse

from lanner_harness import LANNER, Workspace, free_port, wait_until

PRIOS = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational",
         "Debug"]
RULES = ["Read sensitive file", "Shell in container", "Write below etc", "Netcat remote exec",
         "Launch privileged container", "Modify shell config", "Clear log activities",
         "Packet socket created", "Create symlink over sensitive files", "Drift detected",
         "Contact K8S API server", "Terminal shell in pod"]
SOURCES = ["syscall", "k8s_audit", "aws_cloudtrail"]
HOSTS = ["node-a", "node-b", "node-c", "node-d", "node-e"]
TAGS = ["container", "host", "mitre_execution", "T1059", "filesystem", "network"]
PROCS = ["bash", "sh", "nc", "cat", "python3", "curl"]
WORDS = ["shadow", "passwd", "kube", "docker", "xz", "Token", "secret"]
USER, PASSWORD, TOKEN = "admin", "correct horse battery", "t0k3n-for-tests"
N = 10000


def auth_basic(user=USER, password=PASSWORD):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def rfc3339(ns):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%09dZ" % (ns % 10**9)


def make_alerts(n, now_ns, seed, span_s=7200, source=None):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = now_ns - rnd.randrange(span_s * 10**9)
        words = rnd.sample(WORDS, 2)
        a = {
            "rule": rnd.choice(RULES),
            "priority": rnd.choice(PRIOS),
            "source": source or rnd.choice(SOURCES),
            "hostname": rnd.choice(HOSTS),
            "tags": sorted(rnd.sample(TAGS, rnd.randrange(0, 4))),
            "output_fields": {"proc.name": rnd.choice(PROCS), "n": i % 7},
            "time": rfc3339(t),
        }
        a["output"] = "%s alert %d on %s %s" % (a["priority"], i, words[0], words[1])
        a["_ns"] = t
        out.append(a)
    return out


def body_of(a):
    return json.dumps({k: v for k, v in a.items() if not k.startswith("_")})


def post_all(lan, alerts, threads=2):
    """POST / every alert (keep-alive connections in a few threads); records each uuid."""
    errors = []

    def worker(part):
        conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=30)
        for a in part:
            status, data, _ = lan.post_alert(body_of(a), conn=conn)
            if status != 200:
                errors.append((status, data))
                return
            a["_uuid"] = json.loads(data)["uuid"]
        conn.close()

    ts = [threading.Thread(target=worker, args=(alerts[i::threads],)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise AssertionError("POST / failed: %r" % errors[:3])


class Api:
    def __init__(self, lan, auth=None):
        self.lan = lan
        self.auth = auth or ("Bearer " + TOKEN)
        self.conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=60)

    def get(self, path, params=None, auth=None, method="GET"):
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        headers = {} if auth == "" else {"Authorization": auth or self.auth}
        try:
            self.conn.request(method, path, headers=headers)
            r = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.lan.port, timeout=60)
            self.conn.request(method, path, headers=headers)
            r = self.conn.getresponse()
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return r.status, data, r

    def json(self, path, params=None):
        status, data, _ = self.get(path, params)
        if status != 200:
            raise AssertionError("%s %r: %d %s" % (path, params, status, data))
        return json.loads(data)

    def all_events(self, params, limit=1000):
        """Every page, following the cursor; checks newest-first order across pages."""
        out, cursor = [], None
        while True:
            p = list(params) + [("limit", limit)] + ([("cursor", cursor)] if cursor else [])
            page = self.json("/api/v1/events", p)
            out.extend(page["events"])
            cursor = page["next"]
            if not cursor:
                return out

    def close(self):
        self.conn.close()


def ui_yaml(tmp, extra=""):
    return ("ui:\n  enabled: true\n  username: %s\n  password: '%s'\n  token: %s\n"
            "  store:\n    path: '%s'\n%s" % (USER, PASSWORD, TOKEN,
                                             os.path.join(tmp, "events.db"), extra))


def store_count(api):
    return api.json("/api/v1/outputs")["store"]["alerts"]


class KnownSetTest(unittest.TestCase):
    """One lanner, 10,000 alerts: every filter and grouping against expectations."""

    @classmethod
    def setUpClass(cls):
        cls.ws = Workspace()
        cls.lan = cls.ws.lanner(ui_yaml(cls.ws.tmp.name))
        cls.now_ns = time.time_ns()
        cls.alerts = make_alerts(N, cls.now_ns, seed=8)
        post_all(cls.lan, cls.alerts)
        cls.api = Api(cls.lan)
        if not wait_until(lambda: store_count(cls.api) == N, 120, 0.2):
            raise AssertionError("store holds %d of %d" % (store_count(cls.api), N))
        cls.by_uuid = {a["_uuid"]: a for a in cls.alerts}

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.ws.close()

    def expect(self, pred):
        return {a["_uuid"] for a in self.alerts if pred(a)}

    def check(self, params, pred):
        got = self.api.all_events(params)
        uuids = [e["uuid"] for e in got]
        self.assertEqual(len(uuids), len(set(uuids)), "duplicates for %r" % (params,))
        want = self.expect(pred)
        self.assertEqual(set(uuids), want, "filter %r" % (params,))
        self.assertTrue(want, "filter %r selects nothing: a useless check" % (params,))
        keys = [(self.by_uuid[u]["_ns"], e["id"]) for u, e in zip(uuids, got)]
        self.assertEqual(keys, sorted(keys, reverse=True), "newest first")
        return got

    def test_no_filter_all_newest_first(self):
        self.check([], lambda a: True)

    def test_priority_exact_any_spelling_and_or(self):
        self.check([("priority", "error")], lambda a: a["priority"] == "Error")
        self.check([("priority", "ERROR")], lambda a: a["priority"] == "Error")
        self.check([("priority", "Critical"), ("priority", "notice")],
                   lambda a: a["priority"] in ("Critical", "Notice"))

    def test_min_priority(self):
        self.check([("min_priority", "Error")], lambda a: PRIOS.index(a["priority"]) <= 3)
        self.check([("min_priority", "warning"), ("priority", "Warning"),
                    ("priority", "Debug")], lambda a: a["priority"] == "Warning")

    def test_rule_source_hostname(self):
        self.check([("rule", RULES[3])], lambda a: a["rule"] == RULES[3])
        self.check([("rule", RULES[0]), ("rule", RULES[5])],
                   lambda a: a["rule"] in (RULES[0], RULES[5]))
        self.check([("source", "k8s_audit")], lambda a: a["source"] == "k8s_audit")
        self.check([("hostname", "node-c"), ("hostname", "node-e")],
                   lambda a: a["hostname"] in ("node-c", "node-e"))

    def test_tags_are_anded(self):
        self.check([("tag", "container")], lambda a: "container" in a["tags"])
        self.check([("tag", "container"), ("tag", "T1059")],
                   lambda a: "container" in a["tags"] and "T1059" in a["tags"])

    def test_output_fields(self):
        self.check([("field.proc.name", "nc")], lambda a: a["output_fields"]["proc.name"] == "nc")
        self.check([("field.n", "3"), ("field.proc.name", "bash")],
                   lambda a: a["output_fields"]["n"] == 3 and
                   a["output_fields"]["proc.name"] == "bash")

    def test_free_text(self):
        # case-insensitive substrings, words ANDed; a 2-letter word and an inner substring
        self.check([("q", "SHADOW")], lambda a: "shadow" in a["output"].lower())
        self.check([("q", "hado kub")],
                   lambda a: "hado" in a["output"].lower() and "kub" in a["output"].lower())
        self.check([("q", "xz")], lambda a: "xz" in a["output"].lower())
        self.check([("q", "token alert 12")],
                   lambda a: all(w in a["output"].lower() for w in ("token", "alert", "12")))

    def test_time_range_rfc3339_and_ms(self):
        since = self.now_ns - 3600 * 10**9
        until = self.now_ns - 1800 * 10**9
        self.check([("since", since // 10**6), ("until", until // 10**6)],
                   lambda a: since // 10**6 * 10**6 <= a["_ns"] < until // 10**6 * 10**6)
        s = rfc3339(since // 10**9 * 10**9).replace(".000000000", "")
        self.check([("since", s)], lambda a: a["_ns"] >= since // 10**9 * 10**9)

    def test_filters_combined(self):
        self.check([("min_priority", "warning"), ("source", "syscall"), ("tag", "host"),
                    ("q", "docker")],
                   lambda a: PRIOS.index(a["priority"]) <= 4 and a["source"] == "syscall" and
                   "host" in a["tags"] and "docker" in a["output"].lower())

    def test_event_by_uuid_with_raw(self):
        a = self.alerts[17]
        ev = self.api.json("/api/v1/events/" + a["_uuid"])
        self.assertEqual(ev["uuid"], a["_uuid"])
        self.assertEqual(ev["rule"], a["rule"])
        self.assertEqual(ev["output_fields"], a["output_fields"])
        self.assertEqual(ev["tags"], a["tags"])
        raw = json.loads(ev["raw"])
        self.assertEqual(raw["output"], a["output"])
        self.assertEqual(raw["uuid"], a["_uuid"])
        status, data, _ = self.api.get("/api/v1/events/00000000-0000-4000-8000-000000000000")
        self.assertEqual(status, 404)
        self.assertIn("error", json.loads(data))

    def counts(self, params):
        return self.api.json("/api/v1/counts", params)

    def check_counts(self, by, params, pred, keys_of):
        since = self.now_ns // 10**6 - 3 * 3600 * 1000 + 123  # not minute-aligned: edges
        until = self.now_ns // 10**6 + 60000 + 7
        res = self.counts([("by", by), ("since", since), ("until", until)] + params)
        want = collections.Counter()
        total = 0
        for a in self.alerts:
            if pred(a) and since * 10**6 <= a["_ns"] < until * 10**6:
                total += 1
                for k in keys_of(a):
                    want[k] += 1
        got = {g["key"]: g["count"] for g in res["groups"]}
        self.assertEqual(got, dict(want), "counts by %s %r" % (by, params))
        self.assertEqual(res["total"], total)
        self.assertEqual((res["since"], res["until"]), (since, until))
        counts = [g["count"] for g in res["groups"]]
        self.assertEqual(counts, sorted(counts, reverse=True))
        self.assertTrue(total > 0)
        return res

    def test_counts_by_each_group(self):
        one = lambda k: lambda a: [a[k]]
        self.check_counts("priority", [], lambda a: True, one("priority"))
        self.check_counts("rule", [], lambda a: True, one("rule"))
        self.check_counts("source", [], lambda a: True, one("source"))
        self.check_counts("hostname", [], lambda a: True, one("hostname"))
        self.check_counts("tag", [], lambda a: True, lambda a: a["tags"])

    def test_counts_with_filters(self):
        self.check_counts("rule", [("min_priority", "error")],
                          lambda a: PRIOS.index(a["priority"]) <= 3, lambda a: [a["rule"]])
        self.check_counts("priority", [("tag", "network")], lambda a: "network" in a["tags"],
                          lambda a: [a["priority"]])
        self.check_counts("tag", [("tag", "host"), ("tag", "container")],
                          lambda a: "host" in a["tags"] and "container" in a["tags"],
                          lambda a: a["tags"])
        self.check_counts("source", [("q", "passwd"), ("field.proc.name", "curl")],
                          lambda a: "passwd" in a["output"] and
                          a["output_fields"]["proc.name"] == "curl", lambda a: [a["source"]])
        self.check_counts("hostname", [("rule", RULES[1]), ("source", "syscall")],
                          lambda a: a["rule"] == RULES[1] and a["source"] == "syscall",
                          lambda a: [a["hostname"]])

    def test_counts_time_buckets(self):
        for bucket, ms in (("1m", 60000), ("10m", 600000), ("10s", 10000)):
            res = self.check_counts("priority", [("bucket", bucket)], lambda a: True,
                                    lambda a: [a["priority"]])
            self.assertEqual(res["bucket_ms"], ms)
            first = res["since"] // ms * ms
            last = (res["until"] - 1) // ms * ms
            for g in res["groups"]:
                starts = [b[0] for b in g["series"]]
                self.assertEqual(starts, list(range(first, last + 1, ms)))
                self.assertEqual(sum(b[1] for b in g["series"]), g["count"])
                want = collections.Counter(
                    a["_ns"] // 10**6 // ms * ms for a in self.alerts
                    if a["priority"] == g["key"] and
                    res["since"] * 10**6 <= a["_ns"] < res["until"] * 10**6)
                self.assertEqual({b[0]: b[1] for b in g["series"] if b[1]}, dict(want))

    def test_counts_top_and_default_range(self):
        res = self.counts([("by", "rule"), ("top", 3)])
        self.assertEqual(len(res["groups"]), 3)
        self.assertEqual(res["total"], N)
        self.assertEqual(res["until"] - res["since"], 24 * 3600 * 1000)
        want = collections.Counter(a["rule"] for a in self.alerts).most_common()
        self.assertEqual([g["count"] for g in res["groups"]], [c for _, c in want[:3]])

    def test_bad_parameters(self):
        cases = [("/api/v1/events", {"bogus": "1"}, "bogus"),
                 ("/api/v1/events", {"priority": "loud"}, "priority"),
                 ("/api/v1/events", {"limit": "0"}, "limit"),
                 ("/api/v1/events", {"limit": "1001"}, "limit"),
                 ("/api/v1/events", {"since": "yesterday"}, "since"),
                 ("/api/v1/events", {"cursor": "nope"}, "cursor"),
                 ("/api/v1/counts", {}, "by"),
                 ("/api/v1/counts", {"by": "colour"}, "by"),
                 ("/api/v1/counts", {"by": "rule", "bucket": "soon"}, "bucket"),
                 ("/api/v1/counts", {"by": "rule", "bucket": "1ms"}, "bucket"),
                 ("/api/v1/stream", {"limit": "5"}, "limit")]
        for path, params, name in cases:
            status, data, _ = self.api.get(path, params)
            self.assertEqual(status, 400, (path, params, data))
            self.assertEqual(json.loads(data)["parameter"], name, (path, params))

    def test_outputs_and_rules(self):
        out = self.api.json("/api/v1/outputs")
        ui = [o for o in out["outputs"] if o["name"] == "ui"]
        self.assertEqual(len(ui), 1)
        self.assertEqual(ui[0]["delivered"], N)
        self.assertEqual(ui[0]["failed"], 0)
        self.assertEqual(out["store"]["alerts"], N)
        self.assertEqual(out["spool"]["mode"], "disk")
        self.assertIn("pending", out["spool"])
        rules = self.api.json("/api/v1/rules")["rules"]
        self.assertTrue(rules)
        for r in rules:
            self.assertEqual(set(r), {"name", "priority", "source", "enabled", "tags", "desc"})

    def test_auth(self):
        ok = [("Bearer " + TOKEN), auth_basic()]
        bad = ["", "Bearer nope", auth_basic(USER, "wrong"), auth_basic("root", PASSWORD),
               "Basic !!!notbase64", "Bearer " + TOKEN + "x", "Digest x"]
        for a in ok:
            status, _, _ = self.api.get("/api/v1/rules", auth=a)
            self.assertEqual(status, 200, a)
        for a in bad:
            for path in ("/api/v1/events", "/api/v1/events/x", "/api/v1/stream", "/api/v1/x"):
                status, data, r = self.api.get(path, auth=a)
                self.assertEqual(status, 401, (a, path))
                self.assertEqual(r.getheader("WWW-Authenticate"), 'Basic realm="lanner"')
                self.assertIn("error", json.loads(data))
        status, _, _ = self.api.get("/api/v1/events", method="POST")
        self.assertEqual(status, 405)
        status, _, _ = self.api.get("/api/v1/events", method="HEAD")
        self.assertEqual(status, 200)


class LiveTest(unittest.TestCase):
    """Pagination while alerts arrive, and the live stream."""

    def setUp(self):
        self.ws = Workspace()
        self.lan = self.ws.lanner(ui_yaml(self.ws.tmp.name))
        self.api = Api(self.lan)

    def tearDown(self):
        self.api.close()
        self.ws.close()

    def test_pagination_stable_while_alerts_arrive(self):
        now = time.time_ns()
        first = make_alerts(500, now - 60 * 10**9, seed=1)
        # equal times on purpose: the id breaks ties
        for a in first[:50]:
            a["time"], a["_ns"] = first[0]["time"], first[0]["_ns"]
        post_all(self.lan, first)
        self.assertTrue(wait_until(lambda: store_count(self.api) == 500, 60, 0.1))
        seen, cursor, pages = [], None, 0
        while True:
            p = [("limit", 37)] + ([("cursor", cursor)] if cursor else [])
            page = self.api.json("/api/v1/events", p)
            seen.extend(e["uuid"] for e in page["events"])
            pages += 1
            if pages == 2:
                # newer and older alerts arrive between pages
                post_all(self.lan, make_alerts(100, time.time_ns(), seed=2, span_s=10) +
                         make_alerts(100, now - 7200 * 10**9, seed=3, span_s=60))
                self.assertTrue(wait_until(lambda: store_count(self.api) == 700, 60, 0.1))
            cursor = page["next"]
            if not cursor:
                break
        # every one of the first 500 exactly once; the late old ones too (older than the cursor)
        self.assertEqual(len(seen), len(set(seen)))
        self.assertTrue({a["_uuid"] for a in first} <= set(seen))
        self.assertEqual(len(seen), 600)

    def read_event(self, resp, deadline):
        """The next `event: alert` of an SSE response, as (event lines, data object)."""
        lines = []
        while time.monotonic() < deadline:
            line = resp.readline()
            if not line:
                raise AssertionError("stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if any(x.startswith("event:") for x in lines):
                    data = "".join(x[6:].strip() for x in lines if x.startswith("data:"))
                    return lines, json.loads(data)
                lines = []
                continue
            lines.append(line)
        raise AssertionError("no event in time")

    def test_stream_receives_new_matching_alerts(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.lan.port, timeout=30)
        conn.request("GET", "/api/v1/stream?" + urllib.parse.urlencode(
            [("rule", RULES[2]), ("min_priority", "Warning")]),
            headers={"Authorization": auth_basic()})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.getheader("Content-Type").startswith("text/event-stream"))
        alerts = make_alerts(40, time.time_ns(), seed=5)
        alerts[10]["rule"], alerts[10]["priority"] = RULES[2], "Critical"
        alerts[30]["rule"], alerts[30]["priority"] = RULES[2], "Debug"
        post_all(self.lan, alerts, threads=1)
        want = [a["_uuid"] for a in alerts if a["rule"] == RULES[2] and
                PRIOS.index(a["priority"]) <= 4]
        got = []
        deadline = time.monotonic() + 30
        while len(got) < len(want):
            lines, ev = self.read_event(resp, deadline)
            self.assertEqual(lines[0], "event: alert")
            got.append(ev["uuid"])
            self.assertEqual(ev["rule"], RULES[2])
            self.assertGreater(ev["id"], 0)
        self.assertEqual(sorted(got), sorted(want))
        # the stream's event is the stored one
        ev = self.api.json("/api/v1/events/" + got[0])
        self.assertEqual(ev["uuid"], got[0])
        # idle: a keepalive comment within 15 s (and some slack on a loaded machine)
        deadline = time.monotonic() + 25
        line = b""
        while time.monotonic() < deadline and line != b": keepalive\n":
            line = resp.readline()
        self.assertEqual(line, b": keepalive\n")
        conn.close()


class RetentionTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def test_old_alerts_leave_after_max_age(self):
        lan = self.ws.lanner(ui_yaml(self.ws.tmp.name,
                                     "    max_age: 1h\n    retention_interval: 200ms\n"))
        api = Api(lan)
        now = time.time_ns()
        old = make_alerts(300, now - 3600 * 10**9 - 5 * 10**9, seed=11, span_s=1800)
        young = make_alerts(300, now, seed=12, span_s=1800)
        # these become too old while the test watches
        edge = make_alerts(50, now - 3600 * 10**9 + 4 * 10**9, seed=13, span_s=1)
        post_all(lan, old + young + edge)
        left = lambda: {e["uuid"] for e in api.all_events([])}
        self.assertTrue(wait_until(lambda: left() == {a["_uuid"] for a in young}, 30, 0.2),
                        "store still holds %d alerts" % len(left()))
        api.close()

    def test_size_cap_held_oldest_first(self):
        cap = 2 * 1024 * 1024
        lan = self.ws.lanner(ui_yaml(self.ws.tmp.name,
                                     "    max_bytes: %d\n    retention_interval: 200ms\n" % cap))
        api = Api(lan)
        now = time.time_ns()
        alerts = make_alerts(4000, now, seed=21)
        for i, a in enumerate(alerts):
            a["output"] += " " + ("padding-%d " % i) * 40
        alerts.sort(key=lambda a: a["_ns"])
        post_all(lan, alerts)
        path = os.path.join(self.ws.tmp.name, "events.db")

        def settled():
            st = api.json("/api/v1/outputs")["store"]
            return st["queued"] == 0 and st["bytes"] <= cap and st
        st = wait_until(settled, 60, 0.2)
        self.assertTrue(st, api.json("/api/v1/outputs")["store"])
        self.assertLess(st["alerts"], 4000)
        self.assertGreater(st["alerts"], 100)
        # the database file follows the cap (freed pages go back); the WAL is bounded apart
        self.assertTrue(wait_until(lambda: os.path.getsize(path) <= cap * 1.1, 30, 0.2),
                        os.path.getsize(path))
        kept = [e["uuid"] for e in api.all_events([])]
        newest = [a["_uuid"] for a in reversed(alerts)][:len(kept)]
        self.assertEqual(set(kept), set(newest), "the oldest go first")
        api.close()


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def refused(self, ui):
        port = free_port()
        cfg = os.path.join(self.ws.tmp.name, "refused-%d.yaml" % time.monotonic_ns())
        with open(cfg, "w") as f:
            f.write("listenaddress: 127.0.0.1\nlistenport: %d\nstdout: {enabled: false}\n"
                    "detector: {enabled: false}\nspool: {path: '%s/spool.db'}\n%s" %
                    (port, self.ws.tmp.name, ui))
        p = subprocess.run([LANNER, "-c", cfg], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def test_refuses_to_start_without_a_secret(self):
        store = "  store: {path: '%s/e.db'}\n" % self.ws.tmp.name
        for ui in ("ui:\n  enabled: true\n" + store,
                   "ui:\n  enabled: true\n  token: ''\n  password: ''\n" + store,
                   "ui:\n  enabled: true\n  username: admin\n" + store,
                   "ui:\n  enabled: true\n  password: pw\n" + store):
            rc, out = self.refused(ui)
            self.assertNotEqual(rc, 0, ui)
            self.assertIn("ui", out)
            self.assertRegex(out, "no secret|go together", ui)

    def test_off_by_default(self):
        lan = self.ws.lanner()
        status, _, _ = lan.request("GET", "/api/v1/events")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main()
