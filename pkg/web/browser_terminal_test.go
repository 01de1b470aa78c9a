package web

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/web/internal/browsertest"
)

// servePage serves srv on a loopback port until the test ends and returns
// the page's URL.
func servePage(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// openPage loads the page and waits until its scripts drew the live
// pipeline.
func openPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.WaitVisible(chromedp.ID("live-on")),
	)
	if err != nil {
		t.Fatalf("loading the page: %v", err)
	}
}

// The Terminal card says the terminal is down and why, the header says so
// too, and the outage the coordinator records shows under Recent errors as
// soon as it is written, although no day changed. Once the terminal is up,
// the header shows its latency. No two elements share an id.
func TestBrowserTerminalOutage(t *testing.T) {
	store := seedStore(t)
	down := &spx.TerminalStatus{State: spx.TerminalDown, Since: testNow.Add(-2 * time.Minute), Checked: testNow,
		LastError: "reaching the terminal at http://127.0.0.1:25503: dial tcp 127.0.0.1:25503: connect: connection refused"}
	var terminal atomic.Pointer[spx.TerminalStatus]
	terminal.Store(down)
	srv := NewServer(Config{Store: store, Live: fakeLive(), Years: []int{2024}, Database: "spx.db",
		Interval: 200 * time.Millisecond, Now: func() time.Time { return testNow }, Terminal: terminal.Load})
	url := servePage(t, srv)
	ctx := browsertest.Start(t, 30*time.Second)
	openPage(t, ctx, url)

	browsertest.WaitRegionText(t, ctx, "Terminal", 5*time.Second, "down since", "planning and fetching wait for it",
		"connection refused", "latency p50 / p95")
	header := browsertest.RegionText(t, ctx, "spx archive")
	if !strings.Contains(header, "terminal down since") || strings.Contains(header, "latency") {
		t.Errorf("header reads %q, want \"terminal down since …\" and no latency table", header)
	}
	if dups := browsertest.DuplicateIDs(t, ctx); len(dups) > 0 {
		t.Errorf("ids used more than once: %q", dups)
	}

	// The coordinator records the outage (pkg/pipeline); the page lists it
	// by itself.
	outage := spx.ErrorEntry{Time: testNow.Add(-2 * time.Minute), Type: spx.ErrorTypeTerminal,
		Message: "Theta Terminal down: " + down.LastError + "; planning and fetching wait for it"}
	if err := store.AppendError(context.Background(), outage); err != nil {
		t.Fatal(err)
	}
	errs := browsertest.WaitRegionText(t, ctx, "Recent errors", 5*time.Second, "Theta Terminal down", "connection refused", "spx waits")
	if strings.Contains(errs, "\nnone") {
		t.Errorf("Recent errors reads %q: says none beside the outage", errs)
	}
	browsertest.Screenshot(t, ctx, "web-terminal-down.png")

	terminal.Store(&spx.TerminalStatus{State: spx.TerminalUp, API: "v3", URL: "http://127.0.0.1:25503", Since: testNow, Checked: testNow})
	header = browsertest.WaitRegionText(t, ctx, "spx archive", 5*time.Second, "terminal up (v3) · p50 180 ms")
	card := browsertest.WaitRegionText(t, ctx, "Terminal", 5*time.Second, "up (v3)", "http://127.0.0.1:25503", "180 / 900 ms")
	if strings.Contains(card, "connection refused") {
		t.Errorf("Terminal card still shows the old error once up: %q", card)
	}
}

// The throughput card draws rows/s where a person sees it. Every job
// writes about as many bytes per row, so rows/s and MB/s have the same
// shape: drawn in one chart, each scaled to its own peak, the MB/s line
// covered the rows/s line entirely.
func TestBrowserThroughputShowsRows(t *testing.T) {
	live := LiveFunc(func(ctx context.Context) (LiveStats, error) {
		st, err := fakeLive().Snapshot(ctx)
		for i := range st.Throughput {
			st.Throughput[i].BytesPerSec = 40 * st.Throughput[i].RowsPerSec
		}
		return st, err
	})
	srv := NewServer(Config{Store: seedStore(t), Live: live, Years: []int{2024}, Database: "spx.db",
		Interval: 200 * time.Millisecond, Now: func() time.Time { return testNow }})
	ctx := browsertest.Start(t, 30*time.Second)
	openPage(t, ctx, servePage(t, srv))

	// The last point: 60,000 rows/s, 2.40 MB/s; the peak 90,000 rows/s.
	text := browsertest.WaitRegionText(t, ctx, "Throughput", 5*time.Second, "rows/s 60,000", "peak 90,000", "MB/s 2.40", "peak 3.60")
	t.Logf("throughput card: %q", text)
	green, blue := [3]uint8{0x2d, 0xa4, 0x4e}, [3]uint8{0x21, 0x8b, 0xff}
	if n := browsertest.PixelsNear(t, ctx, "#throughput", green, 40); n < 100 {
		t.Errorf("the throughput card shows %d pixels of the rows/s line's green, want a visible line (100 or more)", n)
	}
	if n := browsertest.PixelsNear(t, ctx, "#throughput", blue, 40); n < 100 {
		t.Errorf("the throughput card shows %d pixels of the MB/s line's blue, want a visible line (100 or more)", n)
	}
	browsertest.Screenshot(t, ctx, "web-throughput.png")
}
