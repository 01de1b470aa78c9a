package coordinator

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// The issue's clock: noon of Tuesday 2026-12-08, a session in progress.
var issueNow = time.Date(2026, 12, 8, 12, 0, 0, 0, spx.NewYork)

// countingLister lists one SPXW contract expiring on the day and counts
// the days it was asked for; while gate is open (not closed) it waits, as
// the terminal watcher does while the terminal is down.
type countingLister struct {
	mu    sync.Mutex
	asked []spx.Date
	gate  chan struct{}
}

func (l *countingLister) Contracts(ctx context.Context, d spx.Date, _ []string) ([]spx.Contract, error) {
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return nil, spx.Transient(ctx.Err())
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, d)
	return []spx.Contract{{Root: "SPXW", Expiration: d, Strike: 5000, Right: 'C'}}, nil
}

func (l *countingLister) Asked() []spx.Date {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.asked)
}

// dayService is a coordinator on the issue's clock with follow.delay 2h,
// its control API served on an embedded JetStream.
func dayService(t *testing.T, src Lister, terminal func() *spx.TerminalStatus) (*Service, *statusdb.Store, *Client) {
	t.Helper()
	nc, js, st := queueAndStore(t)
	s := New(nc, js, st, src, &fakeManifests{files: map[string][]ManifestFile{}}, Config{
		Roots: []string{"SPXW"}, StartDate: spx.NewDate(2024, 1, 2), Now: func() time.Time { return issueNow },
		Follow: FollowConfig{Delay: 2 * time.Hour}, Terminal: terminal,
	})
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := s.serveAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(); cancel() })
	return s, st, NewClient(nc)
}

func mustDate(t *testing.T, s string) spx.Date {
	t.Helper()
	d, err := spx.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// noDays fails unless the store holds no day record.
func noDays(t *testing.T, st *statusdb.Store, what string) {
	t.Helper()
	days, err := st.Days(context.Background(), 0, 0)
	if err != nil || len(days) != 0 {
		t.Errorf("%s: day records %+v (%v), want none", what, days, err)
	}
}

// Days that are not final, outside the calendar or not sessions are
// refused by Enqueue, Retry and the control API with the same one line,
// before anything is recorded or listed.
func TestDaysThatMayNotBeArchivedAreRefused(t *testing.T) {
	src := &countingLister{}
	s, st, client := dayService(t, src, nil)
	ctx := context.Background()
	tests := []struct {
		date, want string
	}{
		{"2026-12-08", "2026-12-08 is not final yet: its data counts as final from 2026-12-08 18:00 EST"},
		{"2030-01-02", "2030-01-02 is not final yet: its data counts as final from 2030-01-02 18:00 EST"},
		{"2031-01-02", "2031-01-02 is outside the exchange calendar spx knows (2000-01-01 to 2030-12-31)"},
		{"1995-01-03", "1995-01-03 is outside the exchange calendar spx knows"},
		{"2026-10-10", "2026-10-10 is a Saturday, not a trading session"},
		{"2024-12-25", "2024-12-25 is not a trading session: the exchange is closed for Christmas Day"},
	}
	for _, tt := range tests {
		d := mustDate(t, tt.date)
		calls := map[string]func() error{
			"Enqueue":          func() error { _, err := s.Enqueue(ctx, []spx.Date{d}); return err },
			"Retry":            func() error { _, err := s.Retry(ctx, RetryRequest{Dates: []spx.Date{d}}); return err },
			"API enqueue":      func() error { _, err := client.Enqueue(ctx, EnqueueRequest{Dates: []spx.Date{d}}); return err },
			"API enqueue gaps": func() error { _, err := client.Enqueue(ctx, EnqueueRequest{Gaps: true, From: d, To: d}); return err },
			"API retry":        func() error { _, err := client.Retry(ctx, RetryRequest{Dates: []spx.Date{d}}); return err },
		}
		for name, call := range calls {
			err := call()
			if err == nil || !spx.IsRefused(err) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("%s %s: %v, want a refusal starting %q", name, tt.date, err, tt.want)
			}
		}
	}
	// Ranges: one that reaches a session not yet final, one of weekend
	// days only, and gaps from a day not yet final.
	for _, req := range []EnqueueRequest{
		{From: mustDate(t, "2026-12-01"), To: mustDate(t, "2026-12-08")},
		{From: mustDate(t, "2026-10-10"), To: mustDate(t, "2026-10-11")},
		{Gaps: true, From: mustDate(t, "2026-12-08")},
	} {
		if _, err := client.Enqueue(ctx, req); !spx.IsRefused(err) {
			t.Errorf("enqueue %+v: %v, want a refusal", req, err)
		}
	}
	noDays(t, st, "after the refusals")
	if asked := src.Asked(); len(asked) != 0 {
		t.Errorf("the terminal was asked for %v", asked)
	}
	// A final session is planned as before.
	if res, err := s.Enqueue(ctx, []spx.Date{mustDate(t, "2026-12-07")}); err != nil || res.Jobs != 1 {
		t.Errorf("enqueue of the last final session: %+v, %v", res, err)
	}
}

