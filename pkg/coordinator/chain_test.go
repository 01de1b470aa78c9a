package coordinator

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

func quoteKey(d int) spx.JobKey {
	return spx.JobKey{Dataset: spx.Quote, Root: "SPXW", Date: day, Expiration: spx.NewDate(2024, 1, d)}
}

func chainService(t *testing.T, src Lister, perExp bool) (*Service, jetstream.JetStream) {
	t.Helper()
	nc, js, st := queueAndStore(t)
	s := New(nc, js, st, src, &fakeManifests{files: map[string][]ManifestFile{}},
		Config{Roots: []string{"SPXW"}, Datasets: []spx.Dataset{spx.Quote, spx.Greeks}, PerExpiration: perExp})
	return s, js
}

// chainMessage returns the jobs of the chain fetch waiting for k's day (nil: none).
func chainMessage(t *testing.T, js jetstream.JetStream, k spx.JobKey) []queue.ChainJob {
	t.Helper()
	str, err := js.Stream(context.Background(), queue.StreamFetch)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := str.GetLastMsgForSubject(context.Background(), k.ChainKey().FetchSubject())
	if err != nil {
		return nil
	}
	job, ck, err := queue.DecodeFetchJob(raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := queue.ChainJobs(job, ck)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// The planner sends one chain fetch per (dataset, root, date) for a dataset
// whose endpoint takes expiration=* and one message per job for greeks;
// jobs and status stay per expiration. Enqueueing again while the chain
// waits publishes nothing new.
func TestEnqueuePublishesChainFetches(t *testing.T) {
	s, js := chainService(t, listing{3, 4, 5}, false)
	ctx := context.Background()
	res, err := s.Enqueue(ctx, []spx.Date{day})
	if err != nil {
		t.Fatal(err)
	}
	if res.Jobs != 6 {
		t.Errorf("%d jobs, want 6 (3 quote, 3 greeks)", res.Jobs)
	}
	subjects, err := queue.Subjects(ctx, js, queue.StreamFetch)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{quoteKey(3).ChainKey().FetchSubject(), key("SPXW", 3).FetchSubject(), key("SPXW", 4).FetchSubject(), key("SPXW", 5).FetchSubject()}
	for _, w := range want {
		if !subjects[w] {
			t.Errorf("no message on %s", w)
		}
	}
	if len(subjects) != len(want) {
		t.Errorf("fetch subjects %v, want %v", subjects, want)
	}
	jobs := chainMessage(t, js, quoteKey(3))
	var exps []spx.Date
	for _, j := range jobs {
		exps = append(exps, j.Key.Expiration)
		if j.Generation != 1 {
			t.Errorf("%s: generation %d in the chain, want 1", j.Key, j.Generation)
		}
	}
	if !slices.Equal(exps, []spx.Date{quoteKey(3).Expiration, quoteKey(4).Expiration, quoteKey(5).Expiration}) {
		t.Errorf("chain expirations %v", exps)
	}
	for d := 3; d <= 5; d++ {
		rec, ok, err := s.store.Job(ctx, quoteKey(d))
		if err != nil || !ok || rec.Outcome != spx.JobQueued {
			t.Errorf("%s: record %+v (found %v, err %v), want queued", quoteKey(d), rec, ok, err)
		}
		if g := fetchGen(t, js, quoteKey(d)); g != 1 {
			t.Errorf("%s: JobMessage finds generation %d, want 1 (in the chain)", quoteKey(d), g)
		}
	}
	if _, err := s.Enqueue(ctx, []spx.Date{day}); err != nil {
		t.Fatal(err)
	}
	after, _ := queue.Subjects(ctx, js, queue.StreamFetch)
	if len(after) != len(want) {
		t.Errorf("after a second enqueue: fetch subjects %v, want the same %d", after, len(want))
	}
	for d := 3; d <= 5; d++ {
		if rec, _, _ := s.store.Job(ctx, quoteKey(d)); rec.Generation != 1 {
			t.Errorf("%s: generation %d after a second enqueue while its chain waits, want 1", quoteKey(d), rec.Generation)
		}
	}
	if r, err := s.Reconcile(ctx); err != nil || len(r.Requeued) != 0 {
		t.Errorf("reconcile with the chain waiting: requeued %v (err %v), want nothing", r.Requeued, err)
	}
}

// thetadata.chain_requests false: one message per job for every dataset.
func TestEnqueuePerExpiration(t *testing.T) {
	s, js := chainService(t, listing{3, 4}, true)
	if _, err := s.Enqueue(context.Background(), []spx.Date{day}); err != nil {
		t.Fatal(err)
	}
	subjects, _ := queue.Subjects(context.Background(), js, queue.StreamFetch)
	if len(subjects) != 4 || !subjects[quoteKey(3).FetchSubject()] || subjects[quoteKey(3).ChainKey().FetchSubject()] {
		t.Errorf("fetch subjects %v, want one per job and no chain", subjects)
	}
}

// A chain fetch lost in a crash (consumed, its events never sent) is
// repaired by reconcile one job at a time with the next generation; a
// chain subject holding another day's plan does not hide a job missing
// from it.
func TestReconcileLostChain(t *testing.T) {
	s, js := chainService(t, listing{3, 4}, false)
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, []spx.Date{day}); err != nil {
		t.Fatal(err)
	}
	if err := queue.PurgeJob(ctx, js, queue.StreamFetch, quoteKey(3).ChainKey().FetchSubject()); err != nil {
		t.Fatal(err)
	}
	// A chain fetch of only the first job stands on the subject.
	if _, err := queue.PublishChain(ctx, js, []queue.ChainJob{{Key: quoteKey(3), Generation: 1}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	res, err := s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Requeued, []string{quoteKey(4).String()}) {
		t.Errorf("requeued %v, want only %s (the other is in the chain)", res.Requeued, quoteKey(4))
	}
	str, _ := js.Stream(ctx, queue.StreamFetch)
	if _, err := str.GetLastMsgForSubject(ctx, quoteKey(4).FetchSubject()); err != nil {
		t.Errorf("%s: no message of its own after reconcile: %v", quoteKey(4), err)
	}
	if g := fetchGen(t, js, quoteKey(4)); g != 2 {
		t.Errorf("%s: generation %d, want 2", quoteKey(4), g)
	}
}

// A chain fetch that runs out of deliveries makes each of its jobs dead,
// except one already staged by an earlier delivery and one split off onto
// a message of its own.
func TestChainDeadLetter(t *testing.T) {
	s, js := chainService(t, listing{3, 4, 5, 8}, false)
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, []spx.Date{day}); err != nil {
		t.Fatal(err)
	}
	if err := s.HandleEvent(ctx, quoteKey(5), event(3, quoteKey(5), 1)); err != nil { // STAGED
		t.Fatal(err)
	}
	if err := queue.PublishFetch(ctx, js, quoteKey(8), 1, time.Minute); err != nil { // split off
		t.Fatal(err)
	}
	str, _ := js.Stream(ctx, queue.StreamFetch)
	raw, err := str.GetLastMsgForSubject(ctx, quoteKey(3).ChainKey().FetchSubject())
	if err != nil {
		t.Fatal(err)
	}
	adv, _ := json.Marshal(maxDeliveriesAdvisory{Stream: queue.StreamFetch, Consumer: queue.ConsumerFetchers, StreamSeq: raw.Sequence, Deliveries: 5})
	if err := s.handleDeadLetter(ctx, fakeMsg{data: adv}); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[int]spx.JobOutcome{3: spx.JobDead, 4: spx.JobDead, 5: spx.JobStaged, 8: spx.JobQueued} {
		if rec, _, _ := s.store.Job(ctx, quoteKey(d)); rec.Outcome != want {
			t.Errorf("%s: %s, want %s", quoteKey(d), rec.Outcome, want)
		}
	}
	if jobs := chainMessage(t, js, quoteKey(3)); jobs != nil {
		t.Errorf("the dead chain's message is still there: %v", jobs)
	}
}

// fakeMsg is a dead-letter advisory as handleDeadLetter reads it.
type fakeMsg struct {
	jetstream.Msg
	data []byte
}

func (m fakeMsg) Data() []byte { return m.data }

// wideListing lists n contracts (strikes) on each expiration day.
type wideListing struct {
	exps []int
	n    int
}

func (l wideListing) Contracts(context.Context, spx.Date, []string) ([]spx.Contract, error) {
	var out []spx.Contract
	for _, e := range l.exps {
		for i := range l.n {
			out = append(out, spx.Contract{Root: "SPXW", Expiration: spx.NewDate(2024, 1, e), Strike: float64(4000 + i), Right: 'C'})
		}
	}
	return out, nil
}

// A chain fetch is only sent when the day's chain stays within
// chainMaxRows: 3000 contracts of one-minute quotes (1.17 million rows)
// go one expiration at a time, their eod (3000 rows) as one chain, and
// hourly quotes (21 000 rows) as one chain too.
func TestChainOnlyWhereItFits(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		chain    map[spx.Dataset]bool
	}{
		{time.Minute, map[spx.Dataset]bool{spx.Quote: false, spx.EOD: true}},
		{time.Hour, map[spx.Dataset]bool{spx.Quote: true, spx.EOD: true}},
	} {
		nc, js, st := queueAndStore(t)
		s := New(nc, js, st, wideListing{exps: []int{3, 4, 5}, n: 1000}, &fakeManifests{files: map[string][]ManifestFile{}},
			Config{Roots: []string{"SPXW"}, Datasets: []spx.Dataset{spx.Quote, spx.EOD}, Interval: tc.interval})
		if _, err := s.Enqueue(context.Background(), []spx.Date{day}); err != nil {
			t.Fatal(err)
		}
		subjects, err := queue.Subjects(context.Background(), js, queue.StreamFetch)
		if err != nil {
			t.Fatal(err)
		}
		for ds, chain := range tc.chain {
			k := spx.JobKey{Dataset: ds, Root: "SPXW", Date: day, Expiration: spx.NewDate(2024, 1, 3)}
			if got := subjects[k.ChainKey().FetchSubject()]; got != chain {
				t.Errorf("%s at %s: chain fetch %v, want %v (subjects %v)", ds, tc.interval, got, chain, subjects)
			}
			if own := subjects[k.FetchSubject()]; own == chain {
				t.Errorf("%s at %s: a message of its own %v, want %v", ds, tc.interval, own, !chain)
			}
		}
	}
}
