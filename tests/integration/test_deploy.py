# SPDX-License-Identifier: Apache-2.0
"""deploy/: the manifests parse, and they reference only what lanner really has: configuration
keys `lanner --help-config` lists (and each embedded config passes `lanner --dry-run`), the port
each config listens on, HTTP paths lanner serves, capabilities the code needs (each backed by
the code that needs it), the service account and ConfigMaps defined alongside, and runtime
packages that exist in Debian bookworm."""
import os
import re
import subprocess
import tempfile
import unittest

import yaml  # python3-yaml (scripts/deps.sh)

from lanner_harness import LANNER

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../.."))
DEPLOY = os.path.join(ROOT, "deploy")

# Each capability the node agent may add, and the code that needs it: (file, regex).
CAP_EVIDENCE = {
    "BPF": ("detector/lring.c", r"bpf_map_create\("),
    "PERFMON": ("detector/probe.c", r"bpf_program__attach\("),
    "SYS_RESOURCE": ("detector/lring.c", r"BPF_F_MMAPABLE"),
    "SYS_PTRACE": ("detector/proctable.c", r"readlink\("),
    "DAC_READ_SEARCH": ("detector/fdtable.c", r'"/proc/%d/fd/'),
    "KILL": ("response/action_process_kill.c", r"kill\(\(pid_t\)pid, SIGKILL\)"),
}
# Paths lanner's HTTP server serves (gateway/routes.c, gateway/audit_route.c).
ROUTES = {"/", "/test", "/healthz", "/ping", "/metrics", "/k8s-audit"}


def load_all():
    docs = {}
    for name in sorted(os.listdir(DEPLOY)):
        if name.endswith(".yaml"):
            with open(os.path.join(DEPLOY, name), encoding="utf-8") as f:
                docs[name] = [d for d in yaml.safe_load_all(f) if d is not None]
    return docs


