#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Disk spool A/B: two lanner binaries, each with the stdout output (to /dev/null) and
# spool.mode disk, driven by `wrk --latency -t1 -c16` with the outputs benchmark's Falco alert,
# in alternated pairs so that drift on a shared machine hits both alike. Each round is a fresh
# lanner, warmed up by 1 s of the same load before it is measured. Per round: requests/s,
# latency p50/p99/max, the CPU time of lanner's loop thread per alert, and the bytes lanner sent
# to storage per alert, 1 s after the load (/proc/PID/io: write_bytes less
# cancelled_write_bytes, i.e. page-cache pages dirtied and not dropped before writeback); at the
# end, the median of each and the B/A ratio of the medians. Not part of the pass/fail suite.
#
#	tests/bench/outputs/spool_ab.sh LANNER_A LANNER_B [PAIRS (5)] [SECONDS (4)]
#
# MODE=memory runs both with spool.mode memory instead; MODE_A and MODE_B set each side's mode
# (MODE_A=memory MODE_B=disk with one binary twice: the disk spool's overhead, 1 - B/A).
# WARMUP: seconds of load before each measured round (1).
set -euo pipefail

a=${1:?usage: $0 LANNER_A LANNER_B [PAIRS] [SECONDS]}
b=${2:?usage: $0 LANNER_A LANNER_B [PAIRS] [SECONDS]}
pairs=${3:-5}
secs=${4:-4}
mode_a=${MODE_A:-${MODE:-disk}}
mode_b=${MODE_B:-${MODE:-disk}}
here=$(cd "$(dirname "$0")" && pwd)

for tool in wrk curl python3; do
	command -v "$tool" >/dev/null || {
		echo "spool_ab: $tool not found" >&2
		exit 1
	}
done
tmp=$(mktemp -d)
lpid=
cleanup() {
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null && wait "$lpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

sed -n '/^{"hostname"/p' "$here/outputs_bench.sh" >"$tmp/alert.json"
[ -s "$tmp/alert.json" ] || {
	echo "spool_ab: no alert found in outputs_bench.sh" >&2
	exit 1
}
cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$tmp/alert.json", "rb"))
wrk.body = f:read("*a")
f:close()
EOF

# to microseconds: wrk prints 1.23ms, 456.00us, 1.02s
us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else print n * 1000000
	}'
}

round() { # LABEL BINARY MODE
	local port pid u0 s0 u1 s1 n io io0
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	rm -rf "$tmp/spool"
	cat >"$tmp/c.yaml" <<EOF
listenaddress: 127.0.0.1
listenport: $port
detector: {enabled: false}
queue: {max_alerts: 1000000}
spool: {mode: $3, path: $tmp/spool/spool.db}
stdout: {enabled: true}
EOF
	"$2" -c "$tmp/c.yaml" >/dev/null 2>"$tmp/err" &
	lpid=$!
	pid=$lpid
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.1
	done
	# warm-up: a fresh process pays for its first heap pages, memory mode most (no spool wait);
	# WARMUP=10 or more reaches the disk spool's steady state, where each file's WAL has been
	# written over at least once (its first one costs the kernel a new page each)
	wrk -t1 -c16 -d"${WARMUP:-1}s" -s "$tmp/post.lua" "http://127.0.0.1:$port/" >/dev/null 2>&1
	sleep 0.5
	read -r u0 s0 < <(awk '{ print $14, $15 }' "/proc/$pid/task/$pid/stat")
	io0=$(awk '/^write_bytes/ { w = $2 } /^cancelled_write_bytes/ { c = $2 } END { print w - c }' \
		"/proc/$pid/io")
	wrk --latency -t1 -c16 -d"${secs}s" -s "$tmp/post.lua" "http://127.0.0.1:$port/" >"$tmp/wrk" 2>&1
	read -r u1 s1 < <(awk '{ print $14, $15 }' "/proc/$pid/task/$pid/stat")
	sleep 1
	io=$(awk '/^write_bytes/ { w = $2 } /^cancelled_write_bytes/ { c = $2 } END { print w - c }' \
		"/proc/$pid/io")
	kill -INT "$pid"
	wait "$pid" || true
	lpid=
	n=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
	[ -n "$n" ] && [ "$n" -gt 0 ] || {
		echo "spool_ab: $1: wrk failed: $(cat "$tmp/wrk")" >&2
		exit 1
	}
	printf '%s %s %s %s %s %s %s\n' "$1" \
		"$(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk")" \
		"$(us "$(awk '/^ +50%/ { print $2 }' "$tmp/wrk")")" \
		"$(us "$(awk '/^ +99%/ { print $2 }' "$tmp/wrk")")" \
		"$(us "$(awk '/Latency / { print $4 }' "$tmp/wrk")")" \
		"$(awk -v t="$((u1 + s1 - u0 - s0))" -v n="$n" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.1f", t * 1000000 / hz / n }')" \
		"$(awk -v b="$((io - io0))" -v n="$n" 'BEGIN { printf "%.0f", b / n }')" | tee -a "$tmp/rounds"
}

echo "A: spool.mode $mode_a, B: spool.mode $mode_b, wrk -t1 -c16 -d${secs}s; columns: binary, requests/s, p50 us, p99 us, max us, loop CPU us/alert, storage bytes/alert"
for _ in $(seq "$pairs"); do
	round A "$a" "$mode_a"
	round B "$b" "$mode_b"
done
python3 - "$tmp/rounds" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cols = ["requests/s", "p50 us", "p99 us", "max us", "loop CPU us/alert", "storage B/alert"]
med = {k: [statistics.median(float(r[i + 1]) for r in rows if r[0] == k) for i in range(6)]
       for k in ("A", "B")}
print("median        " + "  ".join("%17s" % c for c in cols))
for k in ("A", "B"):
    print("%-13s " % k + "  ".join("%17.1f" % v for v in med[k]))
print("B/A           " + "  ".join("%17.2f" % (b / a if a else 0)
                                   for a, b in zip(med["A"], med["B"])))
EOF
