#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, as CI runs it: install what is missing, build with -Werror and
# ASan+UBSan (leaks fail), run every unit and integration test, check formatting, and fuzz the
# rules parsers for 30 s each. Run as root: the detector tests load eBPF programs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh"

jobs=$(nproc)
build="$top/build-test"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "== build (ASan+UBSan, -Werror)"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANITIZE=address,undefined \
	-DLANNER_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs"

echo "== format"
bad=0
while IFS= read -r f; do
	case "$f" in *vmlinux.h) continue ;; esac
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "clang-format disagrees with $f" >&2
		bad=1
	fi
done < <(git ls-files '*.c' '*.h')
[ "$bad" -eq 0 ] || { echo "format check failed: run clang-format -i on the files above" >&2; exit 1; }

echo "== fuzz (30 s per target)"
fuzz_build="$top/build-fuzz"
CC=clang cmake -S "$top" -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLANNER_FUZZ=ON \
	-DLANNER_TESTS=ON >/dev/null
targets=$(cmake --build "$fuzz_build" --target help | sed -n 's/^\.\.\. \(fuzz_[a-z_]*\).*/\1/p')
for t in $targets; do
	cmake --build "$fuzz_build" --target "$t" -j"$jobs" >/dev/null
	corpus="$fuzz_build/corpus-$t"
	mkdir -p "$corpus"
	seeds="$top/tests/fuzz/corpus/${t#fuzz_}"
	echo "-- $t"
	"$fuzz_build/tests/fuzz/$t" -max_total_time=30 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) 2>&1 | tail -n 3
done

echo "== tests"
cd "$build"
ctest --output-on-failure -j"$jobs" --timeout 600
