package web

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/web/internal/browsertest"
)

// TestBrowserCalendarAndRetry loads the page in headless Chromium against a
// server backed by a real bbolt store with seeded day and job records,
// checks the calendar's cells, retries a failed day through the button and
// saves a screenshot (to $SPX_ARTIFACTS, or the test's temp directory).
func TestBrowserCalendarAndRetry(t *testing.T) {
	retrier := &fakeRetrier{}
	natsStore := spx.NATSStore{Full: true, Since: testNow.Add(-4 * time.Minute), Reason: "the staging bucket holds 12.0 MiB of its 12.0 MiB limit"}
	srv := NewServer(Config{Store: seedStore(t), Live: fakeLive(), Retrier: retrier, Years: []int{2024},
		Database: "spx.db", Interval: 500 * time.Millisecond, Now: func() time.Time { return testNow },
		NATSStore: func() *spx.NATSStore { st := natsStore; return &st }})
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
	base := "http://" + ln.Addr().String() + "/"

	ctx := browsertest.Start(t, 25*time.Second)
	err = chromedp.Do(ctx,
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.WaitVisible(chromedp.ID("live-on")),
	)
	if err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	// The calendar's cells, by date: the status each known day must show.
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](
		`Object.fromEntries([...document.querySelectorAll('.cell[data-date]')].map(c => [c.dataset.date, c.dataset.cell]))`))
	if err != nil {
		t.Fatalf("reading the calendar: %v", err)
	}
	want := map[string]string{
		"2024-01-02": "success", "2024-01-03": "partial", "2024-01-04": "failed", "2024-01-05": "no_data",
		"2024-01-08": "pending", "2024-01-09": "pending", "2024-01-10": "missing", "2024-03-04": "future",
	}
	for date, cell := range want {
		if cells[date] != cell {
			t.Errorf("cell %s = %q, want %q", date, cells[date], cell)
		}
	}
	for _, closed := range []string{"2024-01-01", "2024-01-06", "2024-01-15", "2024-03-29"} {
		if _, ok := cells[closed]; ok {
			t.Errorf("%s is not a trading day but has a cell", closed)
		}
	}
	if n := len(cells); n != 252 {
		t.Errorf("2024 shows %d trading-day cells, want 252", n)
	}
	// The header says the NATS store is full, and why on hover.
	badge, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`(b => [b.hidden ? "hidden" : "shown", b.textContent, b.dataset.full, b.title])(document.getElementById("nats-store"))`))
	if err != nil {
		t.Fatalf("reading the NATS store badge: %v", err)
	}
	if len(badge) != 4 || badge[0] != "shown" || !containsAll(badge[1], "NATS store full since") || badge[2] != "true" ||
		!containsAll(badge[3], "staging bucket holds", "fetchers wait") {
		t.Errorf("NATS store badge = %q, want it shown, full, with why", badge)
	}
	liveText, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("queues")))
	if err != nil {
		t.Fatalf("reading the queue table: %v", err)
	}
	if !containsAll(liveText, "fetch", "12", "write") {
		t.Errorf("queue table = %q, want the fetch and write stages", liveText)
	}

	// Click the failed day, then retry it.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.cell[data-date="2024-01-04"]`)),
		chromedp.WaitVisible(chromedp.ID("retry")),
	)
	if err != nil {
		t.Fatalf("opening the failed day: %v", err)
	}
	jobRows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#jobs tbody tr[data-outcome="failed"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if jobRows != 2 {
		t.Errorf("the failed day lists %d failed jobs, want 2", jobRows)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("retry")),
		chromedp.WaitVisible(chromedp.CSS(`#retry-result[data-jobs]`)),
	)
	if err != nil {
		t.Fatalf("retrying from the page: %v", err)
	}
	result, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("retry-result")))
	if err != nil {
		t.Fatal(err)
	}
	if got := retrier.got(); !slices.Equal(got, []spx.Date{mustDate(t, "2024-01-04")}) {
		t.Errorf("Retrier called with %v, want [2024-01-04]", got)
	}
	if result != "queued 2 jobs again" {
		t.Errorf("retry result = %q", result)
	}

	browsertest.Screenshot(t, ctx, "web-calendar.png")
}
