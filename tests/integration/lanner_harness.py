# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for lanner's integration tests: start lanner and the local HTTP receiver on
127.0.0.1, talk to them, and stop them. Everything started here is stopped by close()."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LANNER = os.environ.get("LANNER_BIN", os.path.join(HERE, "../../build/gateway/lanner"))
RECEIVER = os.path.join(HERE, "receiver.py")

FALCO_JSON = (
    '{"hostname":"node-1","output":"14:50:34.502309868: Warning Sensitive file opened for '
    'reading by non-trusted program (file=/etc/shadow)","output_fields":{"evt.time":'
    '1746622234502309868,"fd.name":"/etc/shadow","proc.cmdline":"cat /etc/shadow",'
    '"proc.name":"cat","proc.tty":34820,"user.name":"root","user.uid":0},"priority":"Warning",'
    '"rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","container",'
    '"filesystem","host","maturity_stable","mitre_credential_access"],'
    '"time":"2025-05-07T12:50:34.502309868Z"}'
)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Receiver:
    def __init__(self, tmp, *args, port=0):
        self.out = os.path.join(tmp, "receiver-%d.jsonl" % time.monotonic_ns())
        self.proc = subprocess.Popen(
            [sys.executable, RECEIVER, "--out", self.out, "--port", str(port)] + list(args),
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("receiver did not start: %r" % line)
        self.port = int(line.split()[1])

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request("GET", "/__count")
            n = int(c.getresponse().read())
            c.close()
            return n
        except OSError:
            return -1

    def requests(self):
        if not os.path.exists(self.out):
            return []
        # Only whole lines: the receiver may be writing the last one while it is read.
        with open(self.out, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class Lanner:
    """lanner with a YAML config written to a temp dir; listens on a free loopback port."""

    def __init__(self, tmp, yaml="", args=(), wait=True, env=None, port=None, spool=None):
        self.port = port or free_port()
        self.cfg = os.path.join(tmp, "lanner-%d.yaml" % time.monotonic_ns())
        # The durable spool lives in the test's temp dir (disk mode, as shipped).
        self.spool = spool or os.path.join(tmp, "spool-%d.db" % time.monotonic_ns())
        with open(self.cfg, "w") as f:
            f.write("listenaddress: 127.0.0.1\nlistenport: %d\n" % self.port)
            f.write("stdout: {enabled: false}\n")
            if "spool:" not in yaml:
                f.write("spool: {path: '%s'}\n" % self.spool)
            # The detector sees the whole machine: only the tests about it turn it on.
            if "detector:" not in yaml:
                f.write("detector: {enabled: false}\n")
            f.write(yaml)
        self.log = open(os.path.join(tmp, "lanner-%d.log" % time.monotonic_ns()), "w+")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([LANNER, "-c", self.cfg] + list(args),
                                     stdout=self.log, stderr=subprocess.STDOUT, env=e)
        if wait and not wait_until(self.healthy, 60):
            self.close()
            raise RuntimeError("lanner did not start:\n" + self.output())

    def healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError("lanner exited (%d):\n%s" % (self.proc.returncode, self.output()))
        try:
            status, _, _ = self.request("GET", "/healthz")
            return status == 200
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        hdrs = dict(r.getheaders())
        if conn is None:
            c.close()
        return r.status, data, hdrs

    def post_alert(self, body, conn=None):
        return self.request("POST", "/", body=body,
                            headers={"Content-Type": "application/json"}, conn=conn)

    def metrics(self):
        status, data, _ = self.request("GET", "/metrics")
        assert status == 200
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self):
        self.stop()
        self.log.close()


class Workspace:
    """A temp dir and everything started in it, stopped in reverse order."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="lanner-it-")
        self.started = []

    def receiver(self, *args, port=0):
        r = Receiver(self.tmp.name, *args, port=port)
        self.started.append(r)
        return r

    def lanner(self, yaml="", args=(), wait=True, env=None, port=None, spool=None):
        lan = Lanner(self.tmp.name, yaml, args, wait, env, port, spool)
        self.started.append(lan)
        return lan

    def close(self):
        for p in reversed(self.started):
            p.close()
        self.tmp.cleanup()
