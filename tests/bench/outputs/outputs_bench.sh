#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Outputs benchmark: delivered alerts/s end to end. wrk drives `POST /` with a real Falco JSON
# alert for DURATION; the figure of a case is (alerts accepted by POST /) / (time from the start
# of wrk until lanner's /metrics shows every one of them delivered, i.e.
# falcosecurity_falcosidekick_outputs_total{destination=D,status="ok"} grew by the accepted
# count). Rounds alternate between the cases so drift on a shared machine hits all alike; the
# best of ROUNDS is kept. Ratios printed, all measured in the same run:
#	(a) POST / -> Kafka          vs  kcat -P of the same JSON lines (same key) to the same
#	                                 mock cluster, as many lines as lanner delivered (>= 0.5)
#	(b) POST / -> webhook        vs  POST / -> stdout only (the foundation's pipeline)
#	    (keep-alive, to sink_server)
#	(c) spool.mode disk          vs  spool.mode memory, for each of the three pipelines
#	                                 (disk overhead = 1 - disk/memory, target <= 30%)
# Not part of the pass/fail suite.
#
#	tests/bench/outputs/outputs_bench.sh BUILD_DIR
#
# BUILD_DIR holds gateway/lanner, tests/tools/kafka_mock and tests/bench/outputs/sink_server,
# best a build without sanitizers:
#	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#	cmake --build build-bench --target lanner kafka_mock sink_server -j2
#
# kafka_mem, webhook_mem and stdout_mem are the same pipelines with spool.mode memory (the
# other lanner cases run with the default, disk). kafka_lines and kafka_lines_mem POST the same
# alert LINES (100) times per request as a JSON-lines body (Content-Type application/x-ndjson),
# the same JSON lines kcat -P reads: (a) is printed for them too. Also measured, to show where the time goes:
# ingest_mem, POST / with no output at all: the HTTP ingest ceiling of this machine, which
# bounds every lanner case.
#
# Each sink's queue is QUEUE_MAX (1000000) alerts, so that a sink slower than the ingest builds
# a backlog instead of dropping (lanner_dropped_total); a drop fails the benchmark.
#
# Environment: CONNECTIONS (16), THREADS (1), DURATION (3s), ROUNDS (3), PARTITIONS (4),
# BROKERS (1), CASES (all: "kafka kcat webhook stdout kafka_mem webhook_mem stdout_mem
# ingest_mem kafka_lines kafka_lines_mem"), LINES (100), LANNER_OPTS (extra lanner arguments, all lanners), QUEUE_MAX, PERF=CASE (perf
# record -g of that lanner during CASE's rounds: perf.data.CASE.ROUND in the current directory).
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
connections=${CONNECTIONS:-16}
threads=${THREADS:-1}
duration=${DURATION:-3s}
rounds=${ROUNDS:-3}
partitions=${PARTITIONS:-4}
brokers=${BROKERS:-1}
cases=${CASES:-kafka kcat webhook stdout kafka_mem webhook_mem stdout_mem ingest_mem kafka_lines kafka_lines_mem}
lanner_bin=$build/gateway/lanner
mock_bin=$build/tests/tools/kafka_mock
sink_bin=$build/tests/bench/outputs/sink_server
topic=lanner-bench

die() {
	echo "outputs_bench: $*" >&2
	exit 1
}

for tool in wrk curl kcat python3; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
[ -x "$lanner_bin" ] || die "$lanner_bin missing: cmake --build $build --target lanner"
[ -x "$mock_bin" ] || die "$mock_bin missing: cmake --build $build --target kafka_mock"
[ -x "$sink_bin" ] || die "$sink_bin missing: cmake --build $build --target sink_server"
for bin in "$lanner_bin" "$mock_bin" "$sink_bin"; do
	if ldd "$bin" 2>/dev/null | grep -q 'libasan\|libubsan'; then
		echo "warning: $bin is a sanitizer build; figures are not representative" >&2
	fi
done

