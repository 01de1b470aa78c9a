// Package statusdb is the bbolt implementation of spx.StatusStore: job and
// day records, stored configuration and the error log, in one file owned by
// one process (the coordinator, or the CLI when no coordinator runs).
//
// It must not interpret the records (no day-status rules, no gap analysis:
// those live in pkg/spx and the coordinator) and it must never overwrite,
// truncate or "repair" a file it does not recognise.
package statusdb
