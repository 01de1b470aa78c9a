// Package faults is the fault suite: it builds the real spx binaries and
// runs the simulated terminal, the coordinator (with its embedded NATS),
// fetchers and writers as separate processes, injects crashes (kill -9),
// terminal faults, full disks and bad data, and checks that every planned
// job ends written, empty, or failed/dead with a reason, that the archive
// verifies, and that the row totals equal what the simulator served.
//
// The default `go test` runs the short pass; SPX_FAULTS=full (make faults)
// runs every scenario. It holds no production code and must not be
// imported.
package faults
