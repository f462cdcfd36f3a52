#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Web UI benchmark (issue 8), not part of ctest.

1. Query latency: fill_store writes ALERTS (1,000,000) synthetic alerts over the last 24 h into
   an event store; lanner serves it; every events search and grouped count below runs ROUNDS
   times over HTTP (keep-alive, Bearer auth); p50 and p95 per query and over each family are
   printed against the target (p95 <= 100 ms).
2. Write overhead: two lanners in the same run, the same file output, one with the web UI
   (ui.enabled, a fresh store) and one without; wrk POSTs / with fresh alerts, rounds
   alternating; the ratio of their best requests/s is printed, with what the ui sink delivered
   and dropped (the store has its own queue: when it cannot keep up it drops, and says so).

    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
    cmake --build build-bench --target lanner fill_store -j2
    tests/bench/ui/ui_bench.py build-bench [--alerts N] [--store PATH] [--rounds R]

--store PATH reuses (or creates once) the filled store, so reruns skip the fill.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

TOKEN = "bench-token"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_lanner(binary, tmp, name, ui_store=None, extra=""):
    port = free_port()
    cfg = os.path.join(tmp, name + ".yaml")
    with open(cfg, "w") as f:
        f.write("listenaddress: 127.0.0.1\nlistenport: %d\nstdout: {enabled: false}\n"
                "detector: {enabled: false}\nspool: {path: '%s/%s-spool.db'}\n"
                "file: {path: '%s/%s-out.jsonl'}\n" % (port, tmp, name, tmp, name))
        if ui_store:
            f.write("ui:\n  enabled: true\n  token: %s\n  store:\n    path: '%s'\n"
                    "    max_bytes: 1TiB\n    max_age: 3650d\n" % (TOKEN, ui_store))
        f.write(extra)
    log = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen([binary, "-c", cfg], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                c.close()
                return p, port
        except OSError:
            pass
        if p.poll() is not None:
            raise SystemExit("lanner %s exited: see %s" % (name, log.name))
        time.sleep(0.1)
    raise SystemExit("lanner %s did not start" % name)


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))]


EVENTS = [
    ("newest 100", []),
    ("min_priority=Error", [("min_priority", "Error")]),
    ("priority=Notice|Debug", [("priority", "Notice"), ("priority", "Debug")]),
    ("rule", [("rule", "Netcat remote code execution")]),
    ("tag", [("tag", "T1611")]),
    ("tags AND", [("tag", "container"), ("tag", "mitre_execution")]),
    ("hostname", [("hostname", "node-c")]),
    ("source=k8s_audit", [("source", "k8s_audit")]),
    ("field proc.name=nc", [("field.proc.name", "nc")]),
    ("q=shadow", [("q", "shadow")]),
    ("q=id_rsa kubectl", [("q", "id_rsa kubectl")]),
    ("q + min_priority + host", [("q", "sudoers"), ("min_priority", "Warning"),
                                 ("hostname", "node-a")]),
    ("last hour", "last_hour"),
    ("page 5 (cursor)", "page5"),
]

COUNTS = [
    ("by priority, 24h", [("by", "priority")]),
    ("by priority, 24h, bucket 1h", [("by", "priority"), ("bucket", "1h")]),
    ("by priority, 24h, bucket 10m", [("by", "priority"), ("bucket", "10m")]),
    ("by rule, top 10, bucket 1h", [("by", "rule"), ("top", "10"), ("bucket", "1h")]),
    ("by source, bucket 1h", [("by", "source"), ("bucket", "1h")]),
    ("by tag, bucket 1h", [("by", "tag"), ("bucket", "1h")]),
    ("by hostname", [("by", "hostname")]),
    ("by rule, min_priority=Error", [("by", "rule"), ("min_priority", "Error")]),
    ("by priority, tag=container", [("by", "priority"), ("tag", "container")]),
    ("by priority, last 5 minutes", "last5m"),
]

# Filters the per-minute rollups cannot answer (free text, output fields): counted from the
# events themselves. Reported apart: their cost grows with the rows they match.
COUNTS_RAW = [
    ("by priority, q=shadow (20% of rows)", [("by", "priority"), ("q", "shadow")]),
    ("by rule, field proc.name=nc, last 1h", "raw_field_1h"),
]


def query_latency(binary, store, rounds, tmp):
    lan, port = start_lanner(binary, tmp, "query", ui_store=store)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    hdr = {"Authorization": "Bearer " + TOKEN}

    def get(path, params):
        conn.request("GET", path + "?" + urllib.parse.urlencode(params, doseq=True),
                     headers=hdr)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit("%s %r: %d %s" % (path, params, r.status, body[:200]))
        return json.loads(body)

    def resolve(params):
        now = int(time.time() * 1000)
        if params == "last_hour":
            return [("since", now - 3600000)]
        if params == "last5m":
            return [("by", "priority"), ("since", now - 300000), ("bucket", "10s")]
        if params == "raw_field_1h":
            return [("by", "rule"), ("field.proc.name", "nc"), ("since", now - 3600000)]
        if params == "page5":
            cur = None
            for _ in range(4):
                cur = get("/api/v1/events", [("limit", 100)] + ([("cursor", cur)] if cur else
                                                                 []))["next"]
            return [("cursor", cur)]
        return params

    stats = get("/api/v1/outputs", [])["store"]
    print("store: %d alerts, %.0f MB in use, free text: %s" %
          (stats["alerts"], stats["bytes"] / 1e6,
           "FTS5 trigram" if stats["full_text_index"] else "scan"))
    families = {}
    for family, queries, path in (("events search", EVENTS, "/api/v1/events"),
                                  ("grouped counts", COUNTS, "/api/v1/counts"),
                                  ("grouped counts, raw path", COUNTS_RAW, "/api/v1/counts")):
        print("\n%s (%s, %d rounds each)" % (family, path, rounds))
        print("  %-40s %9s %9s %8s" % ("query", "p50 ms", "p95 ms", "rows"))
        all_ms = []
        for name, params in queries:
            p = resolve(params)
            get(path, p)  # warm the page cache for this query
            ms = []
            res = None
            for _ in range(rounds):
                t0 = time.perf_counter()
                res = get(path, p)
                ms.append((time.perf_counter() - t0) * 1000)
            all_ms.extend(ms)
            rows = len(res["events"]) if "events" in res else res["total"]
            print("  %-40s %9.1f %9.1f %8d" % (name, pct(ms, 50), pct(ms, 95), rows))
        families[family] = all_ms
        print("  %-40s %9.1f %9.1f" % ("ALL", pct(all_ms, 50), pct(all_ms, 95)))
    conn.close()
    stop(lan)
    return families


