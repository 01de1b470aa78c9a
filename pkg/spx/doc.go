// Package spx is the domain of the SPX option archive: datasets and their
// canonical columns, trade dates, job keys, job outcomes, day statuses, error
// classes, the staged NDJSON row format, and the small interfaces the roles
// (coordinator, fetcher, writer) and the CLI need.
//
// It must not import any adapter (NATS, bbolt, Arrow, HTTP): adapters import
// it, never the other way round.
package spx
