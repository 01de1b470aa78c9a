#!/bin/sh
# The fault suite (test/faults): builds the real binaries and runs the
# simulated terminal, coordinator, fetchers and writers as separate
# processes, then injects crashes, terminal faults, full disks and bad data.
#
#   scripts/faults.sh            the short pass (what go test ./... runs in CI)
#   scripts/faults.sh full       every scenario, including the coordinator
#                                restart, the full disk (needs root for a
#                                tmpfs) and the 5-day load run
#   scripts/faults.sh full -run TestLoad   extra go test flags pass through
#
# -count=1: the suite's inputs are the binaries it builds, which go test's
# cache does not see, so a cached pass would hide a regression.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-short}
[ $# -gt 0 ] && shift
if [ "$mode" = full ]; then
	export SPX_FAULTS=full
	exec go test -count=1 -timeout 90m -v "$@" ./test/faults/
fi
exec go test -count=1 -timeout 10m -v "$@" ./test/faults/