tmp=$(mktemp -d /tmp/lanner-outbench.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now() {
	date +%s.%N
}

# The alert of FALCO-COMPAT.md section 2, as Falco POSTs it (one line).
cat >"$tmp/alert.json" <<'EOF2'
{"hostname":"node-1","output":"14:50:34.502309868: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=<NA> ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34820 container_id=host container_name=host)","output_fields":{"evt.time":1746622234502309868,"fd.name":"/etc/shadow","proc.cmdline":"cat /etc/shadow","proc.name":"cat","proc.tty":34820,"user.name":"root","user.uid":0},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","container","filesystem","host","maturity_stable","mitre_credential_access"],"time":"2025-05-07T12:50:34.502309868Z"}
EOF2
awk -v n="${LINES:-100}" '{ for (i = 0; i < n; i++) print }' "$tmp/alert.json" >"$tmp/alert.jsonl"
cat >"$tmp/post_lines.lua" <<EOF2
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
local f = assert(io.open("$tmp/alert.jsonl", "rb"))
wrk.body = f:read("*a")
f:close()
EOF2
cat >"$tmp/post.lua" <<EOF2
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$tmp/alert.json", "rb"))
wrk.body = f:read("*a")
f:close()
EOF2

wait_http() { # URL
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# Kafka mock cluster: stdin at EOF, it stays up until SIGTERM.
"$mock_bin" -b "$brokers" -t "$topic:$partitions" </dev/null >"$tmp/mock.out" 2>"$tmp/mock.err" &
pids+=($!)
for _ in $(seq 100); do
	grep -q '^BOOTSTRAP ' "$tmp/mock.out" && break
	sleep 0.1
done
bootstrap=$(awk '/^BOOTSTRAP / { print $2 }' "$tmp/mock.out")
[ -n "$bootstrap" ] || die "kafka_mock did not start: $(cat "$tmp/mock.err")"

# Webhook receiver.
"$sink_bin" 0 >"$tmp/sink.out" 2>"$tmp/sink.err" &
pids+=($!)
for _ in $(seq 100); do
	[ -s "$tmp/sink.out" ] && break
	sleep 0.1
done
sink_port=$(head -1 "$tmp/sink.out")
[ -n "$sink_port" ] || die "sink_server did not start: $(cat "$tmp/sink.err")"
wait_http "http://127.0.0.1:$sink_port/count" || die "sink_server does not answer"

sink_count() {
	curl -s "http://127.0.0.1:$sink_port/count" | awk '{ print $1 }'
}

# One lanner per lanner case, each with its own port and spool file; idle while not measured.
declare -A port dest lpid
start_lanner() { # CASE DESTINATION SPOOL_MODE OUTPUT_YAML
	local p
	p=$(free_port)
	cat >"$tmp/$1.yaml" <<EOF2
listenaddress: 127.0.0.1
listenport: $p
detector:
  enabled: false
queue:
  max_alerts: ${QUEUE_MAX:-1000000}
spool:
  mode: $3
  path: $tmp/$1.spool.db
$4
EOF2
	# shellcheck disable=SC2086
	"$lanner_bin" -c "$tmp/$1.yaml" ${LANNER_OPTS:-} >/dev/null 2>"$tmp/$1.err" &
	lpid[$1]=$!
	pids+=($!)
	port[$1]=$p
	dest[$1]=$2
	wait_http "http://127.0.0.1:$p/healthz" || die "lanner ($1) did not start: $(cat "$tmp/$1.err")"
}

kafka_yaml="stdout:
  enabled: false
kafka:
  hostport: $bootstrap
  topic: $topic"
webhook_yaml="stdout:
  enabled: false
webhook:
  address: http://127.0.0.1:$sink_port/"
stdout_yaml="stdout:
  enabled: true"

for c in $cases; do
	case $c in
	kafka) start_lanner kafka kafka disk "$kafka_yaml" ;;
	kafka_mem) start_lanner kafka_mem kafka memory "$kafka_yaml" ;;
	kafka_lines) start_lanner kafka_lines kafka disk "$kafka_yaml" ;;
	kafka_lines_mem) start_lanner kafka_lines_mem kafka memory "$kafka_yaml" ;;
	webhook) start_lanner webhook webhook disk "$webhook_yaml" ;;
	webhook_mem) start_lanner webhook_mem webhook memory "$webhook_yaml" ;;
	stdout) start_lanner stdout stdout disk "$stdout_yaml" ;;
	stdout_mem) start_lanner stdout_mem stdout memory "$stdout_yaml" ;;
	ingest_mem) start_lanner ingest_mem "" memory "stdout:
  enabled: false" ;;
	kcat) ;;
	*) die "unknown case $c" ;;
	esac
done

# metric CASE NAME LABELS -> value (0 when absent)
metric() {
	curl -s "http://127.0.0.1:${port[$1]}/metrics" |
		awk -v m="$2{$3}" '$1 == m { v = $2 } END { print v + 0 }'
}
accepted() {
	metric "$1" falcosecurity_falcosidekick_inputs_total 'source="requests",status="accepted"'
}
dropped() {
	curl -s "http://127.0.0.1:${port[$1]}/metrics" |
		awk -v p="lanner_dropped_total{sink=\"${dest[$1]}\"," 'index($1, p) == 1 { v += $2 } END { print v + 0 }'
}
delivered() {
	metric "$1" falcosecurity_falcosidekick_outputs_total "destination=\"${dest[$1]}\",status=\"ok\""
}

