# SPDX-License-Identifier: Apache-2.0
"""The syslog output end to end: lanner -> a real rsyslogd started by the test (its own config,
pid file and work directory in a temp dir, loopback ports or a socket in the temp dir; the
system's syslog is never touched) -> the file rsyslogd writes. Issue 5's acceptance tests: RFC
5424 and RFC 3164 lines, CEF, and an rsyslogd restart mid-stream over tcp losing nothing."""
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
import uuid as uuidlib

from lanner_harness import FALCO_JSON, Workspace, free_port, wait_until

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

# What rsyslogd writes per message: PRI, what it parsed, and the raw message as received.
TEMPLATE = ('template(name="lanner" type="string" '
            'string="%pri%\\t%hostname%\\t%app-name%\\t%procid%\\t%rawmsg%\\n")\n')

CEF_OF_FALCO_JSON = (
    "CEF:0|Falcosecurity|Falco|1.0|Falco Event|Read sensitive file untrusted|6|uuid=%s "
    "start=2025-05-07T12:50:34Z msg=14:50:34.502309868: Warning Sensitive file opened for "
    "reading by non-trusted program (file\\=/etc/shadow) source=syscall hostname=node-1 "
    "outputfields=evt.time:1746622234502309868 fd.name:/etc/shadow proc.cmdline:cat /etc/shadow "
    "proc.name:cat proc.tty:34820 user.name:root user.uid:0 tags=T1555,container,filesystem,"
    "host,maturity_stable,mitre_credential_access")


class Rsyslogd:
    """rsyslogd -n with a test config: tcp+udp on 127.0.0.1:port, or a unix socket."""

    def __init__(self, tmp, out, port=None, unix_socket=None):
        self.n = time.monotonic_ns()
        self.dir = os.path.join(tmp, "rsyslog-%d" % self.n)
        os.makedirs(os.path.join(self.dir, "work"))
        self.port, self.unix_socket, self.out = port, unix_socket, out
        conf = os.path.join(self.dir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write('global(workDirectory="%s/work")\n' % self.dir)
            if unix_socket:
                f.write('module(load="imuxsock" SysSock.Use="off")\n'
                        'input(type="imuxsock" Socket="%s" CreatePath="on" '
                        'RateLimit.Interval="0" UseSysTimeStamp="off" '
                        'UseSpecialParser="off" ParseHostname="on")\n' % unix_socket)
            else:
                f.write('module(load="imtcp")\nmodule(load="imudp")\n'
                        'input(type="imtcp" port="%d" address="127.0.0.1")\n'
                        'input(type="imudp" port="%d" address="127.0.0.1")\n' % (port, port))
            f.write(TEMPLATE)
            f.write('*.* action(type="omfile" file="%s" template="lanner" '
                    'flushOnTXEnd="on")\n' % out)
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "w+")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", conf, "-i", os.path.join(self.dir, "rsyslogd.pid")],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(self.ready, 30, step=0.05):
            self.close()
            raise RuntimeError("rsyslogd did not start: " + self.output())

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("rsyslogd exited: " + self.output())
        if self.unix_socket:
            return os.path.exists(self.unix_socket)
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class TlsCollector:
    """A minimal RFC 5425 collector: TLS on 127.0.0.1, octet-counted frames, kept in order.
    (Debian's rsyslog ships its TLS drivers in packages this machine does not have.)"""

    def __init__(self, tmp):
        self.cert = os.path.join(tmp, "collector.pem")
        key = os.path.join(tmp, "collector.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", self.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.frames, self.handshake_errors = [], []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(raw,), daemon=True).start()

    def session(self, raw):
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.handshake_errors.append(str(e))
            raw.close()
            return
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not data:
                break
            buf += data
            while b" " in buf:
                head, _, rest = buf.partition(b" ")
                n = int(head)
                if len(rest) < n:
                    break
                with self.lock:
                    self.frames.append(rest[:n].decode())
                buf = rest[n:]
        conn.close()

    def close(self):
        self.sock.close()


