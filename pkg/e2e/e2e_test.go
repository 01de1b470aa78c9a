package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
	"github.com/spx-archive/spx/pkg/thetadata"
)

var days = []spx.Date{spx.NewDate(2024, 3, 14), spx.NewDate(2024, 3, 15)}

func TestEndToEnd(t *testing.T) {
	for _, api := range []string{"v3", "v2"} {
		t.Run(api, func(t *testing.T) {
			e := start(t, envOptions{api: api, sim: terminalsim.Config{Seed: 7, Concurrency: 2, MaxExpirations: 3, MaxStrikes: 10},
				datasets: []spx.Dataset{spx.Greeks, spx.Quote}})
			ctx := context.Background()
			days := days
			if api == "v2" {
				days = days[:1] // the planner and layout are the same; keep -race runs short
			}
			res, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days})
			if err != nil {
				t.Fatal(err)
			}
			if res.Jobs == 0 || len(res.Days) != len(days) {
				t.Fatalf("enqueue: %+v", res)
			}
			prog := e.waitDays(t, days)
			for _, p := range prog {
				if p.Day.Status != spx.DaySuccess {
					t.Errorf("%s: status %s (%v)", p.Day.Date, p.Day.Status, p.Errors)
				}
				if p.Day.Checksum == "" || p.Day.RecordCount == 0 {
					t.Errorf("%s: no checksum or record count: %+v", p.Day.Date, p.Day)
				}
			}
			jobs, err := e.store.Jobs(ctx, spx.JobFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != res.Jobs {
				t.Errorf("%d job records, %d published", len(jobs), res.Jobs)
			}
			stats := e.sim.Stats()
			roots := map[string]bool{}
			datasets := map[spx.Dataset]bool{}
			for _, j := range jobs {
				if !j.Outcome.Done() {
					t.Errorf("%s: outcome %s (%s)", j.Key, j.Outcome, j.LastError)
					continue
				}
				roots[j.Key.Root], datasets[j.Key.Dataset] = true, true
				if j.Outcome != spx.JobWritten {
					continue
				}
				path := filepath.Join(e.cfg.OutputDir, j.Key.RelPath())
				if got, want := parquetRows(t, path), stats.RowsServed[j.Key.String()]; got != want || got != j.Rows {
					t.Errorf("%s: %d rows in Parquet, sim served %d, recorded %d", j.Key, got, want, j.Rows)
				}
				if err := archive.VerifyFile(ctx, path, j.Rows, j.SHA256); err != nil {
					t.Errorf("%s: %v", j.Key, err)
				}
			}
			// Quote takes expiration=*: one request per (root, date), each
			// expiration still its own job and file.
			quoteDays := map[string]bool{}
			for _, j := range jobs {
				if j.Key.Dataset == spx.Quote {
					quoteDays[j.Key.Root+j.Key.Date.String()] = true
				}
			}
			path := "/v3" + spx.Quote.V3Path()
			if api == "v2" {
				path = "/v2" + spx.Quote.V2Path()
			}
			var quoteRequests int64
			for _, n := range stats.Requests[path] {
				quoteRequests += n
			}
			if quoteRequests != int64(len(quoteDays)) {
				t.Errorf("terminal got %d quote requests (%v), want one per (root, date): %d", quoteRequests, stats.Requests[path], len(quoteDays))
			}
			if len(roots) != 2 || len(datasets) != 2 {
				t.Errorf("jobs cover roots %v and datasets %v, want both of each", roots, datasets)
			}
			if stats.MaxConcurrent > 2 {
				t.Errorf("terminal saw %d concurrent requests, limit 2", stats.MaxConcurrent)
			}
			for _, d := range days {
				m, err := archive.ReadManifest(filepath.Join(e.cfg.OutputDir, spx.DayDir(spx.Greeks, "SPXW", d)))
				if err != nil || len(m.Files) == 0 {
					t.Errorf("%s manifest: %v (%d files)", d, err, len(m.Files))
				}
			}
			checkRoundTrip(t, e, jobs)

			rep, err := pipeline.Verify(ctx, e.store, archive.NewDir(e.cfg.OutputDir), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 0 || rep.Files == 0 || rep.Days != len(days) {
				t.Errorf("verify of a good archive: %+v", rep)
			}

			again, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days})
			if err != nil {
				t.Fatal(err)
			}
			if again.Jobs != 0 || len(again.Skipped) != len(days) {
				t.Errorf("second run enqueued %+v, want nothing", again)
			}
		})
	}
}