// A retry of a final session with nothing to retry records nothing: no
// day left queued with no jobs (the issue's phantom days).
func TestRetryWithNothingToRetryRecordsNothing(t *testing.T) {
	s, st, client := dayService(t, &countingLister{}, nil)
	ctx := context.Background()
	d := mustDate(t, "2026-12-04")
	if res, err := s.Retry(ctx, RetryRequest{Dates: []spx.Date{d}}); err != nil || res.Jobs != 0 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if res, err := client.Retry(ctx, RetryRequest{Dates: []spx.Date{d}}); err != nil || res.Jobs != 0 {
		t.Fatalf("API retry: %+v, %v", res, err)
	}
	noDays(t, st, "after a retry with nothing to retry")
	st.PutDay(ctx, spx.DayRecord{Date: d, Status: spx.DayNoData, StartedAt: issueNow})
	if _, err := s.Retry(ctx, RetryRequest{Dates: []spx.Date{d}}); err != nil {
		t.Fatal(err)
	}
	if rec, _, _ := st.Day(ctx, d); rec.Status != spx.DayNoData {
		t.Errorf("a no_data day after a retry is %s", rec.Status)
	}
}

// A failed day with no job (its listing failed) is planned again by a
// retry, not turned into a queued day with nothing queued.
func TestRetryPlansAFailedListingAgain(t *testing.T) {
	s, st, _ := dayService(t, &countingLister{}, nil)
	ctx := context.Background()
	d := mustDate(t, "2026-12-04")
	st.PutDay(ctx, spx.DayRecord{Date: d, Status: spx.DayFailed, ErrorMessage: "listing contracts: 474", StartedAt: issueNow})
	res, err := s.Retry(ctx, RetryRequest{AllFailed: true})
	if err != nil || res.Jobs != 1 || !slices.Equal(res.Days, []spx.Date{d}) {
		t.Fatalf("retry --all-failed: %+v, %v; want the day planned with its job", res, err)
	}
	if rec, _, _ := st.Day(ctx, d); rec.Status != spx.DayQueued || rec.JobsTotal != 1 {
		t.Errorf("day after the retry: %s with %d jobs", rec.Status, rec.JobsTotal)
	}
}