# run_lanner CASE -> "alerts alerts/s non2xx ingest_s" on stdout
run_lanner() {
	local c=$1 a0 d0 x0 t0 t1 t2 a d x non2xx perf_pid= script
	kill -0 "${lpid[$c]}" 2>/dev/null || die "lanner ($c) exited: $(tail -5 "$tmp/$c.err")"
	a0=$(accepted "$c")
	d0=$(delivered "$c")
	x0=$(dropped "$c")
	if [ "${PERF:-}" = "$c" ]; then
		perf record -g -F 999 -o "perf.data.$c.$round" -p "${lpid[$c]}" >/dev/null 2>&1 &
		perf_pid=$!
		sleep 0.5
	fi
	t0=$(now)
	script=$tmp/post.lua
	[[ $c != *_lines* ]] || script=$tmp/post_lines.lua
	wrk -t"$threads" -c"$connections" -d"$duration" -s "$script" \
		"http://127.0.0.1:${port[$c]}/" >"$tmp/$c.wrk" 2>&1 || die "wrk failed: $(cat "$tmp/$c.wrk")"
	t1=$(now)
	a=$(($(accepted "$c") - a0))
	[ "$a" -gt 0 ] || die "lanner ($c) accepted nothing: $(cat "$tmp/$c.wrk")"
	for _ in $(seq 6000); do
		[ -n "${dest[$c]}" ] || { d=$a; break; } # no output: accepted is the figure
		d=$(($(delivered "$c") - d0))
		[ "$d" -lt "$a" ] || break
		sleep 0.01
	done
	t2=$(now)
	[ -z "$perf_pid" ] || { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
	x=$(($(dropped "$c") - x0))
	[ "$x" -eq 0 ] || die "lanner ($c): $x of $a accepted alerts dropped (lanner_dropped_total), $d delivered"
	[ "$d" -ge "$a" ] || die "lanner ($c): $d of $a alerts delivered after 60 s"
	non2xx=$(awk '/Non-2xx/ { print $NF }' "$tmp/$c.wrk")
	awk -v a="$a" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v n="${non2xx:-0}" \
		'BEGIN { printf "%d %.0f %d %.2f %.2f\n", a, a / (t2 - t0), n, t1 - t0, t2 - t0 }'
}

# run_kcat N -> "N lines/s": kcat -P of N lines "node-1<TAB>alert" (key = hostname, as lanner's
# default key), acks=all as lanner's requiredacks ALL; kcat exits once all are acknowledged.
run_kcat() {
	local n=$1 t0 t1
	awk -v n="$n" 'NR == 1 { for (i = 0; i < n; i++) print "node-1\t" $0 }' "$tmp/alert.json" \
		>"$tmp/kcat.in"
	t0=$(now)
	kcat -P -b "$bootstrap" -t "$topic" -K $'\t' -X acks=all -l "$tmp/kcat.in" \
		2>"$tmp/kcat.err" || die "kcat failed: $(cat "$tmp/kcat.err")"
	t1=$(now)
	awk -v n="$n" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%d %.0f\n", n, n / (t1 - t0) }'
}

has() { [[ " $cases " == *" $1 "* ]]; }
declare -A best detail
kcat_n=0
declare -A all
for c in $cases; do best[$c]=0; done
# Warm-up: one short run per lanner case (connections, topic metadata, SQLite pages).
for c in $cases; do
	[ "$c" = kcat ] && continue
	duration_saved=$duration
	duration=1s
	round=0 run_lanner "$c" >/dev/null
	duration=$duration_saved
done
for round in $(seq "$rounds"); do
	for c in $cases; do
		if [ "$c" = kcat ]; then
			# As many lines as lanner's Kafka case delivered this round (or 50000).
			read -r n rate < <(run_kcat "${kcat_n:-50000}")
			echo "round $round: kcat -P     $rate lines/s ($n lines)" >&2
		else
			[ "$c" = webhook ] || [ "$c" = webhook_mem ] && s0=$(sink_count)
			read -r n rate non2xx ingest total < <(run_lanner "$c")
			if [ "$c" = webhook ] || [ "$c" = webhook_mem ]; then
				got=$(($(sink_count) - s0))
				conns=$(curl -s "http://127.0.0.1:$sink_port/count" | awk '{ print $3 }')
				echo "round $round: $c: sink_server has had $conns connections in all (keep-alive)" >&2
				[ "$got" -ge "$n" ] || die "$c: sink_server received $got bodies, lanner counts $n delivered"
			fi
			[ "$c" = kafka ] && kcat_n=$n
			[ "$c" = kafka_lines ] && ! has kafka && kcat_n=$n
			printf 'round %s: %-11s %s alerts/s (%s alerts accepted in %ss, all delivered after %ss; %s non-2xx)\n' \
				"$round" "$c" "$rate" "$n" "$ingest" "$total" "$non2xx" >&2
		fi
		if awk -v r="$rate" -v b="${best[$c]}" 'BEGIN { exit !(r > b) }'; then
			best[$c]=$rate
		fi
		all[$c]="${all[$c]:-} $rate"
	done
	[ "$kcat_n" -gt 0 ] || kcat_n=50000
done

echo
echo "wrk -t$threads -c$connections -d$duration, POST / with a $(wc -c <"$tmp/alert.json")-byte Falco alert;" \
	"delivered alerts/s end to end, best of $rounds alternated rounds;" \
	"kafka_mock -b $brokers, $partitions partitions"
for c in $cases; do
	printf '%-12s %10.0f %s/s\n' "$c:" "${best[$c]}" "$([ "$c" = kcat ] && echo lines || echo alerts)"
done
ratio() { # NAME NUM DEN KIND (min05: target >= 0.5, ovh30: overhead <= 30%, plain)
	awk -v name="$1" -v a="$2" -v b="$3" -v kind="$4" 'BEGIN {
		r = a / b
		if (kind == "min05") printf "%-34s %6.2f  (target >= 0.50: %s)\n", name, r, (r >= 0.5 ? "met" : "MISSED")
		else if (kind == "ovh30") printf "%-34s %6.2f  (disk overhead %.0f%%, target <= 30%%: %s)\n", name, r, (1 - r) * 100, (1 - r <= 0.30 ? "met" : "MISSED")
		else printf "%-34s %6.2f\n", name, r
	}'
}
if has kafka && has kcat; then
	ratio "(a) kafka / kcat -P:" "${best[kafka]}" "${best[kcat]}" min05
