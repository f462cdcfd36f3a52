# SPDX-License-Identifier: Apache-2.0
"""The HTTP outputs of issue 5 (Teams, Discord, Mattermost, Google Chat, Loki, Elasticsearch,
Alertmanager) and the per-sink controls (match lists, ratelimit, batches) end to end: a real
lanner, local receivers on 127.0.0.1 recording every request, exact request bodies."""
import json
import time
import unittest

from lanner_harness import Workspace, wait_until

# The Falcosidekick test fixture of issue 5, with a fixed uuid (Elasticsearch's _id).
FIXTURE = (
    '{"output":"This is a test from falcosidekick","priority":"Debug","rule":"Test rule",'
    '"time":"2001-01-01T01:10:00Z","source":"syscalls","output_fields":{"proc.name":'
    '"falcosidekick","proc.tty":1234},"tags":["test","example"],"hostname":"test-host",'
    '"uuid":"5f0e4a8e-8b7e-4c1a-9a77-0d2b1c3e4f50"}'
)
BULK_PATH = "/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"
FAST_RETRY = "retry: {initial: 50ms, max: 200ms}\n"

EXPECTED = {
    '/teams': (
        '{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.'
        'adaptive","contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schema'
        's/adaptive-card.json","type":"AdaptiveCard","version":"1.4","msteams":{"width":"'
        'Full"},"body":[{"type":"TextBlock","text":"Debug: Test rule","weight":"Bolder","'
        'size":"Medium","color":"Default","wrap":true},{"type":"TextBlock","text":"2001-0'
        '1-01 01:10:00 +0000 UTC","isSubtle":true,"spacing":"None","wrap":true},{"type":"'
        'TextBlock","text":"This is a test from falcosidekick","wrap":true},{"type":"Fact'
        'Set","facts":[{"title":"rule","value":"Test rule"},{"title":"priority","value":"'
        'Debug"},{"title":"source","value":"syscalls"},{"title":"hostname","value":"test-'
        'host"},{"title":"proc.name","value":"falcosidekick"},{"title":"proc.tty","value"'
        ':"1234"},{"title":"tags","value":"example, test"}]}]}}]}\n'
    ),
    '/discord': (
        '{"embeds":[{"description":"This is a test from falcosidekick","color":12370112,"'
        'fields":[{"name":"rule","value":"Test rule","inline":true},{"name":"priority","v'
        'alue":"Debug","inline":true},{"name":"source","value":"syscalls","inline":true},'
        '{"name":"hostname","value":"test-host","inline":true},{"name":"proc.name","value'
        '":"```falcosidekick```","inline":true},{"name":"proc.tty","value":"```1234```","'
        'inline":true},{"name":"tags","value":"example, test","inline":true},{"name":"tim'
        'e","value":"2001-01-01 01:10:00 +0000 UTC","inline":true}]}]}\n'
    ),
    '/mattermost': (
        '{"username":"lanner","attachments":[{"fallback":"This is a test from falcosideki'
        'ck","color":"#ccfff2","text":"This is a test from falcosidekick","fields":[{"tit'
        'le":"rule","value":"Test rule","short":true},{"title":"hostname","value":"test-h'
        'ost","short":true},{"title":"priority","value":"Debug","short":true},{"title":"s'
        'ource","value":"syscalls","short":true},{"title":"tags","value":"example, test",'
        '"short":true},{"title":"proc.name","value":"falcosidekick","short":true},{"title'
        '":"proc.tty","value":"1234","short":true},{"title":"time","value":"2001-01-01 01'
        ':10:00 +0000 UTC","short":false}],"footer":"lanner"}]}\n'
    ),
    '/googlechat': (
        '{"cardsV2":[{"cardId":"lanner-alert","card":{"header":{"title":"Test rule","subt'
        'itle":"Debug"},"sections":[{"widgets":[{"textParagraph":{"text":"This is a test '
        'from falcosidekick"}},{"decoratedText":{"topLabel":"rule","text":"Test rule"}},{'
        '"decoratedText":{"topLabel":"priority","text":"Debug"}},{"decoratedText":{"topLa'
        'bel":"source","text":"syscalls"}},{"decoratedText":{"topLabel":"hostname","text"'
        ':"test-host"}},{"decoratedText":{"topLabel":"proc.name","text":"falcosidekick"}}'
        ',{"decoratedText":{"topLabel":"proc.tty","text":"1234"}},{"decoratedText":{"topL'
        'abel":"tags","text":"example, test"}},{"decoratedText":{"topLabel":"time","text"'
        ':"2001-01-01 01:10:00 +0000 UTC"}}]}]}}]}\n'
    ),
    '/loki/api/v1/push': (
        '{"streams":[{"stream":{"hostname":"test-host","priority":"Debug","rule":"Test ru'
        'le","source":"syscalls","tags":"example,test"},"values":[["978311400000000000","'
        'This is a test from falcosidekick"]]}]}\n'
    ),
    '/api/v2/alerts': (
        '[{"labels":{"alertname":"Test rule","eventsource":"syscalls","hostname":"test-ho'
        'st","priority":"Debug","proc_name":"falcosidekick","proc_tty":"1234","rule":"Tes'
        't rule","severity":"information","source":"falco","tags":"example,test"},"annota'
        'tions":{"description":"This is a test from falcosidekick","info":"This is a test'
        ' from falcosidekick","summary":"Test rule"},"startsAt":"2001-01-01T01:10:00.0000'
        '00000Z","endsAt":"2001-01-01T01:20:00.000000000Z"}]\n'
    ),
    '/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason': (
        '{"create":{"_index":"falco-2001.01.01","_id":"5f0e4a8e-8b7e-4c1a-9a77-0d2b1c3e4f'
        '50"}}\n{"hostname":"test-host","output":"This is a test from falcosidekick","outp'
        'ut_fields":{"proc.name":"falcosidekick","proc.tty":1234},"priority":"Debug","rul'
        'e":"Test rule","source":"syscalls","tags":["example","test"],"time":"2001-01-01T'
        '01:10:00.000000000Z","uuid":"5f0e4a8e-8b7e-4c1a-9a77-0d2b1c3e4f50","@timestamp":'
        '"2001-01-01T01:10:00.000000000Z"}\n'
    ),
}

