#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Detector under a burst, with and without --capture (root, real kernel).

Starts lanner (detector on, default rules, no outputs) twice: once plain, once with
--capture FILE; each time opens and closes a file 50,000 times as fast as Python can, waits 5 s,
and prints what the detector handled and what the kernel dropped, and the capture's size.

    python3 tests/bench/detector/capture_load.py build/gateway/lanner
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

N = 50000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(lanner, capture):
    d = tempfile.mkdtemp(prefix="lanner-capload-")
    port = free_port()
    cfg = os.path.join(d, "c.yaml")
    with open(cfg, "w") as f:
        f.write("listenaddress: 127.0.0.1\nlistenport: %d\nstdout: {enabled: false}\n"
                "spool: {mode: memory}\ndetector: {required: true}\n" % port)
    cap = os.path.join(d, "capture.jsonl")
    args = [lanner, "-c", cfg] + (["--capture", cap] if capture else [])
    with open(os.path.join(d, "log"), "w") as log:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)

    def metrics():
        try:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                          timeout=5).read().decode()
        except OSError:
            return None
        return {l.rpartition(" ")[0]: float(l.rpartition(" ")[2])
                for l in text.splitlines() if l.startswith("lanner_detector")}

    try:
        deadline = time.monotonic() + 30
        while metrics() is None:
            if p.poll() is not None or time.monotonic() > deadline:
                sys.exit("lanner did not start: see %s/log" % d)
            time.sleep(0.1)
        time.sleep(1)
        before = metrics()
        path = os.path.join(d, "x")
        t0 = time.monotonic()
        for _ in range(N):
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT))
        took = time.monotonic() - t0
        time.sleep(5)
        after = metrics()
    finally:
        p.terminate()
        p.wait()

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    size = os.path.getsize(cap) if capture else 0
    print("%-10s burst %.2f s: %7d events handled, %7d dropped by the kernel (ring buffer "
          "full), capture %.1f MB" % (
              "capture" if capture else "plain", took, delta("lanner_detector_events_total"),
              delta('lanner_detector_kernel_drops_total{reason="ringbuf_full"}'), size / 1e6))
    subprocess.run(["rm", "-rf", d])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: capture_load.py LANNER_BIN")
    run(sys.argv[1], False)
    run(sys.argv[1], True)


if __name__ == "__main__":
    main()
