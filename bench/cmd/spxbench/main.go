// Command spxbench measures spx's NDJSON→Parquet converter against DuckDB
// on the same generated data in one run, and checks the performance
// targets of the issue "Performance: beat DuckDB at NDJSON→Parquet, bounded
// memory, and an end-to-end benchmark".
//
//	cd bench && go run ./cmd/spxbench            # a whole day (≈7.8 M rows)
//	cd bench && go run ./cmd/spxbench -quick     # ≈1 M rows, a fast check
//
// Every converter runs as a child process (spx as the real CLI, DuckDB as
// this binary re-executed with "duckdb-child") so wall time and peak RSS
// are its own.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
