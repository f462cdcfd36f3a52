# SPDX-License-Identifier: Apache-2.0
"""Automated response end to end (issue 6): a real lanner with the responder enabled, against the
local HTTPS Kubernetes API stand-in (TLS, bearer token, a small cluster). Alerts are POSTed to
lanner's `POST /`; the audit trail (source "response") is read back through a webhook output
to the local receiver; the cluster state through the stand-in's control endpoint."""
import json
import os
import subprocess
import time
import unittest

from k8s_standin import StandIn, small_cluster
from lanner_harness import LANNER, Lanner, Workspace, wait_until

WEB_POD = "web-5d4f8c7b9-abcde"
SCALE_POLICY = """\
cooldown: 10m
policies:
  - name: contain
    match:
      priority: ">=Critical"
      output_fields: ["k8s.ns.name!=kube-system"]
    actions: [{action: k8s.scale_down}]
"""


def alert(rule="Crypto miner", priority="Critical", ns="shop", pod=WEB_POD, **extra):
    fields = {"k8s.ns.name": ns, "k8s.pod.name": pod, "proc.name": "xmrig"}
    fields.update(extra)
    return json.dumps({
        "output": "12:00:00.000000000: %s miner in %s/%s" % (priority, ns, pod),
        "priority": priority, "rule": rule, "source": "syscall",
        "time": "2026-11-28T12:00:00.000000000Z", "output_fields": fields, "tags": []})


