#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build lanner (release) and run it with the shipped configuration. Extra arguments go to lanner:
#   ./scripts/run.sh                 detector + default rules, alerts to stdout and :2801
#   ./scripts/run.sh -o debug=true   any CLI option (see lanner --help)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
build="$top/build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLANNER_TESTS=OFF >/dev/null
cmake --build "$build" --target lanner -j"$(nproc)" >/dev/null
exec "$build/gateway/lanner" -c "$top/config/lanner.yaml" "$@"