CONTENT_TYPES = {
    "/teams": "application/json; charset=utf-8",
    "/discord": "application/json; charset=utf-8",
    "/mattermost": "application/json; charset=utf-8",
    "/googlechat": "application/json; charset=utf-8",
    "/loki/api/v1/push": "application/json",
    "/api/v2/alerts": "application/json",
    BULK_PATH: "application/x-ndjson",
}


def alert(rule, tags=(), source="syscall", seconds=0, **fields):
    return json.dumps({
        "output": "output of %s" % rule,
        "priority": "Warning",
        "rule": rule,
        "source": source,
        "time": "2025-05-07T12:50:%02d.5Z" % seconds,
        "output_fields": fields or {"proc.name": "cat"},
        "tags": list(tags),
        "hostname": "node-1",
    })


def header(req, name):
    return {k.lower(): v for k, v in req["headers"]}.get(name.lower())


class HttpOutputsTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def test_each_output_sends_its_exact_json(self):
        rcv = self.ws.receiver()
        am2 = self.ws.receiver()
        es = self.ws.receiver("--bulk")
        lan = self.ws.lanner(
            "teams: {webhookurl: '%s'}\n" % rcv.url("/teams") +
            "discord: {webhookurl: '%s'}\n" % rcv.url("/discord") +
            "mattermost: {webhookurl: '%s'}\n" % rcv.url("/mattermost") +
            "googlechat: {webhookurl: '%s'}\n" % rcv.url("/googlechat") +
            "loki: {hostport: 'http://127.0.0.1:%d', batch: {wait: 0s}}\n" % rcv.port +
            "alertmanager: {hostport: ['http://127.0.0.1:%d', 'http://127.0.0.1:%d/'], "
            "expiresafter: 600}\n" % (rcv.port, am2.port) +
            "elasticsearch: {hostport: 'http://127.0.0.1:%d', index: 'falco-%%Y.%%m.%%d', "
            "batch: {wait: 0s}}\n" % es.port)
        status, body, _ = lan.post_alert(FIXTURE)
        self.assertEqual(status, 200, body)
        self.assertTrue(wait_until(lambda: rcv.count() == 6 and am2.count() == 1 and
                                   es.count() == 1, 30), lan.output())
        got = {r["path"]: r for r in rcv.requests() + es.requests()}
        self.assertEqual(sorted(got), sorted(EXPECTED))
        for path, want in EXPECTED.items():
            with self.subTest(path=path):
                self.assertEqual(got[path]["method"], "POST")
                self.assertEqual(got[path]["body"], want)
                self.assertEqual(header(got[path], "Content-Type"), CONTENT_TYPES[path])
        # Alertmanager: the same alert to every instance of the cluster.
        second = am2.requests()[0]
        self.assertEqual(second["path"], "/api/v2/alerts")
        self.assertEqual(second["body"], EXPECTED["/api/v2/alerts"])

    def test_elasticsearch_bulk_retries_only_the_retryable_items(self):
        es = self.ws.receiver("--bulk", "--bulk-item", "retry-me=429:1",
                              "--bulk-item", "bad-doc=400")
        lan = self.ws.lanner(
            FAST_RETRY + "elasticsearch: {hostport: 'http://127.0.0.1:%d', index: 'sec-%%Y.%%m', "
            "maxconcurrentrequests: 1, batch: {size: 4, wait: 30s}}\n" % es.port)
        for rule in ("ok-1", "retry-me", "bad-doc", "ok-2"):
            self.assertEqual(lan.post_alert(alert(rule))[0], 200)
        self.assertTrue(wait_until(lambda: es.count() >= 2, 30), lan.output())
        time.sleep(0.5)  # nothing else may follow
        reqs = es.requests()
        self.assertEqual(len(reqs), 2)

        def docs(req):
            lines = req["body"].split("\n")
            self.assertEqual(lines[-1], "")  # NDJSON ends with a newline
            actions = [json.loads(x) for x in lines[0:-1:2]]
            for a in actions:
                self.assertEqual(a["create"]["_index"], "sec-2025.05")
            return [json.loads(x)["rule"] for x in lines[1:-1:2]]

        self.assertEqual(docs(reqs[0]), ["ok-1", "retry-me", "bad-doc", "ok-2"])
        self.assertEqual(docs(reqs[1]), ["retry-me"])
        m = lan.metrics()
        key = 'falcosecurity_falcosidekick_outputs_total{destination="elasticsearch",status="%s"}'
        self.assertEqual(m.get(key % "ok"), 3)
        self.assertEqual(m.get(key % "error"), 2)
        self.assertIn("bad-doc", lan.output())

    def test_loki_batch_groups_streams_by_labels(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner("loki: {hostport: 'http://127.0.0.1:%d', extralabels: [proc.name], "
                             "batch: {size: 3, wait: 30s}}\n" % rcv.port)
        self.assertEqual(lan.post_alert(alert("a", seconds=5))[0], 200)
        self.assertEqual(lan.post_alert(alert("b"))[0], 200)
        self.assertEqual(lan.post_alert(alert("a", seconds=1))[0], 200)
        self.assertTrue(wait_until(lambda: rcv.count() == 1, 30), lan.output())
        # Streams in the order of their first entry, entries in time order.
        self.assertEqual(rcv.requests()[0]["body"], (
            '{"streams":[{"stream":{"hostname":"node-1","priority":"Warning","proc_name":"cat",'
            '"rule":"b","source":"syscall"},"values":[["1746622200500000000","output of b"]]},'
            '{"stream":{"hostname":"node-1","priority":"Warning","proc_name":"cat","rule":"a",'
            '"source":"syscall"},"values":[["1746622201500000000","output of a"],'
            '["1746622205500000000","output of a"]]}]}\n'))


class SinkControlsTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def test_match_lists_route_per_sink(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner(
            "mattermost:\n  webhookurl: '%s'\n"
            "  match: {rules: {include: ['Shell*'], exclude: ['Shell in CI']}}\n"
            "discord:\n  webhookurl: '%s'\n"
            "  match: {tags: {exclude: [noisy]}, sources: {include: [syscall]}}\n"
            % (rcv.url("/mattermost"), rcv.url("/discord")))
        for body in (alert("Shell in container"), alert("Shell in CI"),
                     alert("Write below etc", tags=["noisy"]), alert("Audit thing", source="k8s_audit"),
                     alert("Read sensitive file", tags=["mitre"])):
            self.assertEqual(lan.post_alert(body)[0], 200)

        def rules(path):
            return sorted(json.loads(r["body"])["attachments"][0]["fields"][0]["value"]
                          if path == "/mattermost" else
                          json.loads(r["body"])["embeds"][0]["fields"][0]["value"]
                          for r in rcv.requests() if r["path"] == path)

        self.assertTrue(wait_until(lambda: rcv.count() == 4, 30), lan.output())
        time.sleep(0.3)
        self.assertEqual(rcv.count(), 4)
        self.assertEqual(rules("/mattermost"), ["Shell in container"])
        self.assertEqual(rules("/discord"), ["Read sensitive file", "Shell in CI",
                                             "Shell in container"])

    def test_ratelimit_holds_alerts_in_the_queue_without_loss(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner("discord: {webhookurl: '%s', ratelimit: {rate: 5/s, burst: 1}}\n"
                             % rcv.url("/discord"))
        start = time.monotonic()
        for i in range(6):
            self.assertEqual(lan.post_alert(alert("r%d" % i))[0], 200)
        self.assertTrue(wait_until(lambda: rcv.count() == 6, 30), lan.output())
        # One at once, then one every 200 ms: five intervals.
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        got = [json.loads(r["body"])["embeds"][0]["fields"][0]["value"] for r in rcv.requests()]
        self.assertEqual(got, ["r%d" % i for i in range(6)])
        m = lan.metrics()
        self.assertFalse([k for k in m if k.startswith("lanner_dropped_total")
                          and 'sink="discord"' in k and m[k]])

    def test_bad_ratelimit_is_a_config_error(self):
        lan = self.ws.lanner("discord: {webhookurl: 'http://127.0.0.1:9/', "
                             "ratelimit: {rate: 5 per second}}\n", wait=False)
        self.assertNotEqual(lan.proc.wait(30), 0)
        self.assertRegex(lan.output(), r"lanner-\d+\.yaml:\d+: error: discord\.ratelimit\.rate: "
                         r"invalid rate '5 per second'")


if __name__ == "__main__":
    unittest.main()