WRK_LUA = r'''
local n = 0
local rules = {"Read sensitive file untrusted", "Terminal shell in container",
  "Write below etc", "Netcat remote code execution", "Launch privileged container"}
local prios = {"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational",
  "Debug"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local t = os.date("!%Y-%m-%dT%H:%M:%S", os.time()) .. string.format(".%09dZ", n % 1000000000)
  local body = string.format('{"hostname":"node-%d","output":"12:00:00.000000000: Warning ' ..
    '%s (user=root process=cat file=/etc/shadow n=%d)","output_fields":{"proc.name":"cat",' ..
    '"fd.name":"/etc/shadow","n":%d},"priority":"%s","rule":"%s","source":"syscall",' ..
    '"tags":["container","T1555"],"time":"%s"}', n % 5, rules[n % 5 + 1], n, n,
    prios[n % 8 + 1], rules[n % 5 + 1], t)
  return wrk.format(nil, "/", nil, body)
end
'''


def wrk(port, lua, seconds, connections):
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "-s", lua,
                          "http://127.0.0.1:%d/" % port], capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise SystemExit("non-2xx answers:\n" + out)
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1]), out
    raise SystemExit("wrk: " + out)


def write_overhead(binary, tmp, rounds, seconds, connections):
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    off, off_port = start_lanner(binary, tmp, "ui-off")
    on, on_port = start_lanner(binary, tmp, "ui-on", ui_store=os.path.join(tmp, "fresh.db"))
    best = {"off": 0.0, "on": 0.0}
    wrk(off_port, lua, 2, connections)
    wrk(on_port, lua, 2, connections)
    print("\nwrite overhead: wrk -t2 -c%d -d%ds POST / (fresh alerts), a file output on both, "
          "rounds alternating" % (connections, seconds))
    for r in range(rounds):
        for name, port in (("off", off_port), ("on", on_port)):
            rps, _ = wrk(port, lua, seconds, connections)
            best[name] = max(best[name], rps)
            print("  round %d: ui %-3s %9.0f req/s" % (r + 1, name, rps))
    # let the store drain what it queued, then read what the ui sink did
    conn = http.client.HTTPConnection("127.0.0.1", on_port, timeout=60)
    ui = store = None
    for _ in range(600):
        conn.request("GET", "/api/v1/outputs", headers={"Authorization": "Bearer " + TOKEN})
        res = json.loads(conn.getresponse().read())
        ui = [o for o in res["outputs"] if o["name"] == "ui"][0]
        store = res["store"]
        if ui["queue"] == 0 and ui["inflight"] == 0 and store["queued"] == 0:
            break
        time.sleep(0.5)
    conn.close()
    stop(off)
    stop(on)
    ratio = best["on"] / best["off"]
    print("  best: ui off %.0f req/s, ui on %.0f req/s: ratio on/off %.2f" %
          (best["off"], best["on"], ratio))
    print("  ui sink: delivered %d, dropped %d (queue full: the store could not keep up), "
          "failed %d; store holds %d alerts, %.0f MB" %
          (ui["delivered"], ui["dropped"], ui["failed"], store["alerts"], store["bytes"] / 1e6))
    return ratio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--alerts", type=int, default=1000000)
    ap.add_argument("--store", help="filled store to reuse (created when missing)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--wrk-rounds", type=int, default=3)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--skip-queries", action="store_true")
    ap.add_argument("--skip-writes", action="store_true")
    a = ap.parse_args()
    binary = os.path.join(a.build, "gateway/lanner")
    fill = os.path.join(a.build, "tests/bench/ui/fill_store")
    if "libasan" in subprocess.run(["ldd", binary], capture_output=True, text=True).stdout:
        print("warning: %s is a sanitizer build; figures are not representative" % binary)
    tmp = tempfile.mkdtemp(prefix="lanner-ui-bench-")
    try:
        fam = {}
        if not a.skip_queries:
            store = a.store or os.path.join(tmp, "events.db")
            if not os.path.exists(store):
                print("filling %s with %d alerts over 24 h ..." % (store, a.alerts))
                sys.stdout.flush()
                subprocess.run([fill, store, str(a.alerts), "24"], check=True)
            fam = query_latency(binary, store, a.rounds, tmp)
        ratio = None
        if not a.skip_writes:
            ratio = write_overhead(binary, tmp, a.wrk_rounds, a.wrk_seconds, a.connections)
        print("\nsummary")
        for name in ("events search", "grouped counts"):
            if name in fam:
                p95 = pct(fam[name], 95)
                print("  %-16s p95 %6.1f ms (target <= 100 ms: %s)" %
                      (name, p95, "met" if p95 <= 100 else "MISSED"))
        if ratio is not None:
            print("  write overhead   POST / throughput ui on / ui off = %.2f" % ratio)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
