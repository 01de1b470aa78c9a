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

// HOOK (target 5, fetcher): streaming a terminal response into the object
// store must take ≤ 1.3× the time of downloading it to /dev/null. Needs
// pkg/fetcher and the staging object store; when they exist, serve one
// large greeks response from the simulator, time a plain GET into
// io.Discard and the fetcher's Put into an embedded JetStream object store
// (random port), and return a verdict on the ratio.
func hookFetcher(_ context.Context, cfg config) report.Verdict {
	v := report.Verdict{Target: "5 fetcher streaming", Want: "object-store put ≤ 1.3 × download to /dev/null", Status: "SKIP"}
	v.Got = "not built yet: hook in bench/cmd/spxbench/hooks.go (hookFetcher)"
	if cfg.fetcher {
		v.Got = "-fetcher asked for, but " + v.Got
	}
	return v
}
