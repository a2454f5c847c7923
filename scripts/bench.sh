#!/usr/bin/env bash
# End-to-end benchmarks (targets in BENCHMARKS.md): builds flagpole and the
# bench harness, then runs every scenario of bench/ with modest defaults and
# writes the result blocks to stdout. Needs redis-server and git on PATH.
# Takes a few minutes. Extra arguments go to the harness, e.g.
#   scripts/bench.sh -edits 500
#   scripts/bench.sh -n 1000 fanout       (one scenario)
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}

for tool in redis-server git; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool is not on PATH" >&2; exit 1; }
done

out=$(mktemp -d "${TMPDIR:-/tmp}/flagpole-bench-build.XXXXXX")
trap 'rm -rf "$out"' EXIT

echo "building flagpole and the bench harness..." >&2
"$GO" build -o "$out/flagpole" ./cmd/flagpole
"$GO" build -o "$out/bench" ./bench

# Scenarios named among the arguments replace "all".
scenario=all
for a in "$@"; do
	case "$a" in
	propagation | propagation-redis | git-webhook | override | override-split | breaker | fanout | evaluate | all) scenario= ;;
	esac
done

"$out/bench" -bin "$out/flagpole" -edits 200 -n 1000,10000 -rounds 3 -c 32 -d 10s "$@" $scenario