def lines(path):
    """The records rsyslogd wrote: (pri, hostname, app-name, procid, rawmsg)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 4)) for line in f if line.strip()]


def with_uuid(u):
    return FALCO_JSON[:-1] + ',"uuid":"%s"}' % u


def uuid_of(raw):
    i = raw.find('"uuid":"')
    if i >= 0:
        return raw[i + 8:i + 44]
    i = raw.find("uuid=")
    return raw[i + 5:i + 41] if i >= 0 else None


class SyslogTest(unittest.TestCase):
    def setUp(self):
        if not os.access(RSYSLOGD, os.X_OK):
            self.fail("rsyslogd is not installed (scripts/deps.sh installs it)")
        self.ws = Workspace()
        self.daemons = []
        self.out = os.path.join(self.ws.tmp.name, "syslog.out")

    def tearDown(self):
        self.ws.close()
        for d in self.daemons:
            d.close()

    def rsyslogd(self, **kw):
        d = Rsyslogd(self.ws.tmp.name, self.out, **kw)
        self.daemons.append(d)
        return d

    def lanner(self, syslog_yaml, extra=""):
        return self.ws.lanner("syslog:\n%s%s" % (syslog_yaml, extra), env={"TZ": "UTC"})

    def post(self, lan, n):
        sent = []
        conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=10)
        for _ in range(n):
            u = str(uuidlib.uuid4())
            status, body, _ = lan.post_alert(with_uuid(u), conn=conn)
            self.assertEqual(status, 200, body)
            sent.append(u)
        conn.close()
        return sent

    def test_rfc5424_json_over_tcp(self):
        port = free_port()
        self.rsyslogd(port=port)
        lan = self.lanner("  host: 127.0.0.1\n  port: %d\n  protocol: tcp\n" % port)
        sent = self.post(lan, 20)
        self.assertTrue(wait_until(lambda: len(lines(self.out)) == 20, 30), lan.output())
        got = lines(self.out)
        pid = lan.proc.pid
        for u, (pri, host, app, procid, raw) in zip(sent, got):
            # local0 (16) * 8 + Warning (4)
            self.assertEqual(raw, "<132>1 2025-05-07T12:50:34.502309Z node-1 falco %d - - %s"
                             % (pid, with_uuid(u)))
            self.assertEqual((pri, host, app, procid), ("132", "node-1", "falco", str(pid)))
        m = lan.metrics()
        self.assertEqual(
            m['falcosecurity_falcosidekick_outputs_total{destination="syslog",status="ok"}'], 20)

    def test_rfc3164_cef_over_udp(self):
        port = free_port()
        self.rsyslogd(port=port)
        lan = self.lanner("  host: 127.0.0.1\n  port: %d\n  protocol: udp\n  rfc: 3164\n"
                          "  format: cef\n  facility: daemon\n" % port)
        sent = self.post(lan, 10)
        self.assertTrue(wait_until(lambda: len(lines(self.out)) == 10, 30), lan.output())
        pid = lan.proc.pid
        got = sorted(lines(self.out), key=lambda r: sent.index(uuid_of(r[4])))
        for u, (pri, host, app, procid, raw) in zip(sent, got):
            # daemon (3) * 8 + Warning (4); BSD timestamp in local time (TZ=UTC here).
            self.assertEqual(raw, "<28>May  7 12:50:34 node-1 falco[%d]: %s"
                             % (pid, CEF_OF_FALCO_JSON % u))
            self.assertEqual((pri, host, app, procid), ("28", "node-1", "falco", str(pid)))

    def test_rfc5424_cef_over_unix_socket(self):
        sock = os.path.join(self.ws.tmp.name, "log.sock")
        self.rsyslogd(unix_socket=sock)
        lan = self.lanner("  host: '%s'\n  protocol: unix\n  format: cef\n" % sock)
        sent = self.post(lan, 5)
        self.assertTrue(wait_until(lambda: len(lines(self.out)) == 5, 30), lan.output())
        pid = lan.proc.pid
        got = sorted(lines(self.out), key=lambda r: sent.index(uuid_of(r[4])))
        for u, (pri, _, app, _, raw) in zip(sent, got):
            self.assertEqual(raw, "<132>1 2025-05-07T12:50:34.502309Z node-1 falco %d - - %s"
                             % (pid, CEF_OF_FALCO_JSON % u))
            self.assertEqual((pri, app), ("132", "falco"))

    def test_rfc5424_over_tls(self):
        col = TlsCollector(self.ws.tmp.name)
        self.addCleanup(col.close)
        lan = self.lanner("  host: 127.0.0.1\n  port: %d\n  protocol: tls\n"
                          "  tls: {ca: '%s'}\n" % (col.port, col.cert))
        sent = self.post(lan, 10)
        self.assertTrue(wait_until(lambda: len(col.frames) == 10, 30), lan.output())
        pid = lan.proc.pid
        self.assertEqual(col.frames, ["<132>1 2025-05-07T12:50:34.502309Z node-1 falco %d - - %s"
                                      % (pid, with_uuid(u)) for u in sent])
        self.assertIn("over tls (TLSv1.3)", lan.output())
        # A clean exit (and, under ASan, no leak of the TLS state).
        self.assertEqual(lan.stop(), 0, lan.output())

    def test_tls_certificate_not_trusted_is_retried_with_the_reason(self):
        col = TlsCollector(self.ws.tmp.name)
        self.addCleanup(col.close)
        lan = self.lanner("  host: 127.0.0.1\n  port: %d\n  protocol: tls\n" % col.port,
                          "retry: {initial: 100ms, max: 500ms}\n")
        self.post(lan, 1)
        key = 'lanner_retries_total{sink="syslog"}'
        self.assertTrue(wait_until(lambda: lan.metrics().get(key, 0) >= 2, 30), lan.output())
        self.assertIn("handshake: certificate: self-signed certificate", lan.output())
        self.assertEqual(col.frames, [])

    def test_rsyslogd_restart_mid_stream_over_tcp_loses_nothing(self):
        port = free_port()
        first = self.rsyslogd(port=port)
        lan = self.lanner("  host: 127.0.0.1\n  port: %d\n  protocol: tcp\n" % port,
                          "retry: {initial: 100ms, max: 1s}\n")
        sent = []
        stop = threading.Event()

        def producer():
            conn = http.client.HTTPConnection("127.0.0.1", lan.port, timeout=10)
            while not stop.is_set() and len(sent) < 5000:
                u = str(uuidlib.uuid4())
                status, _, _ = lan.post_alert(with_uuid(u), conn=conn)
                if status == 200:
                    sent.append(u)
                time.sleep(0.005)
            conn.close()

        t = threading.Thread(target=producer)
        t.start()
        try:
            self.assertTrue(wait_until(lambda: len(sent) >= 150, 60))
            # Restart: SIGTERM, down for a second and until alerts arrived meanwhile (the
            # producer is slow on a loaded machine), start again, 150 more after it.
            first.proc.send_signal(signal.SIGTERM)
            first.proc.wait(30)
            at_stop = len(sent)
            time.sleep(1.0)
            wait_until(lambda: len(sent) >= at_stop + 20, 30)
            self.rsyslogd(port=port)
            at_start = len(sent)
            self.assertTrue(wait_until(lambda: len(sent) >= at_start + 150, 60))
        finally:
            stop.set()
            t.join()
        self.assertGreater(at_start, at_stop, "no alert arrived while rsyslogd was down")

        def delivered():
            return {uuid_of(r[4]) for r in lines(self.out)}

        self.assertTrue(wait_until(lambda: delivered() >= set(sent), 60, step=0.2),
                        "%d of %d missing\n%s" % (len(set(sent) - delivered()), len(sent),
                                                  lan.output()))
        got = [uuid_of(r[4]) for r in lines(self.out)]
        m = lan.metrics()
        print("\nsyslog restart: %d alerts, %d posted while rsyslogd was down, %d retries, "
              "%d duplicate(s), none lost"
              % (len(sent), at_start - at_stop, m.get('lanner_retries_total{sink="syslog"}', 0),
                 len(got) - len(set(got))), file=sys.stderr)
        self.assertEqual(set(got), set(sent))

    def test_collector_down_at_start_then_up(self):
        port = free_port()
        lan = self.lanner("  host: 127.0.0.1\n  port: %d\n" % port,
                          "retry: {initial: 100ms, max: 500ms}\n")
        sent = self.post(lan, 5)
        key = 'lanner_retries_total{sink="syslog"}'
        self.assertTrue(wait_until(lambda: lan.metrics().get(key, 0) >= 2, 30), lan.output())
        self.assertIn("connection refused", lan.output())
        self.rsyslogd(port=port)
        self.assertTrue(wait_until(lambda: len(lines(self.out)) >= 5, 30), lan.output())
        self.assertEqual({uuid_of(r[4]) for r in lines(self.out)}, set(sent))


if __name__ == "__main__":
    unittest.main()
