#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The detector's benchmarks (root, real kernel), all in one run, each next to its floor:

  1. fixed workload (workload.c: 200,000 open/read/close, 2,000 fork+exec, 20,000 loopback
     connects) in three arms, interleaved round by round (the arms' order turns each round):
       none   no program attached;
       floor  empty programs attached exactly where lanner attaches its own for the stable
              rules (bench_detector_floor: the rules' syscalls + the state set on
              syscalls/sys_exit_NAME, and tp_btf/sched_process_{exec,exit,fork});
       lanner lanner running the stable rules.
     Reported per arm: the median wall time of each phase, and the medians of the per-round
     paired differences against the same round's "none" run, in percent of it; the target
     figure is lanner - floor, in percentage points of "none", median over rounds. Also the
     workload's own CPU time (user + sys, wait4) per arm, lanner's CPU time during the workload,
     the events lanner evaluated and lost, and, from one extra untimed run per attached arm
     after the rounds, the BPF programs' own run time over the workload (bpf_stats through
     BPF_ENABLE_STATS, summed over the programs the arm's process holds, from fdinfo).
  2. the highest openat rate lanner sustains for DURATION s with zero kernel drops
     (lanner_detector_kernel_drops_total{reason="ringbuf_full"|"no_ringbuf"} unchanged), rates
     doubling from the first until one drops.
  3. lanner's RSS (VmRSS, VmHWM) with the stable + incubating rules loaded, after a settle time
     and after the rate run's load.

Usage: bench_detector.py --lanner BUILD/gateway/lanner [--floor BUILD/.../bench_detector_floor]
                         [--duration 30] [--rounds 10] [--rates 25000,50000,...]
                         [--compare OTHER/gateway/lanner] [--fixed-only]
--floor defaults to tests/bench/detector/bench_detector_floor next to --lanner's build
(`cmake --build BUILD --target lanner bench_detector_floor`). Build lanner without sanitizers
(Release) for meaningful figures. With --compare, the fixed workload also runs with the other
build as a fourth arm in the same rounds (before/after figures of a change side by side). The
workload is not pinned: lanner's userspace competes with it for the machine's CPUs, as it would
on a node. Prints a Markdown summary on stdout."""
import argparse
import ctypes
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


class Floor:
    """bench_detector_floor: empty programs where lanner attaches its own, until closed."""

    def __init__(self, binary, rules):
        self.proc = subprocess.Popen([binary] + rules, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            self.proc.wait()
            raise RuntimeError("bench_detector_floor did not start")
        self.attached, self.set_size = int(line[1]), int(line[3])

    def close(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.proc.stdout.close()


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
    """One fixed run: wall seconds per phase and the workload's own CPU seconds (with its
    children's: the fork+exec phase's /bin/true)."""
    p = subprocess.Popen([workload, "fixed"], stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    if p.returncode:
        raise RuntimeError("workload failed: %d" % p.returncode)
    r = {k: float(v) for k, v in (line.split() for line in out.splitlines())}
    r["cpu"] = ru.ru_utime + ru.ru_stime
    return r


def enable_bpf_stats():
    """bpf(BPF_ENABLE_STATS, BPF_STATS_RUN_TIME): run-time statistics on while the fd is open,
    without touching kernel.bpf_stats_enabled."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(8)  # enable_stats.type = BPF_STATS_RUN_TIME (0)
    fd = libc.syscall(321, 32, attr, ctypes.sizeof(attr))  # x86_64 __NR_bpf, BPF_ENABLE_STATS
    if fd < 0:
        raise OSError(ctypes.get_errno(), "BPF_ENABLE_STATS")
    return fd


