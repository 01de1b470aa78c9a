package coordinator

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// fakeClock is a clock the test moves; After fires when Advance passes its
// deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Set moves the clock to t and fires the waiters it passed.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !t.Before(w.at) {
			w.ch <- t
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// oneExpiration lists one SPXW contract expiring on the day itself, for any
// day, and counts the days it was asked for.
type oneExpiration struct {
	mu    sync.Mutex
	asked []spx.Date
	down  bool
}

func (l *oneExpiration) Contracts(_ context.Context, d spx.Date, _ []string) ([]spx.Contract, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return nil, spx.Transient(errors.New("no Theta Terminal answered"))
	}
	l.asked = append(l.asked, d)
	return []spx.Contract{{Root: "SPXW", Expiration: d, Strike: 5000, Right: 'C'}}, nil
}

func ny(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, spx.NewYork)
}

type followEnv struct {
	js    jetstream.JetStream
	st    *statusdb.Store
	src   *oneExpiration
	clock *fakeClock
	s     *Service
}

func newFollowEnv(t *testing.T, start time.Time) *followEnv {
	t.Helper()
	_, js, st := queueAndStore(t)
	e := &followEnv{js: js, st: st, src: &oneExpiration{}, clock: &fakeClock{now: start}}
	e.restart()
	return e
}

// restart builds a coordinator on the same store and streams, as a
// restarted process would.
func (e *followEnv) restart() {
	s := New(nil, e.js, e.st, e.src, &fakeManifests{files: map[string][]ManifestFile{}}, Config{
		Roots: []string{"SPXW"}, StartDate: spx.NewDate(2024, 1, 2), RetryBase: time.Millisecond, ListRetryFor: time.Millisecond,
		Follow: FollowConfig{Enabled: true, Delay: 2 * time.Hour, Clock: e.clock},
	})
	e.s = s
}

// step moves the clock to t and runs one follower step.
func (e *followEnv) step(t *testing.T, at time.Time) []spx.Date {
	t.Helper()
	e.clock.Set(at)
	got, err := e.s.follow.Step(context.Background())
	if err != nil {
		t.Fatalf("step at %s: %v", at, err)
	}
	return got
}

// queuedDays lists the dates with job records, which are the dates queued.
func (e *followEnv) queuedDays(t *testing.T) []spx.Date {
	t.Helper()
	jobs, err := e.st.Jobs(context.Background(), spx.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []spx.Date
	for _, j := range jobs {
		if !slices.Contains(out, j.Key.Date) {
			out = append(out, j.Key.Date)
		}
	}
	slices.Sort(out)
	return out
}

func dates(ds ...spx.Date) []spx.Date { return ds }

// Following from the day before Independence Day 2024: the 13:00 early
// close of July 3 is enqueued at 15:00 (close + 2h), nothing on the holiday
// (July 4) or the weekend, July 5 at 18:00, and each exactly once.
func TestFollowEnqueuesEachSessionAfterItsClose(t *testing.T) {
	e := newFollowEnv(t, ny(2024, 7, 3, 9, 0))
	jul := func(d int) spx.Date { return spx.NewDate(2024, 7, d) }
	steps := []struct {
		at   time.Time
		want []spx.Date
	}{
		{ny(2024, 7, 3, 9, 0), nil},   // history is not followed: July 2 stays a gap
		{ny(2024, 7, 3, 14, 59), nil}, // closed at 13:00, not final yet
		{ny(2024, 7, 3, 15, 0), dates(jul(3))},
		{ny(2024, 7, 3, 23, 0), nil},
		{ny(2024, 7, 4, 20, 0), nil},  // holiday
		{ny(2024, 7, 5, 17, 59), nil}, // regular close 16:00 + 2h
		{ny(2024, 7, 5, 18, 0), dates(jul(5))},
		{ny(2024, 7, 6, 18, 0), nil}, // Saturday
		{ny(2024, 7, 7, 18, 0), nil}, // Sunday
		{ny(2024, 7, 8, 12, 0), nil},
	}
	for _, st := range steps {
		if got := e.step(t, st.at); !slices.Equal(got, st.want) {
			t.Errorf("at %s: queued %v, want %v", st.at.Format("Mon 2006-01-02 15:04"), got, st.want)
		}
	}
	if got, want := e.queuedDays(t), dates(jul(3), jul(5)); !slices.Equal(got, want) {
		t.Errorf("days with jobs %v, want %v", got, want)
	}
	if got, want := e.src.asked, dates(jul(3), jul(5)); !slices.Equal(got, want) {
		t.Errorf("contracts listed for %v, want %v", got, want)
	}
	// What status says comes next.
	rep, err := e.s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Follow; f == nil || f.NextDate != jul(8) || !f.NextAt.Equal(ny(2024, 7, 8, 18, 0)) || f.LastEnqueued != jul(5) {
		t.Errorf("status follow %+v, want next 2024-07-08 at 18:00 New York, last 2024-07-05", rep.Follow)
	}
	// Fetch jobs really are on the work queue: one per queued day.
	info, err := e.js.Stream(context.Background(), queue.StreamFetch)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("%d fetch jobs queued, want 2", n)
	}
}

