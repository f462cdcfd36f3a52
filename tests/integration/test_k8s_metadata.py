# SPDX-License-Identifier: Apache-2.0
"""Pod metadata on syscall alerts, end to end (root, real kernel): the Kubernetes API stand-in
serves this node's pods (list + chunked watch); a process this test places in a cgroup named
like a containerd pod container raises an alert that carries the pod's name, namespace, uid,
labels, container name, image (repository, tag) and privileged flag. A pod added later through
the watch is picked up, a deleted one is forgotten, and a 410 on the watch leads to a relist
(seen in the stand-in's request log) after which the watch goes on. With the API down, alerts
still flow, without those fields, and the reason is logged once. Only processes this test
started are ever signalled. Skips when not root unless CI=true (then it fails)."""
import json
import os
import subprocess
import sys
import time
import unittest
import uuid

from k8s_standin import StandIn
from lanner_harness import Workspace, wait_until

NODE = "node-it-%d" % os.getpid()
RUN = uuid.uuid4().hex[:8]


def need_root():
    if os.geteuid() == 0:
        return
    if os.environ.get("CI") == "true":
        raise AssertionError("CI=true but not root: the detector tests need root on the real kernel")
    raise unittest.SkipTest("the detector needs root (BPF) on the real kernel")


def make_pod_cgroup(pod_uid, cid):
    """A cgroup named like a containerd (CRI) pod container; returns [leaf, dirs to remove]."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        base = "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice"
        leaf = os.path.join(base, "kubepods-besteffort-pod%s.slice" % pod_uid.replace("-", "_"),
                            "cri-containerd-%s.scope" % cid)
    else:
        leaf = os.path.join("/sys/fs/cgroup/pids/kubepods/besteffort", "pod" + pod_uid, cid)
    created = []
    path = "/"
    for part in leaf.strip("/").split("/"):
        path = os.path.join(path, part)
        if not os.path.exists(path):
            os.mkdir(path)
            created.append(path)
    return [leaf, created]


def remove_cgroup(cg):
    for path in reversed(cg[1]):
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.05)


def pod(name, ns, cid, labels, image="docker.io/library/nginx:1.27", privileged=False,
        node=NODE):
    uid = str(uuid.uuid4())
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": "1",
                         "creationTimestamp": "2026-01-01T00:00:00Z", "labels": labels},
            "spec": {"nodeName": node,
                     "containers": [{"name": "sidecar", "image": "busybox:1.36"},
                                    {"name": "app", "image": image.split("/")[-1],
                                     "securityContext": {"privileged": privileged}}]},
            "status": {"phase": "Running",
                       "containerStatuses": [
                           {"name": "sidecar", "image": "docker.io/library/busybox:1.36",
                            "imageID": "docker.io/library/busybox@sha256:" + "1" * 64,
                            "containerID": "containerd://" + uuid.uuid4().hex * 2, "ready": True},
                           {"name": "app", "image": image,
                            "imageID": image.rsplit(":", 1)[0] + "@sha256:" + "2" * 64,
                            "containerID": "containerd://" + cid, "ready": True}]}}


FIELDS = ["k8s.pod.name", "k8s.ns.name", "k8s.pod.uid", "k8s.pod.labels", "k8s.pod.label[app]",
          "container.name", "container.image", "container.image.repository",
          "container.image.tag", "container.privileged", "container.id", "fd.name"]
RULE = """- rule: Pod metadata marker
  desc: a marker file read by a process this test placed (creating it is no match)
  condition: evt.type in (open, openat) and evt.is_open_read=true and fd.name startswith "%s/marker-"
  output: "marker %s"
  priority: WARNING
