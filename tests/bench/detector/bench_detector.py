#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The detector's benchmarks (root, real kernel), all in one run, each next to its floor:

  1. fixed workload (workload.c: 200,000 open/read/close, 2,000 fork+exec, 20,000 loopback
     connects) without lanner (the floor) and with lanner running the stable rules; rounds
     alternate, medians reported, and lanner's added wall time in percent.
  2. the highest openat rate lanner sustains for DURATION s with zero kernel drops
     (lanner_detector_kernel_drops_total{reason="ringbuf_full"|"no_ringbuf"} unchanged), rates
     doubling from the first until one drops.
  3. lanner's RSS (VmRSS, VmHWM) with the stable + incubating rules loaded, after a settle time
     and after the rate run's load.

Usage: bench_detector.py --lanner BUILD/gateway/lanner [--duration 30] [--rounds 3]
                         [--rates 25000,50000,...] [--compare OTHER/gateway/lanner]
                         [--fixed-only]
Build lanner without sanitizers (Release or RelWithDebInfo) for meaningful figures. With
--compare, the fixed workload also runs with the other build in the same rounds (before/after
figures of a change side by side). The CPU time lanner's process used during the workload
(utime + stime from /proc) is reported next to the wall times. Prints a Markdown summary on
stdout."""
import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.abspath(os.path.join(HERE, "../../../../shared/data/falco-rules"))
STABLE = os.path.join(RULES, "falco_rules.yaml")
INCUBATING = os.path.join(RULES, "falco-incubating_rules.yaml")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Lanner:
    def __init__(self, binary, tmp, rules):
        self.port = free_port()
        cfg = os.path.join(tmp, "bench-%d.yaml" % self.port)
        with open(cfg, "w") as f:
            f.write("listenaddress: 127.0.0.1\nlistenport: %d\nstdout: {enabled: false}\n"
                    "spool: {path: '%s/spool-%d.db'}\ndetector: {required: true}\n"
                    % (self.port, tmp, self.port))
        args = [binary, "-c", cfg]
        for r in rules:
            args += ["-r", r]
        self.log = open(os.path.join(tmp, "lanner-%d.log" % self.port), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("lanner exited:\n" + self.log.read())
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("lanner did not start")

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def metrics(self):
        out = {}
        for line in self.get("/metrics")[1].decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    def lost(self):
        m = self.metrics()
        return sum(m.get('lanner_detector_kernel_drops_total{reason="%s"}' % r, 0)
                   for r in ("ringbuf_full", "no_ringbuf")) + m.get(
                       "lanner_detector_queue_overflows_total", 0)

    def events(self):
        return self.metrics().get("lanner_detector_events_total", 0)

    def rss_kib(self):
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
        return out

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_fixed(workload):
    out = subprocess.run([workload, "fixed"], capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in (line.split() for line in out.splitlines())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lanner", required=True)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rates", default="25000,50000,100000,200000,400000")
    ap.add_argument("--compare", help="another lanner build run in the same fixed rounds")
    ap.add_argument("--fixed-only", action="store_true", help="only the fixed workload")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_detector: needs root (BPF)")
    tmp = tempfile.mkdtemp(prefix="lanner-bench-")
    workload = os.path.join(tmp, "workload")
    subprocess.run(["cc", "-O2", "-o", workload, os.path.join(HERE, "workload.c")], check=True)
    report = []

    # 1. fixed workload: floor vs lanner (stable rules), alternating rounds
    builds = [("lanner", a.lanner)] + ([("compare", a.compare)] if a.compare else [])
    floor, withl, cpu = [], {b: [] for b, _ in builds}, {b: [] for b, _ in builds}
    for rnd in range(a.rounds):
        # the last lanner's programs and rings are freed by the kernel after it exited (RCU):
        # let that finish before the floor, as lanner gets a second before its runs
        time.sleep(2)
        floor.append(run_fixed(workload))
        # the builds' order turns each round, so neither always runs right after the floor
        order = builds[rnd % len(builds):] + builds[:rnd % len(builds)]
        for name, binary in order:
            lan = Lanner(binary, tmp, [STABLE])
            try:
                time.sleep(1)
                c0 = lan.cpu_s()
                withl[name].append(run_fixed(workload))
                time.sleep(0.5)  # the last records drained
                cpu[name].append(lan.cpu_s() - c0)
            finally:
                lan.close()
    report.append("### Fixed workload (medians of %d rounds, seconds)\n" % a.rounds)
    for name, binary in builds:
        report.append("%s: `%s`, lanner's own CPU time during the workload %.2f s (median)\n"
                      % (name, binary, statistics.median(cpu[name])))
    head = "| phase | no lanner (floor) |"
    for name, _ in builds:
        head += " %s, stable rules | added |" % name
    report.append(head)
    report.append("|---|---|" + "---|---|" * len(builds))
    for k in ("open_read_close", "fork_exec", "connect", "total"):
        f = statistics.median(r[k] for r in floor)
        row = "| %s | %.3f |" % (k, f)
        for name, _ in builds:
            w = statistics.median(r[k] for r in withl[name])
            row += " %.3f | %+.1f%% |" % (w, (w - f) / f * 100)
        report.append(row)
    if a.fixed_only:
        print("\n".join(report))
        return

    # 2. highest openat rate with zero drops, and 3. RSS with stable + incubating
    lan = Lanner(a.lanner, tmp, [STABLE, INCUBATING])
    try:
        time.sleep(3)
        rss_idle = lan.rss_kib()
        best = None
        report.append("\n### Sustained rate, stable + incubating rules, %.0f s per step\n"
                      % a.duration)
        report.append("| asked opens/s | done opens/s | events/s evaluated | lost |")
        report.append("|---|---|---|---|")
        for rate in [int(r) for r in a.rates.split(",")]:
            lost0, ev0 = lan.lost(), lan.events()
            out = subprocess.run([workload, "rate", str(rate), str(a.duration)],
                                 capture_output=True, text=True, check=True).stdout.split()
            time.sleep(1.5)  # let the detector drain
            lost, ev = lan.lost() - lost0, lan.events() - ev0
            secs = float(out[3])
            done = int(out[1]) / secs
            report.append("| %d | %.0f | %.0f | %d |" % (rate, done, ev / secs, lost))
            if lost:
                break
            if not best or done > best[0]:
                best = (done, ev / secs)
        rss_load = lan.rss_kib()
    finally:
        lan.close()
    if best:
        report.append("\nHighest sustained with zero drops: %.0f opens/s (%.0f events/s)."
                      % best)
    report.append("\n### RSS, stable + incubating rules loaded\n")
    report.append("| when | VmRSS | VmHWM |")
    report.append("|---|---|---|")
    report.append("| idle, 3 s after start | %.1f MiB | %.1f MiB |" % (
        rss_idle["VmRSS"] / 1024, rss_idle["VmHWM"] / 1024))
    report.append("| after the rate steps | %.1f MiB | %.1f MiB |" % (
        rss_load["VmRSS"] / 1024, rss_load["VmHWM"] / 1024))
    print("\n".join(report))


if __name__ == "__main__":
    main()
