#!/usr/bin/env bash
# CPU profile of the converter: pkg/archive's BenchmarkConvertGreeks under
# -cpuprofile, then the top functions (flat and cumulative).
#
#   scripts/bench-profile.sh [OUT_DIR]     # default: a temporary directory
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
go test -run '^$' -bench BenchmarkConvertGreeks -benchtime 3x -cpuprofile "$out/cpu.out" -o "$out/archive.test" ./pkg/archive/
echo "== top by flat time"
go tool pprof -top -nodecount 25 "$out/archive.test" "$out/cpu.out" 2>/dev/null
echo "== top by cumulative time"
go tool pprof -top -cum -nodecount 25 "$out/archive.test" "$out/cpu.out" 2>/dev/null
echo "profile: $out/cpu.out (go tool pprof -http : $out/archive.test $out/cpu.out)"