"""


def missing(v):
    return v is None or v == "<NA>" or v == []


class K8sMetadataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_root()

    def setUp(self):
        self.ws = Workspace()
        self.dir = os.path.join(self.ws.tmp.name, "d")
        os.mkdir(self.dir)
        self.rules = os.path.join(self.ws.tmp.name, "rules.yaml")
        with open(self.rules, "w") as f:
            f.write(RULE % (self.dir, " ".join("%s=%%%s" % (k, k) for k in FIELDS)))
        self.cgroups = []
        self.standin = None
        self.n = 0

    def tearDown(self):
        self.ws.close()
        if self.standin:
            self.standin.close()
        for cg in self.cgroups:
            remove_cgroup(cg)

    def start_lanner(self, kubeconfig):
        self.rcv = self.ws.receiver()
        yaml = ("webhook: {address: '%s'}\nrule_matching: all\ndetector: {required: true}\n"
                "kubernetes: {node_name: %s, kubeconfig: '%s'}\n"
                % (self.rcv.url("/"), NODE, kubeconfig))
        self.lan = self.ws.lanner(yaml, args=["-r", self.rules])

    def cgroup(self, p, name="app"):
        cid = [c for c in p["status"]["containerStatuses"] if c["name"] == name][0]
        cg = make_pod_cgroup(p["metadata"]["uid"], cid["containerID"].split("://")[1])
        self.cgroups.append(cg)
        return cg[0]

    def alerts(self):
        out = []
        for r in self.rcv.requests():
            try:
                out.append(json.loads(r["body"]))
            except (TypeError, ValueError):
                pass
        return out

    def open_in(self, cg):
        """cat a fresh marker file from a process in cgroup cg; returns the alert's fields."""
        self.n += 1
        marker = os.path.join(self.dir, "marker-%s-%d" % (RUN, self.n))
        open(marker, "w").close()
        # the process lingers a moment: the detector reads its cgroup when it handles the exec
        script = 'echo $$ > %s/cgroup.procs && exec %s -c "%s"' % (
            cg, sys.executable, "import time; open('%s').read(); time.sleep(1)" % marker)
        subprocess.run(["/bin/sh", "-c", script], stdout=subprocess.DEVNULL, timeout=30,
                       check=True)

        def got():
            return [a for a in self.alerts()
                    if (a.get("output_fields") or {}).get("fd.name") == marker]
        self.assertTrue(wait_until(got, 10), "no alert for %s\nlanner log:\n%s" % (
            marker, self.lan.output()[-3000:]))
        a = got()[0]
        self.assertEqual(a["rule"], "Pod metadata marker")
        self.assertEqual(a["source"], "syscall")
        return a["output_fields"]

    def until_fields(self, cg, pred, what, timeout=15):
        """Open markers in cg until the alert's fields satisfy pred (the watch is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            of = self.open_in(cg)
            if pred(of):
                return of
            if time.monotonic() > deadline:
                self.fail("%s: last fields %s\nlanner log:\n%s" % (
                    what, of, self.lan.output()[-3000:]))
            time.sleep(0.3)

    def assert_pod(self, of, p, cid):
        md = p["metadata"]
        self.assertEqual(of["k8s.pod.name"], md["name"])
        self.assertEqual(of["k8s.ns.name"], md["namespace"])
        self.assertEqual(of["k8s.pod.uid"], md["uid"])
        self.assertEqual(of["k8s.pod.label[app]"], md["labels"]["app"])
        labels = of["k8s.pod.labels"]
        if isinstance(labels, str):
            labels = labels.strip("()").split(",")
        self.assertEqual(sorted(labels), sorted("%s:%s" % kv for kv in md["labels"].items()))
        st = [c for c in p["status"]["containerStatuses"] if c["name"] == "app"][0]
        self.assertEqual(of["container.name"], "app")
        self.assertEqual(of["container.image"], st["image"])
        repo, tag = st["image"].rsplit(":", 1)
        self.assertEqual(of["container.image.repository"], repo)
        self.assertEqual(of["container.image.tag"], tag)
        priv = [c for c in p["spec"]["containers"] if c["name"] == "app"][0]["securityContext"]
        self.assertEqual(of["container.privileged"], priv["privileged"])
        self.assertEqual(of["container.id"], cid[:12])

    def list_requests(self, since=0):
        return [r for r in self.standin.requests()
                if r["method"] == "GET" and r["path"].startswith("/api/v1/pods?")
                and "watch=1" not in r["path"] and r["t_start"] >= since]

    def test_pods_list_watch_relist(self):
        cid_a = uuid.uuid4().hex + uuid.uuid4().hex
        cid_b = uuid.uuid4().hex + uuid.uuid4().hex
        cid_c = uuid.uuid4().hex + uuid.uuid4().hex
        pa = pod("web-7d9f-x2x1", "shop", cid_a, {"app": "web", "tier": "front"},
                 privileged=True)
        other = pod("elsewhere", "shop", uuid.uuid4().hex * 2, {"app": "x"}, node="node-other")
        self.standin = StandIn(self.ws.tmp.name, {"items": [pa, other]})
        self.start_lanner(self.standin.kubeconfig(os.path.join(self.ws.tmp.name, "kubeconfig")))
        self.assertTrue(wait_until(lambda: "pod metadata: 2 container(s) of node %s cached"
                                   % NODE in self.lan.output(), 20), self.lan.output()[-3000:])
        lists = self.list_requests()
        self.assertTrue(lists)
        self.assertIn("fieldSelector=spec.nodeName%3D" + NODE, lists[0]["path"])

        # listed pod
        of = self.open_in(self.cgroup(pa))
        self.assert_pod(of, pa, cid_a)

        # a pod added later, through the watch
        pb = pod("api-5c8b-q7z4", "payments", cid_b, {"app": "api", "team": "pay"},
                 image="registry.example:5000/pay/api:2.4.1")
        cg_b = self.cgroup(pb)
        self.assertTrue(missing(self.open_in(cg_b).get("k8s.pod.name")))
        self.standin.pod_event("ADDED", pb)
        of = self.until_fields(cg_b, lambda f: f.get("k8s.pod.name") == "api-5c8b-q7z4",
                               "pod added through the watch")
        self.assert_pod(of, pb, cid_b)
        self.assertEqual(of["container.image.repository"], "registry.example:5000/pay/api")

        # deleted through the watch: its metadata goes
        self.standin.pod_event("DELETED", pb)
        of = self.until_fields(cg_b, lambda f: missing(f.get("k8s.pod.name")),
                               "pod deleted through the watch")
        self.assertEqual(of["container.id"], cid_b[:12])

        # 410 Gone on the watch: a relist, then the watch resumes from the new list
        t_expire = time.time()
        self.standin.expire()
        self.assertTrue(wait_until(lambda: self.list_requests(t_expire), 20),
                        "no relist after 410\n" + self.lan.output()[-3000:])
        self.assertIn("410 Gone", self.lan.output())
        pc = pod("db-0", "shop", cid_c, {"app": "db"})
        self.standin.pod_event("ADDED", pc)
        of = self.until_fields(self.cgroup(pc), lambda f: f.get("k8s.pod.name") == "db-0",
                               "pod added after the relist")
        self.assert_pod(of, pc, cid_c)
        watches = [r for r in self.standin.requests() if "watch=1" in r["path"]
                   and r["t_start"] >= t_expire]
        self.assertTrue(watches, "no watch after the relist")
        # the listed pod survived the relist
        self.assert_pod(self.open_in(self.cgroup(pa)), pa, cid_a)
        m = self.lan.metrics()
        self.assertGreaterEqual(m["lanner_k8s_metadata_lists_total"], 2)
        self.assertGreaterEqual(m["lanner_k8s_metadata_watch_events_total"], 3)
        self.assertEqual(m["lanner_k8s_metadata_containers"], 4)  # web and db, 2 each

    def test_api_down_alerts_flow_without_fields(self):
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        pa = pod("web-1", "shop", cid, {"app": "web"})
        self.standin = StandIn(self.ws.tmp.name, {"items": [pa]})
        kubeconfig = self.standin.kubeconfig(os.path.join(self.ws.tmp.name, "kubeconfig"))
        self.standin.close()  # the API server is down: nothing listens on its port
        self.standin = None
        self.start_lanner(kubeconfig)
        of = self.open_in(self.cgroup(pa))
        self.assertEqual(of["container.id"], cid[:12])
        for k in ("k8s.pod.name", "k8s.ns.name", "k8s.pod.uid", "k8s.pod.label[app]",
                  "container.name", "container.image"):
            self.assertTrue(missing(of.get(k)), "%s: %r" % (k, of.get(k)))
        # several retries later (0.5 + 1 + 2 s), the reason was still logged once
        time.sleep(4)
        self.open_in(self.cgroup(pa))
        out = self.lan.output()
        self.assertEqual(out.count("pod metadata: cannot list pods of node"), 1, out[-3000:])
        m = self.lan.metrics()
        self.assertGreaterEqual(m["lanner_k8s_metadata_errors_total"], 3)
        self.assertEqual(m["lanner_k8s_metadata_containers"], 0)


if __name__ == "__main__":
    unittest.main()
