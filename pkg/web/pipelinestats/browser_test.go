package pipelinestats_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/terminalsim"
	"github.com/spx-archive/spx/pkg/web"
	"github.com/spx-archive/spx/pkg/web/internal/browsertest"
	"github.com/spx-archive/spx/pkg/web/pipelinestats"
)

// TestBrowserOnSimulatorPipeline runs the all-in-one pipeline (embedded
// NATS, coordinator, fetchers, writers) against the simulated terminal: one
// day succeeds, one fails on a permanent terminal error. The page, served
// with the live collector and the coordinator's retry, shows both, and its
// retry button brings the failed day to success while the page watches.
func TestBrowserOnSimulatorPipeline(t *testing.T) {
	ctx := browsertest.Start(t, 50*time.Second)
	good, bad := spx.NewDate(2024, 3, 14), spx.NewDate(2024, 3, 15)

	sim := terminalsim.New(terminalsim.Config{Seed: 3, Concurrency: 2, MaxExpirations: 2, MaxStrikes: 5})
	v3, _, stopSim, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopSim)
	dir := t.TempDir()
	store, err := statusdb.Open(filepath.Join(dir, "spx.db"), statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	cfg := config.Default()
	cfg.ThetaAPI, cfg.ThetaBaseURL, cfg.Concurrency = "v3", v3, 2
	cfg.Datasets, cfg.Interval = []spx.Dataset{spx.Greeks}, 5*time.Minute
	cfg.OutputDir, cfg.TempDir = filepath.Join(dir, "parquet"), filepath.Join(dir, "temp")
	cfg.NATSListen, cfg.NATSMonitor, cfg.NATSStoreDir = "127.0.0.1:0", "127.0.0.1:0", filepath.Join(dir, "nats")
	p, err := pipeline.Start(context.Background(), pipeline.Options{Config: cfg, Coordinator: true, Fetchers: 2, Writers: 1,
		Embedded: true, Store: store, Topology: queue.Topology{FetchAckWait: 5 * time.Second}, FetchRetries: 1,
		RetryBase: 10 * time.Millisecond, Policy: queue.Policy{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		InProgressEvery: time.Second, TerminalEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })

	live := pipelinestats.New(p.NC, p.JS, pipelinestats.Config{})
	stopLive, err := live.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopLive() })

	client := p.Client()
	process := func(d spx.Date, want spx.DayStatus) {
		t.Helper()
		if _, err := client.Enqueue(context.Background(), coordinator.EnqueueRequest{Dates: []spx.Date{d}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			prog, err := client.Progress(context.Background(), []spx.Date{d})
			if err != nil {
				t.Fatal(err)
			}
			if prog[0].Finished {
				if prog[0].Day.Status != want {
					t.Fatalf("%s finished %s, want %s (%v)", d, prog[0].Day.Status, want, prog[0].Errors)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not finished in time: %+v", d, prog[0])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	process(good, spx.DaySuccess)
	sim.SetFaults(terminalsim.Faults{ErrorRate: map[int]float64{471: 1}})
	process(bad, spx.DayFailed)
	sim.SetFaults(terminalsim.Faults{})

	terminal := func() *spx.TerminalStatus { st := p.Terminal.Status(); return &st }
	srv := web.NewServer(web.Config{Store: store, Live: live, Years: []int{2024}, Database: store.Path(), Interval: 300 * time.Millisecond,
		Terminal: terminal,
		Retrier: web.RetryFunc(func(ctx context.Context, d spx.Date) (int, error) {
			res, err := p.Coord.Retry(ctx, coordinator.RetryRequest{Dates: []spx.Date{d}})
			return res.Jobs, err
		})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		stopServer()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	cell := func(d spx.Date) string { return `.cell[data-date="` + d.String() + `"]` }
	err = chromedp.Do(ctx,
		chromedp.Navigate("http://"+ln.Addr().String()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.WaitVisible(chromedp.ID("live-on")),
		chromedp.WaitVisible(chromedp.CSS(cell(good)+`[data-cell="success"]`)),
		chromedp.WaitVisible(chromedp.CSS(cell(bad)+`[data-cell="failed"]`)),
	)
	if err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	// What a person reads: the terminal up, with its latency, in the
	// header and the Terminal card; rows/s drawn in the throughput card.
	header := browsertest.WaitRegionText(t, ctx, "spx archive", 5*time.Second, "terminal up (v3) · p50 ")
	card := browsertest.WaitRegionText(t, ctx, "Terminal", 5*time.Second, "up (v3)", v3, "latency p50 / p95", "errors")
	throughput := browsertest.RegionText(t, ctx, "Throughput")
	t.Logf("header: %q\nterminal card: %q\nthroughput card: %q", header, card, throughput)
	if !strings.Contains(throughput, "rows/s") || !strings.Contains(throughput, "MB/s") {
		t.Errorf("throughput card reads %q, want rows/s and MB/s", throughput)
	}
	if n := browsertest.PixelsNear(t, ctx, "#throughput", [3]uint8{0x2d, 0xa4, 0x4e}, 40); n < 100 {
		t.Errorf("the throughput card shows %d pixels of the rows/s line's green, want a visible line", n)
	}
	if dups := browsertest.DuplicateIDs(t, ctx); len(dups) > 0 {
		t.Errorf("ids used more than once: %q", dups)
	}
	browsertest.Screenshot(t, ctx, "web-pipeline-failed.png")

	// Retry the failed day from the page; the pipeline fetches it again
	// (the fault is gone) and the calendar turns it green by itself.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(cell(bad))),
		chromedp.WaitVisible(chromedp.ID("retry")),
		chromedp.Click(chromedp.ID("retry")),
		chromedp.WaitVisible(chromedp.CSS(`#retry-result[data-jobs]`)),
		chromedp.WaitVisible(chromedp.CSS(cell(bad)+`[data-cell="success"]`)),
	)
	if err != nil {
		t.Fatalf("retrying the failed day from the page: %v", err)
	}
	day, ok, err := store.Day(context.Background(), bad)
	if err != nil || !ok || day.Status != spx.DaySuccess || day.RetryCount != 1 {
		t.Errorf("after the retry: %+v (ok %v, err %v), want success after 1 retry", day, ok, err)
	}
	browsertest.Screenshot(t, ctx, "web-pipeline-retried.png")

	// The terminal goes away: the page says so, and why, and lists the
	// outage under Recent errors although no job failed for it.
	stopSim()
	browsertest.WaitRegionText(t, ctx, "Terminal", 10*time.Second, "down (v3) since", "planning and fetching wait for it", "connection refused")
	browsertest.WaitRegionText(t, ctx, "spx archive", 5*time.Second, "terminal down since")
	errs := browsertest.WaitRegionText(t, ctx, "Recent errors", 5*time.Second, "Theta Terminal down", "connection refused", "spx waits")
	t.Logf("recent errors: %q", errs)
	browsertest.Screenshot(t, ctx, "web-pipeline-terminal-down.png")
}
