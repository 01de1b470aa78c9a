package web

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// testNow is the clock of the tests: sessions after 2024-03-01 are still to
// come.
var testNow = time.Date(2024, time.March, 1, 18, 0, 0, 0, spx.NewYork)

func mustDate(t testing.TB, s string) spx.Date {
	t.Helper()
	d, err := spx.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// seededDays are the known day records of the tests (January 2024).
var seededDays = []struct {
	date   string
	status spx.DayStatus
	rows   int64
}{
	{"2024-01-02", spx.DaySuccess, 7_500_000},
	{"2024-01-03", spx.DayPartial, 3_000_000},
	{"2024-01-04", spx.DayFailed, 0},
	{"2024-01-05", spx.DayNoData, 0},
	{"2024-01-08", spx.DayProcessing, 1_000},
	{"2024-01-09", spx.DayQueued, 0},
}

// seedStore opens a real bbolt store in a temporary directory and fills it
// with seededDays, their jobs and an error log.
func seedStore(t testing.TB) *statusdb.Store {
	t.Helper()
	ctx := context.Background()
	st, err := statusdb.Open(filepath.Join(t.TempDir(), "spx.db"), statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	at := time.Date(2024, time.January, 10, 22, 0, 0, 0, time.UTC)
	for i, sd := range seededDays {
		d := mustDate(t, sd.date)
		day := spx.DayRecord{Date: d, Status: sd.status, RecordCount: sd.rows, FileSizeBytes: sd.rows * 10,
			JobsTotal: 2, UpdatedAt: at.Add(time.Duration(i) * time.Minute)}
		var jobs []spx.JobRecord
		for j, root := range []string{"SPX", "SPXW"} {
			rec := spx.JobRecord{Key: spx.JobKey{Dataset: spx.Greeks, Root: root, Date: d, Expiration: d.AddDays(j)},
				Outcome: spx.JobQueued, QueuedAt: at, UpdatedAt: at}
			switch sd.status {
			case spx.DaySuccess:
				rec.Outcome, rec.Rows, rec.Bytes = spx.JobWritten, sd.rows/2, sd.rows*5
			case spx.DayNoData:
				rec.Outcome = spx.JobEmpty
			case spx.DayPartial, spx.DayFailed:
				rec.Outcome, rec.Rows = spx.JobWritten, sd.rows
				if j == 1 || sd.status == spx.DayFailed {
					rec.Outcome, rec.Rows, rec.ErrorClass = spx.JobFailed, 0, spx.ClassPermanent
					rec.LastError = "terminal answered 471 PERMISSION: the subscription does not cover this request"
				}
			case spx.DayProcessing:
				rec.Outcome = spx.JobFetching
			}
			if rec.Outcome.Done() {
				day.JobsDone++
			}
			jobs = append(jobs, rec)
		}
		if sd.status == spx.DayFailed {
			day.ErrorMessage = "2 jobs failed"
		}
		if err := st.PutJobs(ctx, jobs); err != nil {
			t.Fatal(err)
		}
		if err := st.PutDay(ctx, day); err != nil {
			t.Fatal(err)
		}
	}
	for i, e := range []spx.ErrorEntry{
		{Type: string(spx.ClassTransient), Message: "terminal answered 429: too many requests", Job: "greeks.SPX.20240103.20240104", Date: mustDate(t, "2024-01-03")},
		{Type: string(spx.ClassPermanent), Message: "terminal answered 471 PERMISSION: the subscription does not cover this request", Job: "greeks.SPXW.20240104.20240105", Date: mustDate(t, "2024-01-04")},
	} {
		e.Time = at.Add(time.Duration(i) * time.Second)
		if err := st.AppendError(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// fakeRetrier records the dates it was asked to retry.
type fakeRetrier struct {
	mu    sync.Mutex
	dates []spx.Date
	err   error
}

func (f *fakeRetrier) RetryDate(_ context.Context, d spx.Date) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dates = append(f.dates, d)
	return 2, f.err
}

func (f *fakeRetrier) got() []spx.Date {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]spx.Date(nil), f.dates...)
}

// fakeLive returns a fixed snapshot.
func fakeLive() Live {
	return LiveFunc(func(context.Context) (LiveStats, error) {
		t0 := testNow.Add(-3 * time.Minute)
		var pts []RatePoint
		for i := range 12 {
			pts = append(pts, RatePoint{Time: t0.Add(time.Duration(i) * 15 * time.Second),
				RowsPerSec: float64(50_000 + 10_000*(i%5)), BytesPerSec: float64(2e6 + 3e5*float64(i%4))})
		}
		return LiveStats{
			Time:       testNow,
			Queues:     []QueueStats{{Stage: "fetch", Pending: 12, InFlight: 4, Dead: 1}, {Stage: "write", Pending: 2, InFlight: 1}},
			Workers:    []WorkerCount{{Role: "fetch", Connected: 4}, {Role: "write", Connected: 2}},
			Throughput: pts,
			Terminal: TerminalHealth{Window: Duration(5 * time.Minute), Requests: 240,
				LatencyMs:    Latency{P50: 180, P95: 900, Mean: 260, Max: 2100},
				ErrorsPerMin: map[spx.ErrorClass]float64{spx.ClassTransient: 0.4}},
		}, nil
	})
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