def prog_stats(pid):
    """(run_time_ns, run_cnt) summed over the BPF programs process pid holds, from fdinfo."""
    seen = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:bpf-prog":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        seen[info["prog_id"].strip()] = (int(info.get("run_time_ns", "0")),
                                         int(info.get("run_cnt", "0")))
    return (sum(v[0] for v in seen.values()), sum(v[1] for v in seen.values()))


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def fixed_workload(a, workload, floor_bin, tmp):
    """Section 1: returns the Markdown lines."""
    arms = [("none", None), ("floor", None), ("lanner", a.lanner)]
    if a.compare:
        arms.append(("compare", a.compare))
    runs = {n: [] for n, _ in arms}  # per arm, per round: run_fixed's dict
    extra = {n: [] for n, _ in arms}  # lanner arms: cpu, events, lost
    orders, floor_set = [], None
    load = [os.getloadavg()[0]]
    def start(name, binary):
        """Starts an attached arm: (pid, stop, the lanner instance or None)."""
        nonlocal floor_set
        if name == "floor":
            fl = Floor(floor_bin, [STABLE])
            floor_set = (fl.attached, fl.set_size)
            return fl.proc.pid, fl.close, None
        lan = Lanner(binary, tmp, [STABLE])
        return lan.proc.pid, lan.close, lan

    for rnd in range(a.rounds):
        order = arms[rnd % len(arms):] + arms[:rnd % len(arms)]
        orders.append(" ".join(n for n, _ in order))
        for name, binary in order:
            # the previous arm's programs and rings are freed by the kernel after it exited
            # (RCU): every arm waits the same before it starts
            time.sleep(2)
            if name == "none":
                runs[name].append(run_fixed(workload))
                continue
            pid, stop, lan = start(name, binary)
            try:
                time.sleep(1)
                if lan:
                    c0, e0, l0 = lan.cpu_s(), lan.events(), lan.lost()
                runs[name].append(run_fixed(workload))
                if lan:
                    time.sleep(0.5)  # the last records drained
                    extra[name].append((lan.cpu_s() - c0, lan.events() - e0, lan.lost() - l0))
            finally:
                stop()
        load.append(os.getloadavg()[0])
    # after the rounds, not timed: the programs' own run time over one workload per attached
    # arm, by bpf_stats (enabled only meanwhile: the stats' clock reads cost per run)
    progs = {}
    for name, binary in arms[1:]:
        time.sleep(2)
        pid, stop, _ = start(name, binary)
        try:
            time.sleep(1)
            sfd = enable_bpf_stats()
            try:
                t0 = prog_stats(pid)
                run_fixed(workload)
                t1 = prog_stats(pid)
            finally:
                os.close(sfd)
        finally:
            stop()
        progs[name] = (t1[0] - t0[0], t1[1] - t0[1])
    phases = ("open_read_close", "fork_exec", "connect", "total")
    rep = ["### Fixed workload: %d rounds, arms interleaved (order turning each round)\n"
           % a.rounds]
    rep.append("floor: empty programs on %d tracepoints (%d syscalls in lanner's set; the "
               "others have no tracepoint on this kernel) + sched_process_{exec,exit,fork}. "
               "Load average (1 min) during the run: %.1f-%.1f.\n"
               % (floor_set[0], floor_set[1], min(load), max(load)))
    lan_arms = [n for n, _ in arms if n not in ("none", "floor")]
    for n in lan_arms:
        cpu = [e[0] for e in extra[n]]
        ev = [e[1] for e in extra[n]]
        lost = sum(e[2] for e in extra[n])
        rep.append("%s: `%s`: lanner's CPU time during the workload %.2f s median (%.2f-%.2f), "
                   "%.0f events evaluated per run (median), %d lost over all runs\n"
                   % (n, dict(arms)[n], statistics.median(cpu), min(cpu), max(cpu),
                      statistics.median(ev), lost))
    none_total = statistics.median(r["total"] for r in runs["none"])
    rep.append("BPF programs' own run time over one workload (bpf_stats, one extra untimed run "
               "per arm after the rounds; it runs in the workload's syscalls, so it is part of "
               "its wall and CPU time):\n")
    rep.append("| arm | program time | runs | ns per run | % of `none` total |")
    rep.append("|---|---|---|---|---|")
    for n, (ns, cnt) in progs.items():
        rep.append("| %s | %.1f ms | %d | %.0f | %.1f%% |" % (
            n, ns / 1e6, cnt, ns / cnt if cnt else 0, ns / 1e9 / none_total * 100))
    rep.append("")
    head = "| phase |" + "".join(" %s s |" % n for n, _ in arms)
    head += " floor added |" + "".join(" %s added | %s - floor |" % (n, n) for n in lan_arms)
    rep.append(head)
    rep.append("|---|" + "---|" * (len(arms) + 1 + 2 * len(lan_arms)))

    def paired(n, k):
        return [(runs[n][i][k] - runs["none"][i][k]) / runs["none"][i][k] * 100
                for i in range(a.rounds)]

    def fmt(xs):
        lo, hi = quartiles(xs)
        return "%+.1f%% (%+.1f..%+.1f)" % (statistics.median(xs), lo, hi)

    verdict = []
    for k in phases + ("cpu",):
        row = "| %s |" % ("workload CPU (user+sys)" if k == "cpu" else k)
        row += "".join(" %.3f |" % statistics.median(r[k] for r in runs[n]) for n, _ in arms)
        fl = paired("floor", k)
        row += " %s |" % fmt(fl)
        for n in lan_arms:
            ln = paired(n, k)
            diff = [x - y for x, y in zip(ln, fl)]
            lo, hi = quartiles(diff)
            row += " %s | %+.1f pp (%+.1f..%+.1f) |" % (fmt(ln), statistics.median(diff), lo, hi)
            if k == "total":
                verdict.append((n, statistics.median(diff), statistics.mean(diff),
                                statistics.stdev(diff) / len(diff) ** 0.5
                                if len(diff) > 1 else float("nan")))
        rep.append(row)
    rep.append("\nTimes: medians over rounds. added: median of the per-round differences "
               "against the same round's `none` run, in percent of it (interquartile range "
               "in brackets); X - floor: median of the per-round differences of those, in "
               "percentage points.\n")
    # Interference from other processes only ever adds time: each arm's best round is the
    # figure least touched by it
    best = {n: min(r["total"] for r in runs[n]) for n, _ in arms}
    rep.append("Best round per arm (total s): " + ", ".join(
        "%s %.3f" % (n, best[n]) for n, _ in arms) + "; " + ", ".join(
        "%s - floor %+.1f pp" % (n, (best[n] - best["floor"]) / best["none"] * 100)
        for n in lan_arms) + " (of the best `none`).\n")
    for n, d, mean, se in verdict:
        rep.append("**%s adds %+.1f percentage points over the floor (total wall time, median "
                   "of %d paired rounds; mean %+.1f, standard error %.1f): target <= 5: %s.**\n"
                   % (n, d, a.rounds, mean, se,
                      "met" if d <= 5 else "missed by %.1f" % (d - 5)))
    rep.append("Per round, total seconds (order):\n")
    rep.append("| round | order |" + "".join(" %s |" % n for n, _ in arms))
    rep.append("|---|---|" + "---|" * len(arms))
    for i in range(a.rounds):
        rep.append("| %d | %s |" % (i + 1, orders[i])
                   + "".join(" %.3f |" % runs[n][i]["total"] for n, _ in arms))
    return rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lanner", required=True)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--floor", help="bench_detector_floor (default: next to --lanner's build)")
    ap.add_argument("--rates", default="25000,50000,100000,200000,400000")
    ap.add_argument("--compare", help="another lanner build run in the same fixed rounds")
    ap.add_argument("--fixed-only", action="store_true", help="only the fixed workload")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_detector: needs root (BPF)")
    floor_bin = a.floor or os.path.join(os.path.dirname(os.path.abspath(a.lanner)), "..",
                                        "tests/bench/detector/bench_detector_floor")
    if not os.access(floor_bin, os.X_OK):
        sys.exit("bench_detector: %s missing: cmake --build BUILD --target bench_detector_floor"
                 % floor_bin)
    tmp = tempfile.mkdtemp(prefix="lanner-bench-")
    workload = os.path.join(tmp, "workload")
    subprocess.run(["cc", "-O2", "-o", workload, os.path.join(HERE, "workload.c")], check=True)
    report = []

    # 1. fixed workload: none / floor / lanner (stable rules), interleaved
    report += fixed_workload(a, workload, floor_bin, tmp)
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