def help_config():
    r = subprocess.run([LANNER, "--help-config"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    keys = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and re.match(r"^[a-z_][a-z0-9_.]*$", parts[0]):
            keys[parts[0]] = parts[1]
    return keys


def flatten(d, prefix=""):
    for k, v in d.items():
        key = prefix + k
        if isinstance(v, dict) and v:
            yield from flatten(v, key + ".")
        else:
            yield key


def containers(doc):
    return doc["spec"]["template"]["spec"]["containers"]


class DeployTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = load_all()
        cls.keys = help_config()
        cls.by_kind = {}
        for name, docs in cls.docs.items():
            for d in docs:
                cls.by_kind.setdefault(d["kind"], []).append((name, d))

    def one(self, kind, name):
        found = [d for _, d in self.by_kind.get(kind, []) if d["metadata"]["name"] == name]
        self.assertEqual(len(found), 1, "%s/%s" % (kind, name))
        return found[0]

    def config_of(self, workload):
        """The lanner config (parsed) a workload mounts, checked against its args."""
        spec = workload["spec"]["template"]["spec"]
        c = containers(workload)[0]
        self.assertEqual(c["args"][0], "-c")
        path = c["args"][1]
        mount = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        self.assertEqual(len(mount), 1, path)
        vol = [v for v in spec["volumes"] if v["name"] == mount[0]["name"]][0]
        cm = self.one("ConfigMap", vol["configMap"]["name"])
        text = cm["data"][os.path.basename(path)]
        return text, yaml.safe_load(text)

    def test_manifests_parse(self):
        self.assertGreaterEqual(set(self.docs), {"namespace.yaml", "daemonset.yaml",
                                                 "gateway.yaml", "rbac-metadata.yaml"})
        for name, docs in self.docs.items():
            for d in docs:
                with self.subTest(name, kind=d.get("kind")):
                    self.assertIn("apiVersion", d)
                    self.assertIn("name", d["metadata"])
                    if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                        self.assertEqual(d["metadata"]["namespace"], "lanner")

    def test_config_keys_exist(self):
        for kind, name in (("DaemonSet", "lanner-agent"), ("Deployment", "lanner-gateway")):
            with self.subTest(name):
                text, cfg = self.config_of(self.one(kind, name))
                for key in flatten(cfg):
                    parent = key.rsplit(".", 1)[0]
                    self.assertTrue(key in self.keys or self.keys.get(parent) == "map",
                                    "%s: unknown key %s" % (name, key))
                with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                    f.write(text)
                    f.flush()
                    r = subprocess.run([LANNER, "-c", f.name, "--dry-run"], capture_output=True,
                                       text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_ports_and_paths(self):
        for kind, name in (("DaemonSet", "lanner-agent"), ("Deployment", "lanner-gateway")):
            with self.subTest(name):
                w = self.one(kind, name)
                _, cfg = self.config_of(w)
                port = cfg["listenport"]
                self.assertEqual(cfg["listenaddress"], "0.0.0.0")  # probes come from the kubelet
                c = containers(w)[0]
                self.assertEqual([p["containerPort"] for p in c["ports"]], [port])
                for probe in ("readinessProbe", "livenessProbe"):
                    self.assertEqual(c[probe]["httpGet"]["port"], port)
                    self.assertIn(c[probe]["httpGet"]["path"], ROUTES)
        svc = self.one("Service", "lanner-gateway")
        gw = self.one("Deployment", "lanner-gateway")
        _, gcfg = self.config_of(gw)
        self.assertEqual([p["targetPort"] for p in svc["spec"]["ports"]], [gcfg["listenport"]])
        labels = gw["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()))
        # the agents forward to that Service, on its port, at a path lanner serves
        _, acfg = self.config_of(self.one("DaemonSet", "lanner-agent"))
        m = re.match(r"^http://([^.]+)\.([^.]+)\.svc:(\d+)(/.*)$", acfg["webhook"]["address"])
        self.assertIsNotNone(m)
        self.assertEqual((m.group(1), m.group(2)), ("lanner-gateway", "lanner"))
        self.assertEqual(int(m.group(3)), svc["spec"]["ports"][0]["port"])
        self.assertIn(m.group(4), ROUTES)
        with open(os.path.join(DEPLOY, "Containerfile"), encoding="utf-8") as f:
            self.assertIn("EXPOSE %d\n" % gcfg["listenport"], f.read())

    def test_capabilities(self):
        for _, docs in self.docs.items():
            for d in docs:
                self.assertNotIn("privileged: true", yaml.safe_dump(d))
        ds = self.one("DaemonSet", "lanner-agent")
        spec = ds["spec"]["template"]["spec"]
        self.assertTrue(spec["hostPID"])
        sc = containers(ds)[0]["securityContext"]
        self.assertFalse(sc["privileged"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        added = sc["capabilities"]["add"]
        _, cfg = self.config_of(ds)
        for cap in added:
            with self.subTest(cap):
                self.assertIn(cap, CAP_EVIDENCE, "capability without a reason in the code")
                path, pattern = CAP_EVIDENCE[cap]
                with open(os.path.join(ROOT, path), encoding="utf-8") as f:
                    self.assertRegex(f.read(), pattern)
        self.assertTrue({"BPF", "PERFMON"} <= set(added))
        self.assertEqual("KILL" in added, bool(cfg.get("response", {}).get("enabled")),
                         "KILL only with the responder on")
        self.assertNotIn("SYS_ADMIN", added)  # the host's tracefs is mounted: no mount(2)
        # the gateway needs none
        gsc = containers(self.one("Deployment", "lanner-gateway"))[0]["securityContext"]
        self.assertEqual(gsc["capabilities"], {"drop": ["ALL"]})

    def test_host_mounts(self):
        ds = self.one("DaemonSet", "lanner-agent")
        spec = ds["spec"]["template"]["spec"]
        mounts = {m["name"]: m for m in containers(ds)[0]["volumeMounts"]}
        host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
        with open(os.path.join(ROOT, "detector/probe.c"), encoding="utf-8") as f:
            probe = f.read()
        btf = re.search(r'#define BTF_VMLINUX "([^"]+)/vmlinux"', probe).group(1)
        tracefs = re.search(r'#define TRACEFS "([^"]+)"', probe).group(1)
        _, cfg = self.config_of(ds)
        want = {btf: btf, tracefs: tracefs, "/proc": cfg["response"]["proc_root"]}
        for hostpath, mountpath in want.items():
            with self.subTest(hostpath):
                name = [n for n, p in host.items() if p == hostpath]
                self.assertEqual(len(name), 1)
                self.assertEqual(mounts[name[0]]["mountPath"], mountpath)
                self.assertTrue(mounts[name[0]]["readOnly"])
        # the spool lives where the config says
        spool = cfg["spool"]["path"]
        self.assertTrue(any(spool.startswith(m["mountPath"] + "/") and not m.get("readOnly")
                            for m in mounts.values()))

    def test_rbac_and_accounts(self):
        accounts = {(d["metadata"]["namespace"], d["metadata"]["name"])
                    for _, d in self.by_kind["ServiceAccount"]}
        for kind in ("DaemonSet", "Deployment"):
            for _, w in self.by_kind[kind]:
                sa = w["spec"]["template"]["spec"]["serviceAccountName"]
                self.assertIn((w["metadata"]["namespace"], sa), accounts)
        role = self.one("ClusterRole", "lanner-pod-metadata")
        self.assertEqual(role["rules"], [{"apiGroups": [""], "resources": ["pods"],
                                          "verbs": ["get", "list", "watch"]}])
        binding = self.one("ClusterRoleBinding", "lanner-pod-metadata")
        self.assertEqual(binding["roleRef"]["name"], "lanner-pod-metadata")
        for s in binding["subjects"]:
            self.assertIn((s["namespace"], s["name"]), accounts)

    def test_pod_metadata(self):
        """The agent watches its own node's pods: NODE_NAME from the downward API (read by
        gateway/podwatch.c), metadata on in its config, pods list/watch granted to its account."""
        ds = self.one("DaemonSet", "lanner-agent")
        env = {e["name"]: e for e in containers(ds)[0].get("env", [])}
        self.assertEqual(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName")
        with open(os.path.join(ROOT, "gateway/podwatch.c"), encoding="utf-8") as f:
            code = f.read()
        self.assertIn('getenv("NODE_NAME")', code)
        self.assertIn("fieldSelector=spec.nodeName", code)
        self.assertIn("watch=1", code)
        _, cfg = self.config_of(ds)
        self.assertTrue(cfg["kubernetes"]["metadata"]["enabled"])
        role = self.one("ClusterRole", "lanner-pod-metadata")
        self.assertTrue({"list", "watch"} <= set(role["rules"][0]["verbs"]))
        binding = self.one("ClusterRoleBinding", "lanner-pod-metadata")
        sa = ds["spec"]["template"]["spec"]["serviceAccountName"]
        self.assertIn({"kind": "ServiceAccount", "name": sa,
                       "namespace": ds["metadata"]["namespace"]}, binding["subjects"])

    def test_containerfile(self):
        with open(os.path.join(DEPLOY, "Containerfile"), encoding="utf-8") as f:
            text = f.read()
        froms = re.findall(r"^FROM (\S+)", text, re.M)
        self.assertEqual(froms, ["docker.io/library/debian:bookworm",
                                 "docker.io/library/debian:bookworm-slim"])
        self.assertIn("/src/scripts/deps.sh", text)
        self.assertIn("--target lanner", text)
        # the runtime packages are real bookworm packages: the build machine (bookworm) has
        # every one of them installed, since lanner links their libraries
        pkgs = re.search(r"--no-install-recommends \\\n(.*?)\\\n &&", text, re.S).group(1).split()
        pkgs = [p for p in pkgs if p != "\\"]
        self.assertIn("libh2o0.13", pkgs)
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\\n"] + pkgs,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("install ok installed"), len(pkgs), r.stdout)
        # every shared library the built lanner links comes from one of them (or libc)
        ldd = subprocess.run(["ldd", LANNER], capture_output=True, text=True).stdout
        for lib in ("libbpf", "libh2o", "libjansson", "librdkafka", "libuv", "libz"):
            if lib in ldd:
                self.assertTrue(any(p.startswith(lib.replace("libz", "zlib")) for p in pkgs), lib)
        # and the ones it loads by soname on first use (outputs/curl_dl.h, kafka_dl.h)
        self.assertNotIn("libcurl.so", ldd)
        self.assertNotIn("librdkafka.so", ldd)
        self.assertIn("libcurl4", pkgs)
        self.assertIn("librdkafka1", pkgs)


if __name__ == "__main__":
    unittest.main()
