# SPDX-License-Identifier: Apache-2.0
"""Automated response driven by the running detector (issue 6), root, real kernel:

- a program this test starts, whose exec matches a rule with `actions: [kill]`
  (process.kill), is SIGKILLed by lanner, checked by pid and start time from the detector's
  alert; a sibling program the test also started, under another name, keeps running;
- the seed's example from a rules file: a rule with `priority: CRITICAL` and
  `actions: [scale_down_deployment, notify_security_team]`, raised by the detector for a process
  this test places in the cgroup of the Deployment `web`'s pod container (pod metadata from the
  Kubernetes API stand-in, list + watch of this node's pods): `web` is scaled to 0 on the
  stand-in and the security team's output gets the alert.

Only processes this test started are ever signalled. Skips when not root unless CI=true (then
it fails)."""
import json
import os
import shutil
import subprocess
import time
import unittest
import uuid

from k8s_standin import StandIn, small_cluster
from lanner_harness import Workspace, wait_until
from test_k8s_metadata import make_pod_cgroup, need_root, remove_cgroup

NODE = "node-rd-%d" % os.getpid()
RUN = uuid.uuid4().hex[:6]
VICTIM = "lnrkill%s" % RUN  # comm: at most 15 characters
BYSTANDER = "lnrkeep%s" % RUN
MINER = "xmrig%s" % RUN

RULES = """\
- rule: Marked program started
  desc: the test's victim program
  condition: evt.type in (execve, execveat) and proc.name = %(victim)s
  output: marked program started (proc.name=%%proc.name proc.pid=%%proc.pid proc.pid.ts=%%proc.pid.ts)
  priority: WARNING
  actions: [kill]

- rule: Crypto miner in a pod
  desc: the seed's example
  condition: evt.type in (execve, execveat) and proc.name = %(miner)s
  output: miner %%proc.name in %%k8s.ns.name/%%k8s.pod.name
  priority: CRITICAL
  actions: [scale_down_deployment, notify_security_team]
"""

POLICY = """\
actions:
  - name: kill
    action: process.kill
  - name: scale_down_deployment
    action: k8s.scale_down
  - name: notify_security_team
    action: notify
    parameters: {outputs: [slack]}
"""


class ResponseDetectorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_root()

    def setUp(self):
        self.ws = Workspace()
        self.tmp = self.ws.tmp.name
        self.children = []
        self.cgroups = []
        # shop/web's pod runs on this node, with a container whose cgroup the test creates
        self.cid = uuid.uuid4().hex + uuid.uuid4().hex
        cluster = small_cluster()
        for item in cluster["items"]:
            if item["kind"] == "Pod":
                item["spec"]["nodeName"] = NODE
                if item["metadata"]["name"] == "web-5d4f8c7b9-abcde":
                    item["status"]["containerStatuses"] = [{
                        "name": "app", "image": "docker.io/library/nginx:1.27",
                        "imageID": "docker.io/library/nginx@sha256:" + "3" * 64,
                        "containerID": "containerd://" + self.cid, "ready": True}]
                    self.web = item
        self.k8s = StandIn(self.tmp, cluster)
        self.rcv = self.ws.receiver()  # audits (source "response") and alerts
        self.team = self.ws.receiver()  # the security team's output (slack)
        kubeconfig = self.k8s.kubeconfig(os.path.join(self.tmp, "kubeconfig"))
        policy = os.path.join(self.tmp, "policy.yaml")
        with open(policy, "w", encoding="utf-8") as f:
            f.write(POLICY)
        rules = os.path.join(self.tmp, "rules.yaml")
        with open(rules, "w", encoding="utf-8") as f:
            f.write(RULES % {"victim": VICTIM, "miner": MINER})
        yaml = ("detector: {required: true}\nrule_matching: all\n"
                "webhook: {address: '%s'}\n"
                "slack: {webhookurl: '%s', minimumpriority: emergency}\n"
                "response: {enabled: true, kubeconfig: '%s', policy_file: '%s'}\n"
                "kubernetes: {node_name: %s, kubeconfig: '%s'}\n"
                % (self.rcv.url("/"), self.team.url("/"), kubeconfig, policy, NODE,
                   kubeconfig))
        self.lan = self.ws.lanner(yaml, args=["-r", rules])

    def tearDown(self):
        for p in self.children:
            if p.poll() is None:
                p.kill()
            p.wait()
        code = self.lan.stop()
        self.ws.close()
        self.k8s.close()
        for cg in self.cgroups:
            remove_cgroup(cg)
        self.assertEqual(code, 0)

    def program(self, name):
        """A copy of sleep under name (its comm), in the test's folder."""
        path = os.path.join(self.tmp, name)
        shutil.copy("/bin/sleep", path)
        return path

    def received(self, rcv):
        out = []
        for r in rcv.requests():
            try:
                out.append(json.loads(r["body"]))
            except (TypeError, ValueError):
                pass
        return out

    def audits(self, n, timeout=15):
        def got():
            a = [x for x in self.received(self.rcv) if x.get("source") == "response"]
            return a if len(a) >= n else None
        out = wait_until(got, timeout)
        self.assertTrue(out, "expected %d audit alert(s), got %s\nlanner log:\n%s" % (
            n, [(x.get("rule"), x.get("output")) for x in self.received(self.rcv)],
            self.lan.output()[-3000:]))
        return out

    def test_process_kill_from_a_detector_alert(self):
        bystander = subprocess.Popen([self.program(BYSTANDER), "60"])
        self.children.append(bystander)
        victim = subprocess.Popen([self.program(VICTIM), "60"])
        self.children.append(victim)
        t0 = time.monotonic()
        try:
            status = victim.wait(15)
        except subprocess.TimeoutExpired:
            self.fail("the victim was not killed\nlanner log:\n%s" % self.lan.output()[-3000:])
        took = time.monotonic() - t0
        self.assertEqual(status, -9, "killed by SIGKILL")
        a = self.audits(1)
        kills = [x for x in a if x["rule"].startswith("lanner response: process.kill")]
        self.assertEqual([x["rule"] for x in kills], ["lanner response: process.kill done"], a)
        alert = [x for x in self.received(self.rcv) if x.get("rule") == "Marked program started"]
        self.assertEqual(len(alert), 1)
        of = alert[0]["output_fields"]
        self.assertEqual(of["proc.pid"], victim.pid)
        self.assertEqual(of["proc.name"], VICTIM)
        self.assertIsInstance(of["proc.pid.ts"], int)
        # the sibling, its parent (this test) and lanner are untouched
        time.sleep(0.5)
        self.assertIsNone(bystander.poll())
        self.assertIsNone(self.lan.proc.poll())
        print("\nprocess.kill: exec -> SIGKILL in %.2f s" % took)

    def test_seed_example_scale_down_and_notify_from_the_detector(self):
        self.assertTrue(wait_until(lambda: "container(s) of node %s cached" % NODE
                                   in self.lan.output(), 20), self.lan.output()[-3000:])
        cg = make_pod_cgroup(self.web["metadata"]["uid"], self.cid)
        self.cgroups.append(cg)
        miner = self.program(MINER)
        # exec'ed inside the pod container's cgroup; lingers so its cgroup can be read
        p = subprocess.Popen(["/bin/sh", "-c", "echo $$ > %s/cgroup.procs && exec %s 2"
                              % (cg[0], miner)])
        self.children.append(p)
        audits = self.audits(2, timeout=20)
        rules = sorted(x["rule"] for x in audits)
        self.assertEqual(rules, ["lanner response: k8s.scale_down done",
                                 "lanner response: notify done"], audits)
        alert = [x for x in self.received(self.rcv) if x.get("rule") == "Crypto miner in a pod"]
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert[0]["priority"], "Critical")
        self.assertEqual(alert[0]["output_fields"]["k8s.ns.name"], "shop")
        self.assertEqual(alert[0]["output_fields"]["k8s.pod.name"], "web-5d4f8c7b9-abcde")
        self.assertEqual(self.k8s.get("deployments", "shop", "web")["spec"]["replicas"], 0)
        # a Slack message (not Falco JSON) naming the rule
        self.assertTrue(wait_until(lambda: any("Crypto miner in a pod" in (r["body"] or "")
                                               for r in self.team.requests()), 10),
                        self.team.requests())
        p.wait(30)


if __name__ == "__main__":
    unittest.main()