// Reconcile (every start) removes the phantom days older versions left:
// queued with no jobs, and records of days that may not be archived or
// were planned before they were final. Days with jobs keep their records.
func TestReconcileDropsPhantomDays(t *testing.T) {
	s, st, _ := dayService(t, &countingLister{}, nil)
	ctx := context.Background()
	final := issueNow.Add(-30 * 24 * time.Hour)
	seed := []spx.DayRecord{
		{Date: mustDate(t, "2026-10-10"), Status: spx.DayQueued, StartedAt: final},                    // a Saturday retried
		{Date: mustDate(t, "2030-01-02"), Status: spx.DayQueued, StartedAt: issueNow},                 // a future day retried
		{Date: mustDate(t, "2026-11-02"), Status: spx.DayQueued, StartedAt: issueNow},                 // a final day retried
		{Date: mustDate(t, "2031-01-02"), Status: spx.DayNoData, StartedAt: issueNow},                 // processed outside the calendar
		{Date: mustDate(t, "2026-12-08"), Status: spx.DayNoData, StartedAt: issueNow},                 // processed mid-session
		{Date: mustDate(t, "2026-11-03"), Status: spx.DayFailed, StartedAt: issueNow},                 // listing failed: a real gap
		{Date: mustDate(t, "2026-11-04"), Status: spx.DayNoData, StartedAt: issueNow},                 // no contracts, listed when final
		{Date: mustDate(t, "2026-11-05"), Status: spx.DaySuccess, StartedAt: issueNow},                // has a job
		{Date: mustDate(t, "2026-11-06"), Status: spx.DayQueued, StartedAt: issueNow},                 // queued with a job
		{Date: mustDate(t, "2026-12-07"), Status: spx.DayQueued, Planning: true, StartedAt: issueNow}, // being planned
	}
	for _, r := range seed {
		if err := st.PutDay(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"2026-11-05", "2026-11-06"} {
		k := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: mustDate(t, d), Expiration: mustDate(t, d)}
		outcome := spx.JobWritten
		if d == "2026-11-06" {
			outcome = spx.JobQueued
		}
		if err := st.PutJobs(ctx, []spx.JobRecord{{Key: k, Outcome: outcome, Generation: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []spx.Date{mustDate(t, "2026-10-10"), mustDate(t, "2026-11-02"), mustDate(t, "2026-12-08"), mustDate(t, "2030-01-02"), mustDate(t, "2031-01-02")}
	if !slices.Equal(res.Dropped, want) {
		t.Errorf("dropped %v, want %v", res.Dropped, want)
	}
	days, _ := st.Days(ctx, 0, 0)
	var kept []string
	for _, d := range days {
		kept = append(kept, d.Date.String()+" "+string(d.Status))
	}
	wantKept := []string{"2026-11-03 failed", "2026-11-04 no_data", "2026-11-05 success", "2026-11-06 queued", "2026-12-07 queued"}
	if !slices.Equal(kept, wantKept) {
		t.Errorf("kept %v, want %v", kept, wantKept)
	}
	if !slices.Equal(res.Replanned, []spx.Date{mustDate(t, "2026-12-07")}) {
		t.Errorf("replanned %v, want the day being planned", res.Replanned)
	}
}

// With the terminal down, enqueueing records the days as queued (being
// planned) and returns at once, saying so; the days are planned once the
// terminal answers.
func TestEnqueueWithTheTerminalDownReturnsAtOnce(t *testing.T) {
	src := &countingLister{gate: make(chan struct{})}
	down := &spx.TerminalStatus{State: spx.TerminalDown, Since: issueNow, LastError: "dial tcp 127.0.0.1:25503: connection refused"}
	var mu sync.Mutex
	terminal := func() *spx.TerminalStatus { mu.Lock(); defer mu.Unlock(); return down }
	s, st, client := dayService(t, src, terminal)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.planWaiting(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	// A short deadline: the call must not wait for the terminal.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := mustDate(t, "2024-03-11")
	res, err := client.Enqueue(ctx, EnqueueRequest{Gaps: true, From: d, To: d})
	if err != nil {
		t.Fatalf("enqueue gaps with the terminal down: %v", err)
	}
	if !slices.Equal(res.Waiting, []spx.Date{d}) || res.Terminal == nil || res.Terminal.State != spx.TerminalDown || res.Jobs != 0 {
		t.Fatalf("result %+v, want the day waiting for the terminal (down)", res)
	}
	if rec, ok, _ := st.Day(ctx, d); !ok || rec.Status != spx.DayQueued || !rec.Planning {
		t.Errorf("day record %+v, want queued and being planned", rec)
	}
	// The terminal answers: the day is planned by itself.
	mu.Lock()
	down = &spx.TerminalStatus{State: spx.TerminalUp}
	mu.Unlock()
	close(src.gate)
	for {
		rec, _, _ := st.Day(ctx, d)
		if !rec.Planning && rec.JobsTotal == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the waiting day was not planned once the terminal answered: %+v", rec)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if asked := src.Asked(); !slices.Equal(asked, []spx.Date{d}) {
		t.Errorf("listed %v, want the day once", asked)
	}
}

// The control API's refusal code is what the client turns back into a
// *spx.RefusedError; other errors stay failures.
func TestAPIRefusalCode(t *testing.T) {
	if refusedCode != "400" || micro.ErrorCodeHeader == "" {
		t.Fatal("refusal code changed")
	}
	_, _, client := dayService(t, &countingLister{}, nil)
	_, err := client.Retry(context.Background(), RetryRequest{})
	if !spx.IsRefused(err) || !strings.Contains(err.Error(), "nothing to retry") {
		t.Errorf("an empty retry request: %v, want a refusal", err)
	}
}
