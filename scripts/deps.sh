#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages lanner builds and tests with, only when missing. Idempotent.
set -euo pipefail

PKGS=(
	# build
	build-essential cmake pkg-config clang llvm clang-format
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libuv1-dev libcurl4-openssl-dev librdkafka-dev libyaml-dev libjansson-dev
	libcmocka-dev libh2o-dev libssl-dev libsqlite3-dev libpcre2-dev
	# tests and benchmarks
	rsyslog kcat python3 python3-yaml wrk curl iproute2 strace util-linux procps
	# sanitizer runtime for clang-built fuzzers
	libclang-rt-14-dev
)
# web UI: the build runs vite with node/npm (a node already there, e.g. NodeSource's, which
# brings its own npm, is kept); the browser tests drive Debian's chromium with playwright-core.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	PKGS+=(nodejs npm)
fi
PKGS+=(chromium)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
