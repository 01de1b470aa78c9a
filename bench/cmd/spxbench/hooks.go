package main

import (
	"context"

	"github.com/spx-archive/spx/bench/report"
)

// hookE2E is target 4's verdict when -e2e is not given (see e2e.go).
func hookE2E(_ context.Context, _ config) report.Verdict {
	return report.Verdict{Target: "4 end to end", Want: "spx process (simulated 2024 day) vs curl + DuckDB",
		Got: "not run: add -e2e (bench/cmd/spxbench/e2e.go)", Status: "SKIP"}
}

// hookFetcher is target 5's verdict when -fetcher is not given (see
// fetch.go).
func hookFetcher(_ context.Context, _ config) report.Verdict {
	return report.Verdict{Target: "5 fetcher streaming", Want: "object-store put ≤ 1.3 × download to /dev/null",
		Got: "not run: add -fetcher (bench/cmd/spxbench/fetch.go)", Status: "SKIP"}
}
