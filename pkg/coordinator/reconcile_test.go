package coordinator

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// listing answers the planner with one contract per expiration day of the
// day after the trade date.
type listing []int

func (l listing) Contracts(_ context.Context, d spx.Date, _ []string) ([]spx.Contract, error) {
	var out []spx.Contract
	for _, e := range l {
		out = append(out, spx.Contract{Root: "SPXW", Expiration: spx.NewDate(2024, 1, e), Strike: 4700, Right: 'C'})
	}
	return out, nil
}

// queueAndStore starts an embedded JetStream with spx's topology in memory
// and opens a status database in a temporary directory, closed at cleanup.
func queueAndStore(t *testing.T) (*nats.Conn, jetstream.JetStream, *statusdb.Store) {
	t.Helper()
	_, nc, js := queuetest.Start(t)
	if err := queue.Ensure(context.Background(), js, queue.Topology{Memory: true}); err != nil {
		t.Fatal(err)
	}
	st, err := statusdb.Open(filepath.Join(t.TempDir(), "spx.db"), statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return nc, js, st
}

func reconcileService(t *testing.T, src Lister) (*Service, *statusdb.Store, jetstream.JetStream) {
	t.Helper()
	nc, js, st := queueAndStore(t)
	return New(nc, js, st, src, &fakeManifests{files: map[string][]ManifestFile{}}, Config{Roots: []string{"SPXW"}}), st, js
}

// fetchGen is the generation of the job's message on SPX_FETCH (0: none).
func fetchGen(t *testing.T, js jetstream.JetStream, k spx.JobKey) int {
	t.Helper()
	gen, ok, err := queue.JobMessage(context.Background(), js, queue.StreamFetch, k)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return gen
}

// Every disagreement a crash can leave between the status store and the
// streams is repaired, and what agrees is left alone.
func TestReconcile(t *testing.T) {
	s, st, js := reconcileService(t, nil)
	ctx := context.Background()
	var (
		lostQueued  = key("SPXW", 3) // recorded queued, never published
		fetching    = key("SPXW", 4) // its fetch message is there
		staged      = key("SPXW", 5) // its write message is there
		lostStaged  = key("SPXW", 8) // neither message left
		staleRetry  = key("SPXW", 9) // record at generation 3, stream at 2
		written     = key("SPXW", 10)
		writtenKeep = key("SPXW", 11) // written, but a write job still waits
	)
	recs := []spx.JobRecord{
		{Key: lostQueued, Outcome: spx.JobQueued, Generation: 1},
		{Key: fetching, Outcome: spx.JobFetching, Generation: 1},
		{Key: staged, Outcome: spx.JobStaged, Generation: 2},
		{Key: lostStaged, Outcome: spx.JobStaged, Generation: 1},
		{Key: staleRetry, Outcome: spx.JobQueued, Generation: 3},
		{Key: written, Outcome: spx.JobWritten, Generation: 1},
		{Key: writtenKeep, Outcome: spx.JobWritten, Generation: 1},
	}
	if err := st.PutJobs(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		k   spx.JobKey
		gen int
	}{{fetching, 1}, {staleRetry, 2}} {
		if err := queue.PublishFetch(ctx, js, m.k, m.gen, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct {
		k   spx.JobKey
		gen int32
	}{{staged, 2}, {writtenKeep, 1}} {
		if err := queue.PublishWrite(ctx, js, &spxv1.WriteJob{Key: queue.KeyToProto(m.k), Generation: m.gen, Object: m.k.ObjectName()}); err != nil {
			t.Fatal(err)
		}
	}
	obj, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []spx.JobKey{staged, written, writtenKeep} {
		if _, err := obj.Put(ctx, jetstream.ObjectMeta{Name: k.ObjectName()}, bytes.NewReader([]byte("x"))); err != nil {
			t.Fatal(err)
		}
	}

	res, err := s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Requeued)
	want := []string{lostQueued.String(), lostStaged.String(), staleRetry.String()}
	slices.Sort(want)
	if !slices.Equal(res.Requeued, want) {
		t.Errorf("requeued %v, want %v", res.Requeued, want)
	}
	for k, gen := range map[spx.JobKey]int{lostQueued: 2, lostStaged: 2, staleRetry: 4, fetching: 1} {
		rec, _, _ := st.Job(ctx, k)
		if got := fetchGen(t, js, k); got != gen || rec.Generation != gen {
			t.Errorf("%s: fetch message generation %d, record %d (%s); want %d", k, got, rec.Generation, rec.Outcome, gen)
		}
	}
	if rec, _, _ := st.Job(ctx, staged); rec.Outcome != spx.JobStaged || rec.Generation != 2 || fetchGen(t, js, staged) != 0 {
		t.Errorf("%s with its write job waiting was changed: %s generation %d", staged, rec.Outcome, rec.Generation)
	}
	if res.StagedRemoved != 1 {
		t.Errorf("%d staged objects removed, want 1", res.StagedRemoved)
	}
	if _, err := obj.GetInfo(ctx, written.ObjectName()); err == nil {
		t.Errorf("the staged object of written job %s is still there", written)
	}
	for _, k := range []spx.JobKey{staged, writtenKeep} {
		if _, err := obj.GetInfo(ctx, k.ObjectName()); err != nil {
			t.Errorf("the staged object of %s was removed: %v", k, err)
		}
	}

	// A second pass finds nothing to do.
	res, err = s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Requeued)+len(res.Replanned)+res.StagedRemoved != 0 {
		t.Errorf("second pass did %+v, want nothing", res)
	}
}

// A day whose planning a crash cut short (one job recorded, the rest never
// listed) is planned again; a job whose message of its generation was
// consumed inside the duplicate window is published with a new generation,
// not dropped as a duplicate.
func TestReconcileReplansAndBeatsTheDuplicateWindow(t *testing.T) {
	s, st, js := reconcileService(t, listing{3, 4})
	ctx := context.Background()
	first, second := key("SPXW", 3), key("SPXW", 4)
	if err := st.PutJobs(ctx, []spx.JobRecord{{Key: first, Outcome: spx.JobQueued, Generation: 1}}); err != nil {
		t.Fatal(err)
	}
	// Its generation-1 message was published and then consumed (the
	// fetcher's events lost with the crash).
	if err := queue.PublishFetch(ctx, js, first, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := queue.PurgeJob(ctx, js, queue.StreamFetch, first.FetchSubject()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateDay(ctx, day, func(r *spx.DayRecord) error {
		r.Status, r.Planning = spx.DayQueued, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	res, err := s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Replanned, []spx.Date{day}) {
		t.Errorf("replanned %v, want [%s]", res.Replanned, day)
	}
	if g := fetchGen(t, js, first); g != 2 {
		t.Errorf("%s: fetch message generation %d, want 2 (generation 1 would be dropped as a duplicate)", first, g)
	}
	if g := fetchGen(t, js, second); g != 1 {
		t.Errorf("%s (never planned before the crash): fetch message generation %d, want 1", second, g)
	}
	rec, _, _ := st.Day(ctx, day)
	if rec.Planning || rec.Status != spx.DayQueued || rec.JobsTotal != 2 {
		t.Errorf("day after replanning: planning %v status %s jobs %d; want false queued 2", rec.Planning, rec.Status, rec.JobsTotal)
	}
}

// Enqueueing a day again (spx process-gaps after a crash) publishes a job
// recorded queued whose message is gone with a new generation: the same
// generation inside the 10-minute window is dropped as a duplicate.
func TestEnqueueAgainAfterALostMessage(t *testing.T) {
	s, st, js := reconcileService(t, listing{3})
	ctx := context.Background()
	k := key("SPXW", 3)
	if _, err := s.Enqueue(ctx, []spx.Date{day}); err != nil {
		t.Fatal(err)
	}
	if err := queue.PurgeJob(ctx, js, queue.StreamFetch, k.FetchSubject()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, []spx.Date{day}); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := st.Job(ctx, k)
	if g := fetchGen(t, js, k); g != 2 || rec.Generation != 2 {
		t.Errorf("fetch message generation %d, record %d; want 2", g, rec.Generation)
	}
	// Enqueued again while its message waits: nothing changes.
	if _, err := s.Enqueue(ctx, []spx.Date{day}); err != nil {
		t.Fatal(err)
	}
	if g := fetchGen(t, js, k); g != 2 {
		t.Errorf("fetch message generation %d after a third enqueue, want 2", g)
	}
}

type failingLister struct{ err error }

func (f failingLister) Contracts(context.Context, spx.Date, []string) ([]spx.Contract, error) {
	return nil, f.err
}

// A day that cannot be listed is not left marked as being planned (the
// next start would list it again and again) nor queued with nothing
// queued: it is failed with the reason, a gap.
func TestEnqueueUnlistableDay(t *testing.T) {
	s, st, _ := reconcileService(t, failingLister{spx.Permanent(errors.New("terminal says no"))})
	ctx := context.Background()
	res, err := s.Enqueue(ctx, []spx.Date{day})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NotListed) != 1 {
		t.Fatalf("not listed %v, want the day", res.NotListed)
	}
	rec, ok, _ := st.Day(ctx, day)
	if !ok || rec.Planning || rec.Status != spx.DayFailed || !strings.Contains(rec.ErrorMessage, "terminal says no") {
		t.Errorf("day record %+v, want failed with the listing error, not planning", rec)
	}
	if r, err := s.Reconcile(ctx); err != nil || len(r.Replanned) != 0 {
		t.Errorf("reconcile after a failed listing: %+v, %v; want nothing planned again", r, err)
	}
}
