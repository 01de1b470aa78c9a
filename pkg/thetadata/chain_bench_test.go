package thetadata

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// BenchmarkChainVsPerExpiration asks whether one expiration=* request per
// (day, root) beats one request per expiration, at the same concurrency
// (4, the STANDARD tier) against a simulated terminal with a real
// terminal's per-request latency (a first-byte delay, then a bytes/s cap
// per request). It reports the ratio per-exp/chain: above 1, the chain
// plan is faster. Run with `make bench-chain`.
//
// Only quote, eod and open_interest are measured: the spec offers
// expiration=* for those and not for greeks or ohlc.
func BenchmarkChainVsPerExpiration(b *testing.B) {
	days := []spx.Date{spx.NewDate(2024, 3, 13), spx.NewDate(2024, 3, 14), spx.NewDate(2024, 3, 15)}
	roots := []string{"SPXW", "SPX"}
	const concurrency = 4
	for _, lat := range []terminalsim.Latency{
		{FirstByte: 100 * time.Millisecond, BytesPerSecond: 4 << 20},
		{FirstByte: 25 * time.Millisecond, BytesPerSecond: 32 << 20},
		{FirstByte: 100 * time.Millisecond}, // no bandwidth cap
	} {
		for _, ds := range []spx.Dataset{spx.Quote, spx.EOD, spx.OpenInterest} {
			name := fmt.Sprintf("%s/first-byte=%s/MiBps=%d", ds, lat.FirstByte, lat.BytesPerSecond>>20)
			b.Run(name, func(b *testing.B) {
				sim := terminalsim.New(terminalsim.Config{Seed: 1, Concurrency: concurrency, MaxExpirations: 12, MaxStrikes: 20, Latency: lat})
				v3, _, stop, err := sim.Listen("127.0.0.1:0", "")
				if err != nil {
					b.Fatal(err)
				}
				defer stop()
				c := newClient(b, v3, "v3", func(o *Options) { o.Timeout = time.Minute })
				var perExp, chain []spx.HistoryRequest
				for _, d := range days {
					for _, root := range roots {
						chain = append(chain, spx.HistoryRequest{Dataset: ds, Root: root, Date: d, AllExpirations: true, Interval: 5 * time.Minute})
						for _, e := range sim.Expirations(root, d) {
							perExp = append(perExp, spx.HistoryRequest{Dataset: ds, Root: root, Date: d, Expiration: e, Interval: 5 * time.Minute})
						}
					}
				}
				var tPer, tChain time.Duration
				var rows int64
				for b.Loop() {
					start := time.Now()
					nPer := runPlan(b, c, perExp, concurrency)
					tPer += time.Since(start)
					start = time.Now()
					nChain := runPlan(b, c, chain, concurrency)
					tChain += time.Since(start)
					if nPer != nChain || nPer == 0 {
						b.Fatalf("per-expiration plan read %d rows, chain plan %d", nPer, nChain)
					}
					rows = nPer
				}
				b.ReportMetric(tPer.Seconds()/float64(b.N), "per-exp-s/op")
				b.ReportMetric(tChain.Seconds()/float64(b.N), "chain-s/op")
				b.ReportMetric(tPer.Seconds()/tChain.Seconds(), "per-exp/chain")
				b.ReportMetric(float64(len(perExp)), "per-exp-requests")
				b.ReportMetric(float64(len(chain)), "chain-requests")
				b.ReportMetric(float64(rows), "rows")
			})
		}
	}
}

// runPlan reads every request with n workers and returns the rows read.
func runPlan(b *testing.B, c *Client, reqs []spx.HistoryRequest, n int) int64 {
	var rows atomic.Int64
	var wg sync.WaitGroup
	next := make(chan spx.HistoryRequest)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range next {
				s, err := c.History(context.Background(), req)
				if err != nil {
					if spx.ClassOf(err) == spx.ClassEmpty {
						continue
					}
					b.Error(err)
					continue
				}
				var k int64
				for s.Next() {
					k++
				}
				if err := s.Err(); err != nil {
					b.Error(err)
				}
				s.Close()
				rows.Add(k)
			}
		}()
	}
	for _, r := range reqs {
		next <- r
	}
	close(next)
	wg.Wait()
	return rows.Load()
}
