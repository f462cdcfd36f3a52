# SPDX-License-Identifier: Apache-2.0
"""libcurl and librdkafka are loaded on first use (outputs/curl_dl.h, kafka_dl.h): a gateway
configured without HTTP or Kafka outputs never maps them nor their dependency chains (the
idle RSS target of issue 2), and one configured with them loads them at start and delivers."""
import json
import os
import unittest

from lanner_harness import FALCO_JSON, Workspace, free_port, wait_until


def mapped(lan):
    """Base names of the shared objects mapped in lanner's address space."""
    with open("/proc/%d/maps" % lan.proc.pid, encoding="utf-8") as f:
        return {os.path.basename(line.split()[5]) for line in f if len(line.split()) >= 6}


def has(libs, prefix):
    return any(name.startswith(prefix) for name in libs)


class LazyLibsTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.close()

    def test_idle_gateway_maps_neither_libcurl_nor_librdkafka(self):
        lan = self.ws.lanner("stdout: {enabled: true}\n")
        status, body, _ = lan.post_alert(FALCO_JSON)
        self.assertEqual(status, 200, body)
        self.assertTrue(wait_until(lambda: "Read sensitive file untrusted" in lan.output(), 30))
        libs = mapped(lan)
        self.assertTrue(has(libs, "libh2o"), sorted(libs))
        for lib in ("libcurl.so", "librdkafka.so", "libgnutls.so", "libsasl2.so"):
            self.assertFalse(has(libs, lib), (lib, sorted(libs)))

    def test_webhook_loads_libcurl_at_start_and_delivers(self):
        rcv = self.ws.receiver()
        lan = self.ws.lanner("webhook: {address: '%s'}\n" % rcv.url("/"))
        libs = mapped(lan)
        self.assertTrue(has(libs, "libcurl.so.4"), sorted(libs))
        self.assertFalse(has(libs, "librdkafka.so"), sorted(libs))
        status, body, _ = lan.post_alert(FALCO_JSON)
        self.assertEqual(status, 200, body)
        uuid = json.loads(body)["uuid"]
        self.assertTrue(wait_until(lambda: rcv.count() == 1, 30))
        self.assertEqual(json.loads(rcv.requests()[0]["body"])["uuid"], uuid)

    def test_kafka_output_loads_librdkafka_at_start(self):
        # No broker on that port: the producer starts anyway and keeps trying in the background.
        lan = self.ws.lanner("kafka: {hostport: '127.0.0.1:%d', topic: lazy}\n" % free_port())
        libs = mapped(lan)
        self.assertTrue(has(libs, "librdkafka.so.1"), sorted(libs))
        self.assertFalse(has(libs, "libcurl.so"), sorted(libs))
        self.assertIn("kafka: producing to topic lazy", lan.output())


if __name__ == "__main__":
    unittest.main()