class ResponseTest(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.tmp = self.ws.tmp.name
        self.k8s = StandIn(self.tmp, small_cluster())
        self.rcv = self.ws.receiver()

    def tearDown(self):
        # lanner stops cleanly (exit 0: no sanitizer report) with the responder in it
        codes = [p.stop() for p in self.ws.started if isinstance(p, Lanner)]
        self.ws.close()
        self.k8s.close()
        self.assertEqual(codes, [0] * len(codes))

    def start(self, policy, extra="", args=(), extra_yaml=""):
        pf = os.path.join(self.tmp, "policy-%d.yaml" % time.monotonic_ns())
        with open(pf, "w", encoding="utf-8") as f:
            f.write(policy)
        self.kubeconfig = self.k8s.kubeconfig(os.path.join(self.tmp, "kubeconfig"))
        yaml = ("response: {enabled: true, kubeconfig: '%s', policy_file: '%s'%s}\n"
                "webhook: {address: '%s'}\n%s" % (self.kubeconfig, pf, extra, self.rcv.url("/"),
                                                 extra_yaml))
        self.cfg_yaml = yaml
        return self.ws.lanner(yaml, args=args)

    def audits(self, n, timeout=30):
        """The first n audit alerts lanner sent to the webhook (source "response")."""
        def got():
            a = [json.loads(r["body"]) for r in self.rcv.requests()]
            a = [x for x in a if x.get("source") == "response"]
            return a if len(a) >= n else None
        out = wait_until(got, timeout)
        self.assertTrue(out, "expected %d audit alerts, got %r" % (n, self.rcv.requests()))
        return out

    def post(self, lan, body):
        status, data, _ = lan.post_alert(body)
        self.assertEqual(status, 200, data)

    def deployment(self, ns, name):
        return self.k8s.get("deployments", ns, name)

    def scale_patches(self, ns="shop", name="web"):
        path = "/apis/apps/v1/namespaces/%s/deployments/%s/scale" % (ns, name)
        return [r for r in self.k8s.requests() if r["method"] == "PATCH" and r["path"] == path]

    def test_scale_down_records_annotations_and_restore_brings_it_back(self):
        lan = self.start(SCALE_POLICY)
        self.post(lan, alert())
        a = self.audits(1)[0]
        self.assertEqual(a["rule"], "lanner response: k8s.scale_down done")
        self.assertEqual(a["output_fields"]["response.target"], "deployment shop/web")
        self.assertEqual(a["output_fields"]["response.detail"], "scaled from 3 to 0 replicas")
        d = self.deployment("shop", "web")
        self.assertEqual(d["spec"]["replicas"], 0)
        ann = d["metadata"]["annotations"]
        self.assertEqual(ann["lanner.dev/scaled-down-from"], "3")
        self.assertEqual(ann["lanner.dev/scaled-down-reason"], "Crypto miner")
        self.assertIn("lanner.dev/scaled-down-at", ann)
        patch = self.scale_patches()
        self.assertEqual(len(patch), 1)
        self.assertEqual(patch[0]["content_type"], "application/merge-patch+json")
        self.assertEqual(json.loads(patch[0]["body"]), {"spec": {"replicas": 0}})

        cfg = os.path.join(self.tmp, "cli.yaml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(self.cfg_yaml)
        out = subprocess.run([LANNER, "response", "restore", "-c", cfg, "shop/web"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("deployment shop/web: restored to 3 replicas", out.stdout)
        d = self.deployment("shop", "web")
        self.assertEqual(d["spec"]["replicas"], 3)
        self.assertNotIn("lanner.dev/scaled-down-from", d["metadata"].get("annotations", {}))
        # a second restore is refused: nothing of lanner's to undo
        out = subprocess.run([LANNER, "response", "restore", "-c", cfg, "shop/web"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("was not scaled down by lanner", out.stderr)

    def test_dry_run_changes_nothing_and_says_what_it_would_do(self):
        lan = self.start("dry_run: true\n" + SCALE_POLICY)
        self.post(lan, alert())
        a = self.audits(1)[0]
        self.assertEqual(a["rule"], "lanner response: k8s.scale_down dry-run")
        self.assertEqual(a["output_fields"]["response.detail"],
                         "would scale from 3 to 0 replicas")
        self.assertEqual(a["output_fields"]["response.target"], "deployment shop/web")
        self.assertEqual(self.deployment("shop", "web")["spec"]["replicas"], 3)
        self.assertEqual([r for r in self.k8s.requests() if r["method"] != "GET"], [])

    def test_kube_system_pod_is_never_touched(self):
        lan = self.start("policies:\n  - name: all\n    actions: [{action: k8s.scale_down},"
                         " {action: k8s.isolate_pod}]\n")
        self.post(lan, alert(ns="kube-system", pod="coredns-5d4f8c7b9-kube1"))
        audits = self.audits(2)
        for a in audits:
            self.assertEqual(a["output_fields"]["response.outcome"], "skipped")
            self.assertEqual(a["output_fields"]["response.detail"],
                             "namespace kube-system is protected")
        self.assertEqual(self.deployment("kube-system", "coredns")["spec"]["replicas"], 2)
        self.assertEqual([r for r in self.k8s.requests() if "kube-system" in r["path"]], [])

    def test_forbidden_is_a_failed_audit_with_the_api_message(self):
        self.k8s.inject(403, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/web/scale")
        lan = self.start(SCALE_POLICY)
        self.post(lan, alert())
        a = self.audits(1)[0]
        self.assertEqual(a["rule"], "lanner response: k8s.scale_down failed")
        self.assertEqual(a["priority"], "Error")
        self.assertIn('deployments.apps "web" is forbidden: User '
                      '"system:serviceaccount:lanner:lanner" cannot patch resource '
                      '"deployments/scale"', a["output_fields"]["response.detail"])
        self.assertEqual(len(self.scale_patches()), 1)

    def test_second_alert_inside_the_cooldown_does_not_act_again(self):
        lan = self.start(SCALE_POLICY)
        self.post(lan, alert())
        self.audits(1)
        self.post(lan, alert())
        a = self.audits(2)[1]
        self.assertEqual(a["output_fields"]["response.outcome"], "skipped")
        self.assertIn("cooldown", a["output_fields"]["response.detail"])
        self.assertEqual(len(self.scale_patches()), 1)

    def test_isolate_creates_the_exact_network_policy(self):
        lan = self.start("policies:\n  - name: iso\n    actions:\n"
                         "      - action: k8s.isolate_pod\n"
                         "        parameters: {allow_dns: true, allow_cidrs: [10.1.0.0/16]}\n")
        self.post(lan, alert())
        a = self.audits(1)[0]
        self.assertEqual(a["output_fields"]["response.outcome"], "done", a)
        np = self.k8s.get("networkpolicies", "shop", "lanner-quarantine")
        self.assertEqual(np["spec"], {
            "podSelector": {"matchLabels": {"lanner.dev/quarantine": "true"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"to": [{"namespaceSelector": {},
                         "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                 "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}]})
        self.assertEqual(np["metadata"]["labels"], {"app.kubernetes.io/managed-by": "lanner"})
        pod = self.k8s.get("pods", "shop", WEB_POD)
        self.assertEqual(pod["metadata"]["labels"]["lanner.dev/quarantine"], "true")

    def test_seed_example_rule_actions_scale_down_and_notify(self):
        rules = os.path.join(self.tmp, "rules.yaml")
        with open(rules, "w", encoding="utf-8") as f:
            f.write("- rule: Crypto miner\n"
                    "  desc: a miner\n"
                    "  condition: evt.type = execve and proc.name = xmrig\n"
                    "  output: miner %proc.name\n"
                    "  priority: CRITICAL\n"
                    "  actions: [scale_down_deployment, notify_security_team]\n")
        # the security team's output: slack, reached only through notify (minimumpriority)
        other = self.ws.receiver()
        lan = self.start("actions:\n"
                         "  - name: scale_down_deployment\n    action: k8s.scale_down\n"
                         "  - name: notify_security_team\n    action: notify\n"
                         "    parameters: {outputs: [slack]}\n",
                         extra_yaml="slack: {webhookurl: '%s', minimumpriority: emergency}\n"
                         % other.url("/"), args=("-r", rules))
        self.post(lan, alert(rule="Crypto miner"))
        audits = self.audits(2)
        rules_seen = sorted(a["rule"] for a in audits)
        self.assertEqual(rules_seen, ["lanner response: k8s.scale_down done",
                                      "lanner response: notify done"])
        self.assertEqual(self.deployment("shop", "web")["spec"]["replicas"], 0)
        self.assertTrue(wait_until(lambda: other.count() >= 1, 30))
        # an alert of a rule without actions and matching no policy: nothing
        self.post(lan, alert(rule="Something else"))
        time.sleep(1.0)
        self.assertEqual(len(self.audits(2)), 2)

    def test_process_kill_needs_a_verifiable_process(self):
        """The responder's part (the detector-driven kill: test_response_detector.py): an
        alert naming a process this test started with its real start time."""
        victim = subprocess.Popen(["sleep", "60"])
        bystander = subprocess.Popen(["sleep", "60"])
        try:
            def comm():
                with open("/proc/%d/comm" % victim.pid, encoding="utf-8") as f:
                    return f.read().strip()
            wait_until(lambda: comm() == "sleep", 30)
            with open("/proc/%d/stat" % victim.pid, encoding="utf-8") as f:
                ticks = int(f.read().rsplit(")", 1)[1].split()[19])
            boot = time.clock_gettime_ns(time.CLOCK_REALTIME) - \
                time.clock_gettime_ns(time.CLOCK_BOOTTIME)
            ts = boot + ticks * (10 ** 9 // os.sysconf("SC_CLK_TCK"))
            rules = os.path.join(self.tmp, "kill.yaml")
            with open(rules, "w", encoding="utf-8") as f:
                f.write("- rule: Run sleep\n  desc: d\n  condition: evt.type = execve and "
                        "proc.name = sleep\n  output: o\n  priority: WARNING\n"
                        "  actions: [kill]\n")
            lan = self.start("actions:\n  - name: kill\n    action: process.kill\n",
                             args=("-r", rules))
            body = json.loads(alert(rule="Run sleep", priority="Warning"))
            body["output_fields"] = {"proc.pid": victim.pid, "proc.pid.ts": ts,
                                     "proc.name": "sleep"}
            self.post(lan, json.dumps(body))
            a = self.audits(1)[0]
            self.assertEqual(a["rule"], "lanner response: process.kill done", a)
            self.assertEqual(victim.wait(10), -9)
            self.assertIsNone(bystander.poll())
        finally:
            for p in (victim, bystander):
                if p.poll() is None:
                    p.kill()
                p.wait()


if __name__ == "__main__":
    unittest.main()
