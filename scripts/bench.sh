#!/usr/bin/env bash
# Converter benchmark: spx convert against DuckDB on the same generated
# greeks NDJSON, one run, with peak RSS and a correctness gate.
# bench/ is its own Go module (DuckDB needs cgo), so spx never links it.
#
#   scripts/bench.sh            # a whole day, ≈7.8 M rows (needs ≈4 GB free in $TMPDIR)
#   scripts/bench.sh -quick     # ≈1 M rows, a fast check
#   scripts/bench.sh -h         # every flag
set -euo pipefail
cd "$(dirname "$0")/../bench"
export CGO_ENABLED=1
# -mod=mod: the main module's requirements may have moved since bench/go.mod
# was written; let go reconcile them instead of failing.
exec go run -mod=mod ./cmd/spxbench "$@"