// A coordinator down over several sessions catches up from where it
// stopped (the position is in the status store), in order; a day the
// terminal cannot list is tried again, not skipped.
func TestFollowCatchesUpAfterDowntimeAndWaitsForTheTerminal(t *testing.T) {
	e := newFollowEnv(t, ny(2024, 3, 4, 12, 0))
	e.step(t, ny(2024, 3, 4, 12, 0)) // started at noon: following from today
	if got := e.step(t, ny(2024, 3, 4, 18, 0)); !slices.Equal(got, dates(spx.NewDate(2024, 3, 4))) {
		t.Fatalf("queued %v, want 2024-03-04", got)
	}
	// Down from Monday evening to Friday noon; the terminal is down too.
	e.restart()
	e.src.down = true
	if got := e.step(t, ny(2024, 3, 8, 12, 0)); len(got) != 0 {
		t.Fatalf("queued %v with the terminal down", got)
	}
	if st := e.s.follow.Status(); st.NextDate != spx.NewDate(2024, 3, 5) || st.Waiting == "" {
		t.Errorf("with the terminal down: %+v, want 2024-03-05 waiting with the reason", st)
	}
	e.src.down = false
	got := e.step(t, ny(2024, 3, 8, 12, 1))
	if want := dates(spx.NewDate(2024, 3, 5), spx.NewDate(2024, 3, 6), spx.NewDate(2024, 3, 7)); !slices.Equal(got, want) {
		t.Errorf("catch-up queued %v, want %v", got, want)
	}
}