// checkRoundTrip compares one greeks file with the terminal's own answer.
func checkRoundTrip(t *testing.T, e *env, jobs []spx.JobRecord) {
	t.Helper()
	ctx := context.Background()
	var job spx.JobRecord
	for _, j := range jobs {
		if j.Outcome == spx.JobWritten && j.Key.Dataset == spx.Greeks {
			job = j
			break
		}
	}
	c, err := thetadata.New(ctx, thetadata.Options{BaseURL: e.cfg.ThetaBaseURL, API: e.cfg.ThetaAPI})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.History(ctx, spx.HistoryRequest{Dataset: job.Key.Dataset, Root: job.Key.Root, Date: job.Key.Date, Expiration: job.Key.Expiration, Interval: e.cfg.Interval})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols := []string{"bid", "delta", "implied_vol", "underlying_price"}
	idx := map[string]int{}
	for i, c := range job.Key.Dataset.ColumnNames() {
		idx[c] = i
	}
	got := parquetValues(t, filepath.Join(e.cfg.OutputDir, job.Key.RelPath()), cols)
	n := 0
	for rs.Next() {
		r := rs.Row()
		k := fmt.Sprintf("%s|%c|%s", strconv.FormatFloat(r.Contract.Strike, 'g', -1, 64), r.Contract.Right, string(r.Values[idx["ms_of_day"]]))
		for _, c := range cols {
			want := floatStr(r.Values[idx[c]])
			if g := got[k+"|"+c]; floatStr([]byte(g)) != want {
				t.Fatalf("%s %s %s: Parquet %q, terminal %q", job.Key, k, c, g, want)
			}
		}
		n++
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 || int64(n) != job.Rows {
		t.Fatalf("round trip: terminal gave %d rows, job has %d", n, job.Rows)
	}
}

func TestVerifyFindsCorruption(t *testing.T) {
	e := start(t, envOptions{api: "v3", sim: terminalsim.Config{Seed: 3, Concurrency: 4, MaxExpirations: 2, MaxStrikes: 4}})
	ctx := context.Background()
	if _, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days[:1]}); err != nil {
		t.Fatal(err)
	}
	e.waitDays(t, days[:1])
	jobs, err := e.store.Jobs(ctx, spx.JobFilter{Outcomes: []spx.JobOutcome{spx.JobWritten}})
	if err != nil || len(jobs) == 0 {
		t.Fatalf("no written jobs: %v", err)
	}
	path := filepath.Join(e.cfg.OutputDir, jobs[0].Key.RelPath())
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := pipeline.Verify(ctx, e.store, archive.NewDir(e.cfg.OutputDir), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Job != jobs[0].Key.String() {
		t.Fatalf("verify after corrupting %s: %+v", path, rep.Problems)
	}

	// The fix verify suggests, spx retry <date>, rewrites the damaged file.
	res, err := e.client.Retry(ctx, coordinator.RetryRequest{Dates: days[:1]})
	if err != nil || res.Jobs != 1 {
		t.Fatalf("retry of the damaged day: %+v %v", res, err)
	}
	if p := e.waitDays(t, days[:1])[0]; p.Day.Status != spx.DaySuccess {
		t.Fatalf("after retry: %s (%v)", p.Day.Status, p.Errors)
	}
	rep, err = pipeline.Verify(ctx, e.store, archive.NewDir(e.cfg.OutputDir), 0, 0)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify after retry: %+v %v", rep.Problems, err)
	}
}
