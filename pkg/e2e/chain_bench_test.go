package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// BenchmarkPipelineChainVsPerExpiration measures the planner's two plans
// end to end, from Enqueue to every day finished and written as Parquet
// (embedded NATS, fetchers, writers, coordinator): one expiration=*
// request per (dataset, root, date), thetadata.chain_requests true, the
// default, against one request per expiration (false), at the same
// concurrency (4) against a simulated terminal with a per-request
// latency. It reports per-exp/chain: above 1 the chain plan, which the
// planner uses, is faster. Run with `make bench-chain`.
func BenchmarkPipelineChainVsPerExpiration(b *testing.B) {
	days := []spx.Date{spx.NewDate(2024, 3, 13), spx.NewDate(2024, 3, 14), spx.NewDate(2024, 3, 15)}
	for _, lat := range []terminalsim.Latency{
		{FirstByte: 100 * time.Millisecond, BytesPerSecond: 4 << 20},
		{FirstByte: 25 * time.Millisecond, BytesPerSecond: 32 << 20},
	} {
		for _, ds := range []spx.Dataset{spx.Quote, spx.EOD, spx.OpenInterest} {
			b.Run(fmt.Sprintf("%s/first-byte=%s/MiBps=%d", ds, lat.FirstByte, lat.BytesPerSecond>>20), func(b *testing.B) {
				var tPer, tChain time.Duration
				var jobs, reqPer, reqChain int
				for b.Loop() {
					run := func(chain bool) (time.Duration, int, int) {
						e := start(b, envOptions{api: "v3", datasets: []spx.Dataset{ds},
							sim:    terminalsim.Config{Seed: 1, Concurrency: 4, MaxExpirations: 12, MaxStrikes: 20, Latency: lat},
							config: func(c *config.Config) { c.ChainRequests = chain; c.Follow = false }})
						t0 := time.Now()
						res, err := e.client.Enqueue(context.Background(), coordinator.EnqueueRequest{Dates: days})
						if err != nil {
							b.Fatal(err)
						}
						for _, p := range e.waitDays(b, days) {
							if p.Day.Status != spx.DaySuccess {
								b.Fatalf("%s: %s", p.Day.Date, p.Day.Status)
							}
						}
						took := time.Since(t0)
						var n int64
						for _, c := range e.sim.Stats().Requests["/v3"+ds.V3Path()] {
							n += c
						}
						return took, res.Jobs, int(n)
					}
					d, n, r := run(false)
					tPer, jobs, reqPer = tPer+d, n, r
					d, n, r = run(true)
					if n != jobs {
						b.Fatalf("chain plan: %d jobs, per-expiration plan %d", n, jobs)
					}
					tChain, reqChain = tChain+d, r
				}
				b.ReportMetric(tPer.Seconds()/float64(b.N), "per-exp-s/op")
				b.ReportMetric(tChain.Seconds()/float64(b.N), "chain-s/op")
				b.ReportMetric(tPer.Seconds()/tChain.Seconds(), "per-exp/chain")
				b.ReportMetric(float64(jobs), "jobs")
				b.ReportMetric(float64(reqPer), "per-exp-requests")
				b.ReportMetric(float64(reqChain), "chain-requests")
			})
		}
	}
}