// The recheck queues again jobs that failed for a transient reason or went
// dead, not those that failed for good, and leaves a day alone after
// MaxAutoRetries.
func TestFollowRecheckRetriesTransientFailures(t *testing.T) {
	e := newFollowEnv(t, ny(2024, 3, 11, 9, 0))
	ctx := context.Background()
	d1, d2 := spx.NewDate(2024, 3, 5), spx.NewDate(2024, 3, 6)
	k := func(d spx.Date, exp int) spx.JobKey {
		return spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: d, Expiration: d + spx.Date(exp)}
	}
	recs := []spx.JobRecord{
		{Key: k(d1, 0), Outcome: spx.JobFailed, ErrorClass: spx.ClassTransient, LastError: "500", Generation: 1},
		{Key: k(d1, 1), Outcome: spx.JobFailed, ErrorClass: spx.ClassPermanent, LastError: "bad header", Generation: 1},
		{Key: k(d1, 2), Outcome: spx.JobDead, ErrorClass: spx.ClassTransient, LastError: "474", Generation: 1},
		{Key: k(d1, 3), Outcome: spx.JobWritten, Generation: 1},
		{Key: k(d2, 0), Outcome: spx.JobFailed, ErrorClass: spx.ClassTransient, Generation: 1},
	}
	if err := e.st.PutJobs(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for d, retries := range map[spx.Date]int{d1: 0, d2: 5} {
		if err := e.st.PutDay(ctx, spx.DayRecord{Date: d, Status: spx.DayPartial, RetryCount: retries}); err != nil {
			t.Fatal(err)
		}
	}
	// A day whose listing failed: failed, no jobs.
	d3 := spx.NewDate(2024, 3, 7)
	if err := e.st.PutDay(ctx, spx.DayRecord{Date: d3, Status: spx.DayFailed, ErrorMessage: "listing contracts: no Theta Terminal answered"}); err != nil {
		t.Fatal(err)
	}
	e.step(t, ny(2024, 3, 11, 9, 0))
	if jobs, _ := e.st.JobsForDate(ctx, d3); len(jobs) != 1 || jobs[0].Outcome != spx.JobQueued {
		t.Errorf("the unlisted day after the recheck: %+v, want its one job queued", jobs)
	}
	want := map[spx.JobKey]spx.JobOutcome{k(d1, 0): spx.JobQueued, k(d1, 1): spx.JobFailed, k(d1, 2): spx.JobQueued, k(d1, 3): spx.JobWritten, k(d2, 0): spx.JobFailed}
	for key, outcome := range want {
		rec, _, _ := e.st.Job(ctx, key)
		if rec.Outcome != outcome {
			t.Errorf("%s: %s after the recheck, want %s", key, rec.Outcome, outcome)
		}
		if outcome == spx.JobQueued && rec.Generation != 2 {
			t.Errorf("%s: generation %d, want 2", key, rec.Generation)
		}
	}
	if st := e.s.follow.Status(); st.Retried != 2 || !st.NextRecheck.Equal(ny(2024, 3, 11, 10, 0)) {
		t.Errorf("follow status %+v, want 2 days retried and the next recheck at 10:00", st)
	}
	// Not again before the next recheck is due.
	if err := e.st.PutJobs(ctx, []spx.JobRecord{{Key: k(d1, 0), Outcome: spx.JobFailed, ErrorClass: spx.ClassTransient, Generation: 2}}); err != nil {
		t.Fatal(err)
	}
	e.st.PutDay(ctx, spx.DayRecord{Date: d1, Status: spx.DayPartial, RetryCount: 1})
	e.step(t, ny(2024, 3, 11, 9, 59))
	if rec, _, _ := e.st.Job(ctx, k(d1, 0)); rec.Outcome != spx.JobFailed {
		t.Errorf("retried before the recheck was due: %s", rec.Outcome)
	}
	e.step(t, ny(2024, 3, 11, 10, 0))
	if rec, _, _ := e.st.Job(ctx, k(d1, 0)); rec.Outcome != spx.JobQueued || rec.Generation != 3 {
		t.Errorf("at the next recheck: %s generation %d, want queued 3", rec.Outcome, rec.Generation)
	}
}

// The follower's own loop, on the injected clock: it sleeps until the
// session is final and then enqueues it, with no real waiting.
func TestFollowRunWakesAtTheClose(t *testing.T) {
	e := newFollowEnv(t, ny(2024, 3, 4, 10, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.s.follow.run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the follower to sleep", func() bool { return e.clock.pending() > 0 })
	if len(e.queuedDays(t)) != 0 {
		t.Fatal("queued before the close")
	}
	// Walk the clock to 18:00 a minute at a time, as a real one would.
	for at := ny(2024, 3, 4, 10, 1); !at.After(ny(2024, 3, 4, 18, 0)); at = at.Add(time.Minute) {
		waitFor("the follower to sleep", func() bool { return e.clock.pending() > 0 })
		e.clock.Set(at)
	}
	waitFor("2024-03-04 to be queued", func() bool { return slices.Equal(e.queuedDays(t), dates(spx.NewDate(2024, 3, 4))) })
}
