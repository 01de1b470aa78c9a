// Package e2e holds end-to-end tests of the whole pipeline: the simulated
// terminal, embedded JetStream, coordinator, fetchers, writers and the
// Parquet archive in one test process. It has no non-test code.
package e2e
