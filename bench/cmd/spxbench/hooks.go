package main

import (
	"context"

	"github.com/spx-archive/spx/bench/report"
)

// HOOK (target 4, end to end): a full simulated 2024 day through
// `spx process` against the naive peer (curl at the same concurrency into
// files, then DuckDB). Needs the pipeline (coordinator, fetchers, writers)
// and `spx sim-terminal`; when they exist, start the simulator on
// 127.0.0.1:0, time `spx process <day> --terminal URL` as a child (proc.Run)
// and the peer the same way, and return a verdict on the ratio.
func hookE2E(_ context.Context, cfg config) report.Verdict {
	v := report.Verdict{Target: "4 end to end", Want: "spx process (simulated 2024 day) vs curl + DuckDB", Status: "SKIP"}
	v.Got = "not built yet: hook in bench/cmd/spxbench/hooks.go (hookE2E)"
	if cfg.e2e {
		v.Got = "-e2e asked for, but " + v.Got
	}
	return v
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
