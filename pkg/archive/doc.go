// Package archive turns staged NDJSON history (the form written by
// spx.AppendNDJSON) into the archive's Parquet files, and keeps the per-day
// _manifest.json that lists them. It also re-reads finished files to verify
// them.
//
// It owns the Parquet schema of every dataset (DESIGN.md §3), the
// deterministic writer settings, the atomic file protocol (tmp, fsync,
// rename, fsync dir) and the bounded-memory sort by (root, expiration,
// strike, right, timestamp).
//
// It must not know about NATS, the status store or the terminal: it reads
// bytes and writes files, and callers decide what a failure means through
// spx.ClassOf (bad input is spx.Permanent). On first use it replaces
// arrow-go's zstd codec process-wide with one that keeps a 1 MiB window
// (see codec.go).
package archive
