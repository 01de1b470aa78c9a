package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

var small = terminalsim.Config{Seed: 11, Concurrency: 4, MaxExpirations: 2, MaxStrikes: 4}

// Greeks before 2020 answer 472: those jobs end empty and the day is still
// a success thanks to its quote files.
func TestNoDataJobsDoNotFailTheDay(t *testing.T) {
	e := start(t, envOptions{api: "v3", sim: small, datasets: []spx.Dataset{spx.Greeks, spx.Quote}})
	ctx := context.Background()
	day := []spx.Date{spx.NewDate(2019, 6, 5)}
	if _, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: day}); err != nil {
		t.Fatal(err)
	}
	p := e.waitDays(t, day)[0]
	if p.Day.Status != spx.DaySuccess {
		t.Fatalf("status %s, want success (%v)", p.Day.Status, p.Errors)
	}
	jobs, _ := e.store.JobsForDate(ctx, day[0])
	var empty, written int
	for _, j := range jobs {
		switch {
		case j.Outcome == spx.JobEmpty && j.Key.Dataset == spx.Greeks:
			empty++
		case j.Outcome == spx.JobWritten && j.Key.Dataset == spx.Quote:
			written++
		default:
			t.Errorf("%s: %s", j.Key, j.Outcome)
		}
	}
	if empty == 0 || written == 0 {
		t.Errorf("%d empty greeks jobs, %d written quote jobs", empty, written)
	}
}

func TestPermanentErrorFailsTheJob(t *testing.T) {
	sim := small
	sim.Faults = terminalsim.Faults{ErrorRate: map[int]float64{471: 1}}
	e := start(t, envOptions{api: "v3", sim: sim})
	ctx := context.Background()
	if _, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days[:1]}); err != nil {
		t.Fatal(err)
	}
	p := e.waitDays(t, days[:1])[0]
	if p.Day.Status != spx.DayFailed || p.Failed != p.Jobs {
		t.Fatalf("day %s with %d/%d failed, want failed", p.Day.Status, p.Failed, p.Jobs)
	}
	jobs, _ := e.store.JobsForDate(ctx, days[0])
	for _, j := range jobs {
		if j.Outcome != spx.JobFailed || !strings.Contains(j.LastError, "PERMISSION") || j.ErrorClass != spx.ClassPermanent {
			t.Errorf("%s: %s %s %q", j.Key, j.Outcome, j.ErrorClass, j.LastError)
		}
	}
	errs, _ := e.store.Errors(ctx, 0)
	if len(errs) < len(jobs) {
		t.Errorf("error log has %d entries for %d failed jobs", len(errs), len(jobs))
	}
}

// A job that keeps failing transiently goes dead after MaxDeliver; once the
// terminal recovers, retry brings it back to written.
func TestDeadLetterAndRetry(t *testing.T) {
	sim := small
	sim.Faults = terminalsim.Faults{ErrorRate: map[int]float64{474: 1}}
	e := start(t, envOptions{api: "v3", sim: sim, topology: queue.Topology{FetchMaxDeliver: 2, FetchAckWait: 2 * time.Second}})
	ctx := context.Background()
	if _, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days[:1]}); err != nil {
		t.Fatal(err)
	}
	p := e.waitDays(t, days[:1])[0]
	if p.Day.Status != spx.DayFailed {
		t.Fatalf("day %s, want failed", p.Day.Status)
	}
	jobs, _ := e.store.JobsForDate(ctx, days[0])
	for _, j := range jobs {
		if j.Outcome != spx.JobDead || !strings.Contains(j.LastError, "DISCONNECTED") || j.Attempts != 2 {
			t.Errorf("%s: %s after %d attempts: %q", j.Key, j.Outcome, j.Attempts, j.LastError)
		}
	}
	depth, err := queue.Depth(ctx, e.p.JS)
	if err != nil {
		t.Fatal(err)
	}
	if depth[0].Pending != 0 || depth[0].InFlight != 0 || depth[0].Dead != uint64(len(jobs)) {
		t.Errorf("fetch depth after dead letters: %+v", depth[0])
	}

	e.sim.SetFaults(terminalsim.Faults{})
	res, err := e.client.Retry(ctx, coordinator.RetryRequest{Dates: days[:1]})
	if err != nil || res.Jobs != len(jobs) {
		t.Fatalf("retry: %+v %v", res, err)
	}
	p = e.waitDays(t, days[:1])[0]
	if p.Day.Status != spx.DaySuccess || p.Day.RetryCount != 1 {
		t.Fatalf("after retry: %s, retry count %d (%v)", p.Day.Status, p.Day.RetryCount, p.Errors)
	}
}