fi
if has kafka_mem && has kcat; then
	ratio "(a) kafka (memory) / kcat -P:" "${best[kafka_mem]}" "${best[kcat]}" min05
fi
if has kafka_lines && has kcat; then
	ratio "(a) kafka, JSON-lines bodies / kcat:" "${best[kafka_lines]}" "${best[kcat]}" min05
fi
if has kafka_lines_mem && has kcat; then
	ratio "(a) same, spool memory / kcat:" "${best[kafka_lines_mem]}" "${best[kcat]}" min05
fi
if has kafka_lines && has kafka_lines_mem; then
	ratio "(c) kafka JSON-lines disk / memory:" "${best[kafka_lines]}" "${best[kafka_lines_mem]}" ovh30
fi
if has webhook && has stdout; then
	ratio "(b) webhook / stdout (disk spool):" "${best[webhook]}" "${best[stdout]}" plain
fi
if has webhook_mem && has stdout_mem; then
	ratio "(b) webhook / stdout (memory):" "${best[webhook_mem]}" "${best[stdout_mem]}" plain
fi
if has webhook && has webhook_mem; then
	ratio "(c) webhook disk / memory:" "${best[webhook]}" "${best[webhook_mem]}" ovh30
fi
if has kafka && has kafka_mem; then
	ratio "(c) kafka disk / memory:" "${best[kafka]}" "${best[kafka_mem]}" ovh30
fi
if has stdout && has stdout_mem; then
	ratio "(c) stdout disk / memory:" "${best[stdout]}" "${best[stdout_mem]}" ovh30
fi
if has ingest_mem && has kcat; then
	ratio "ingest only (no output) / kcat -P:" "${best[ingest_mem]}" "${best[kcat]}" plain
fi
# The same (c) ratios from the medians of the rounds: the best of a few rounds follows the lucky
# ones, which the memory cases have more of on a shared machine (one run: 23,200-37,600 alerts/s).
median() { # CASE
	echo "${all[$1]:-}" | tr ' ' '\n' | awk 'NF { v[n++] = $1 } END {
		if (!n) { print 0; exit }
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		print (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
	}'
}
for pair in "kafka_lines kafka_lines_mem" "webhook webhook_mem" "kafka kafka_mem" "stdout stdout_mem"; do
	read -r d m <<<"$pair"
	if has "$d" && has "$m"; then
		ratio "(c) $d disk / memory, medians:" "$(median "$d")" "$(median "$m")" ovh30
	fi
done
