package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

type fakeManifests struct {
	dirs  []string
	fail  error
	files map[string][]ManifestFile
	sums  map[string]string // FileSHA256 answers; a name not in it hashes to ""
}

func (f *fakeManifests) FileSHA256(_ context.Context, name string) (string, error) {
	return f.sums[name], nil
}

func (f *fakeManifests) WriteManifest(_ context.Context, dayDir string, m Manifest) (string, error) {
	if f.fail != nil {
		return "", f.fail
	}
	f.dirs = append(f.dirs, dayDir)
	f.files[dayDir] = m.Files
	return "sum-" + filepath.Base(filepath.Dir(dayDir)), nil
}

func newTestService(t *testing.T) (*Service, *statusdb.Store, *fakeManifests) {
	t.Helper()
	st, err := statusdb.Open(filepath.Join(t.TempDir(), "spx.db"), statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	man := &fakeManifests{files: map[string][]ManifestFile{}}
	return New(nil, nil, st, nil, man, Config{}), st, man
}

var day = spx.NewDate(2024, 1, 2)

func key(root string, d int) spx.JobKey {
	return spx.JobKey{Dataset: spx.Greeks, Root: root, Date: day, Expiration: spx.NewDate(2024, 1, d)}
}

func event(kind spxv1.EventKind, k spx.JobKey, gen int32) *spxv1.Event {
	return &spxv1.Event{Kind: kind, Key: queue.KeyToProto(k), Generation: gen}
}

func TestDayStatus(t *testing.T) {
	const (
		written = spxv1.EventKind_EVENT_KIND_WRITTEN
		empty   = spxv1.EventKind_EVENT_KIND_EMPTY
		failed  = spxv1.EventKind_EVENT_KIND_FAILED
		dead    = spxv1.EventKind_EVENT_KIND_DEAD
		fetch   = spxv1.EventKind_EVENT_KIND_FETCHING
	)
	tests := []struct {
		name   string
		events []spxv1.EventKind // one per job, in key order; -1 leaves the job queued
		want   spx.DayStatus
	}{
		{"all written", []spxv1.EventKind{written, written, written}, spx.DaySuccess},
		{"written and empty", []spxv1.EventKind{written, empty, written}, spx.DaySuccess},
		{"all empty", []spxv1.EventKind{empty, empty, empty}, spx.DayNoData},
		{"one failed", []spxv1.EventKind{written, failed, written}, spx.DayPartial},
		{"one dead", []spxv1.EventKind{dead, written, empty}, spx.DayPartial},
		{"all failed", []spxv1.EventKind{failed, dead, failed}, spx.DayFailed},
		{"still running", []spxv1.EventKind{written, fetch, -1}, spx.DayProcessing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st, man := newTestService(t)
			ctx := context.Background()
			keys := []spx.JobKey{key("SPX", 19), key("SPXW", 3), key("SPXW", 5)}
			for _, k := range keys {
				if err := st.PutJobs(ctx, []spx.JobRecord{{Key: k, Outcome: spx.JobQueued, Generation: 1}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.UpdateDay(ctx, day, func(r *spx.DayRecord) error {
				r.Status, r.StartedAt = spx.DayQueued, time.Now().Add(-time.Second)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for i, kind := range tt.events {
				if kind < 0 {
					continue
				}
				ev := event(kind, keys[i], 1)
				if kind == written {
					ev.Rows, ev.Bytes, ev.Sha256, ev.File = 100, 2000, "abc", keys[i].RelPath()
				}
				if kind == failed {
					ev.ErrorClass, ev.ErrorMessage = "permanent", "471 PERMISSION"
				}
				if err := s.HandleEvent(ctx, keys[i], ev); err != nil {
					t.Fatal(err)
				}
			}
			rec, _, err := st.Day(ctx, day)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != tt.want {
				t.Fatalf("status %s, want %s (%+v)", rec.Status, tt.want, rec)
			}
			switch tt.want {
			case spx.DaySuccess:
				// One manifest per (dataset, root) with written files; the day
				// checksum covers them in directory order.
				h := sha256.New()
				for _, d := range man.dirs {
					h.Write([]byte("sum-" + filepath.Base(filepath.Dir(d))))
				}
				if rec.Checksum != hex.EncodeToString(h.Sum(nil)) || rec.RecordCount == 0 || rec.CompletedAt.IsZero() || rec.ProcessingDurationMs <= 0 {
					t.Errorf("success record incomplete: %+v", rec)
				}
			case spx.DayPartial, spx.DayFailed:
				if rec.ErrorMessage == "" {
					t.Errorf("no error message on a %s day", rec.Status)
				}
			}
			if rec.JobsTotal != 3 {
				t.Errorf("jobs total %d, want 3", rec.JobsTotal)
			}
		})
	}
}

func TestStaleEventsAreIgnored(t *testing.T) {
	s, st, _ := newTestService(t)
	ctx := context.Background()
	k := key("SPXW", 3)
	if err := st.PutJobs(ctx, []spx.JobRecord{{Key: k, Outcome: spx.JobQueued, Generation: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.HandleEvent(ctx, k, event(spxv1.EventKind_EVENT_KIND_FAILED, k, 1)); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := st.Job(ctx, k)
	if rec.Outcome != spx.JobQueued {
		t.Fatalf("an event of generation 1 changed a generation-2 job to %s", rec.Outcome)
	}
	// A late progress event does not undo a final outcome.
	for _, kind := range []spxv1.EventKind{spxv1.EventKind_EVENT_KIND_WRITTEN, spxv1.EventKind_EVENT_KIND_FETCHING} {
		if err := s.HandleEvent(ctx, k, event(kind, k, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if rec, _, _ = st.Job(ctx, k); rec.Outcome != spx.JobWritten {
		t.Fatalf("outcome %s after written then a late fetching event", rec.Outcome)
	}
}

func TestManifestFailureFailsTheDay(t *testing.T) {
	s, st, man := newTestService(t)
	man.fail = errors.New("no space left on device")
	ctx := context.Background()
	k := key("SPXW", 3)
	if err := st.PutJobs(ctx, []spx.JobRecord{{Key: k, Outcome: spx.JobQueued, Generation: 1}}); err != nil {
		t.Fatal(err)
	}
	ev := event(spxv1.EventKind_EVENT_KIND_WRITTEN, k, 1)
	ev.Rows = 5
	if err := s.HandleEvent(ctx, k, ev); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := st.Day(ctx, day)
	if rec.Status != spx.DayFailed || rec.ErrorMessage == "" {
		t.Fatalf("day %s %q, want failed with the manifest error", rec.Status, rec.ErrorMessage)
	}
	// Once the disk is fixed, spx retry <date> writes the manifest.
	man.fail = nil
	if _, err := s.Retry(ctx, RetryRequest{Dates: []spx.Date{day}}); err != nil {
		t.Fatal(err)
	}
	if rec, _, _ = st.Day(ctx, day); rec.Status != spx.DaySuccess || len(man.dirs) != 1 {
		t.Fatalf("after retry: day %s, %d manifests", rec.Status, len(man.dirs))
	}
}