// Two fetcher services on one NATS server share the consumer, and
// MaxAckPending keeps them within the terminal's concurrency together.
func TestTwoFetcherServicesShareTheLimit(t *testing.T) {
	sim := terminalsim.Config{Seed: 5, Concurrency: 8, MaxExpirations: 3, MaxStrikes: 4, Faults: terminalsim.Faults{Latency: 20 * time.Millisecond}}
	e := start(t, envOptions{api: "v3", sim: sim, fetchers: 4, datasets: []spx.Dataset{spx.Greeks, spx.Quote}, topology: queue.Topology{Concurrency: 2}})
	cfg := e.cfg
	cfg.NATSURL = e.p.Server.ClientURL()
	second, err := pipeline.Start(context.Background(), pipeline.Options{Config: cfg, Fetchers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	ctx := context.Background()
	if _, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days[:1]}); err != nil {
		t.Fatal(err)
	}
	p := e.waitDays(t, days[:1])[0]
	if p.Day.Status != spx.DaySuccess {
		t.Fatalf("day %s (%v)", p.Day.Status, p.Errors)
	}
	if got := e.sim.Stats().MaxConcurrent; got > 2 {
		t.Errorf("terminal saw %d requests at once, the limit is 2", got)
	}
}

// While no fetcher runs, the monitoring endpoint shows the jobs waiting.
func TestMonitoringShowsPending(t *testing.T) {
	e := start(t, envOptions{api: "v3", sim: small, noWorkers: true})
	ctx := context.Background()
	res, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days[:1]})
	if err != nil || res.Jobs == 0 {
		t.Fatalf("enqueue: %+v %v", res, err)
	}
	resp, err := http.Get(e.p.Server.MonitorURL() + "/jsz?consumers=true")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var jsz struct {
		AccountDetails []struct {
			StreamDetail []struct {
				Name     string `json:"name"`
				Consumer []struct {
					Name       string `json:"name"`
					NumPending int    `json:"num_pending"`
				} `json:"consumer_detail"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.Unmarshal(body, &jsz); err != nil {
		t.Fatal(err)
	}
	pending := -1
	for _, a := range jsz.AccountDetails {
		for _, s := range a.StreamDetail {
			for _, c := range s.Consumer {
				if s.Name == queue.StreamFetch && c.Name == queue.ConsumerFetchers {
					pending = c.NumPending
				}
			}
		}
	}
	if pending != res.Jobs {
		t.Fatalf("/jsz shows %d pending on fetchers, want %d", pending, res.Jobs)
	}
	depth, err := pipeline.QueueDepth(ctx, e.p.Server.ClientURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	if depth[0].Stage != "fetch" || depth[0].Pending != uint64(res.Jobs) || depth[1].Pending != 0 {
		t.Fatalf("queue depth %+v, want %d pending fetches", depth, res.Jobs)
	}
}

// The terminal answers 570 to a whole expiration; the fetcher splits the
// request into calls and puts and stages both in one object.
func TestLargeRequestIsSplitByRight(t *testing.T) {
	sim := small
	sim.LargeRequestRows = 400 // one expiration: 4 strikes x 2 rights x 79 five-minute bars = 632 rows
	e := start(t, envOptions{api: "v3", sim: sim})
	ctx := context.Background()
	if _, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days[:1]}); err != nil {
		t.Fatal(err)
	}
	p := e.waitDays(t, days[:1])[0]
	if p.Day.Status != spx.DaySuccess {
		t.Fatalf("day %s (%v)", p.Day.Status, p.Errors)
	}
	jobs, _ := e.store.JobsForDate(ctx, days[0])
	for _, j := range jobs {
		// ExpectedRows counts one-minute bars (391 a contract); the test runs at five minutes (79).
		want := e.sim.ExpectedRows(j.Key.Dataset, j.Key.Root, j.Key.Date, j.Key.Expiration) / 391 * 79
		if j.Rows != want || want <= int64(sim.LargeRequestRows) {
			t.Errorf("%s: %d rows, the terminal has %d (limit %d)", j.Key, j.Rows, want, sim.LargeRequestRows)
		}
		if got := parquetRows(t, filepath.Join(e.cfg.OutputDir, j.Key.RelPath())); got != want {
			t.Errorf("%s: %d rows in Parquet, want %d", j.Key, got, want)
		}
	}
	if n := e.sim.Stats().Requests["/v3/option/history/greeks/first_order"]["570"]; n == 0 {
		t.Errorf("the terminal never answered 570: %v", e.sim.Stats().Requests)
	}
}

func TestControlAPIConfig(t *testing.T) {
	e := start(t, envOptions{api: "v3", sim: small, noWorkers: true})
	ctx := context.Background()
	if err := e.client.ConfigSet(ctx, "processing.roots", "SPXW"); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.ConfigGet(ctx)
	if err != nil || got["processing.roots"] != "SPXW" {
		t.Fatalf("config get: %v %v", got, err)
	}
	if err := e.client.ConfigSet(ctx, "processing.rots", "SPXW"); err == nil || !strings.Contains(err.Error(), "processing.roots") {
		t.Fatalf("a misspelt key: err %v, want a hint naming processing.roots", err)
	}
	st, err := e.client.Status(ctx)
	if err != nil || len(st.Depth) != 2 {
		t.Fatalf("status: %+v %v", st, err)
	}
}
