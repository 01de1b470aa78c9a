package fetcher_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/fetcher"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// chainSource answers an expiration=* request with the rows of chain's
// expirations in that order (or chainErr), and a one-expiration request
// with that expiration's rows: 5 rows a side, calls and puts.
type chainSource struct {
	mu        sync.Mutex
	chain     []spx.Date
	chainErr  error
	failFirst int               // chain requests that fail transiently first
	noData    map[spx.Date]bool // one-expiration requests that answer NO_DATA
	calls     []spx.HistoryRequest
}

func chainRows(req spx.HistoryRequest, exp spx.Date) []spx.Row { return sideRows(req, exp, 5) }

func (c *chainSource) History(_ context.Context, req spx.HistoryRequest) (spx.RowStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, req)
	if !req.AllExpirations {
		if c.noData[req.Expiration] {
			return nil, spx.ErrNoData
		}
		return &sliceStream{rows: chainRows(req, req.Expiration), i: -1}, nil
	}
	if c.chainErr != nil {
		return nil, c.chainErr
	}
	if c.failFirst > 0 {
		c.failFirst--
		return nil, spx.Transient(errors.New("474 DISCONNECTED"))
	}
	var rows []spx.Row
	for _, e := range c.chain {
		rows = append(rows, chainRows(req, e)...)
	}
	return &sliceStream{rows: rows, i: -1}, nil
}

func (c *chainSource) requests() (chain, perExp int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.calls {
		if r.AllExpirations {
			chain++
		} else {
			perExp++
		}
	}
	return chain, perExp
}

// runChain publishes one chain fetch of jobs, runs a fetcher on src until
// every job has a final event, and returns those events by expiration.
func runChain(t *testing.T, src *chainSource, jobs []queue.ChainJob) (map[spx.Date]*spxv1.Event, jetstream.JetStream) {
	t.Helper()
	return runChainWith(t, src, jobs, len(jobs), nil)
}

// runChainWith is runChain that waits for final events of n jobs and calls
// before (if set) once the topology exists, before the chain is published.
func runChainWith(t *testing.T, src *chainSource, jobs []queue.ChainJob, n int, before func(jetstream.JetStream)) (map[spx.Date]*spxv1.Event, jetstream.JetStream) {
	t.Helper()
	_, nc, js := queuetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := queue.Ensure(ctx, js, queue.Topology{Concurrency: 2, FetchAckWait: 5 * time.Second, Memory: true}); err != nil {
		t.Fatal(err)
	}
	sub, err := nc.SubscribeSync("spx.event.>")
	if err != nil {
		t.Fatal(err)
	}
	svc := fetcher.New(js, src, fetcher.Config{Workers: 2, Retries: 1, RetryBase: time.Millisecond, InProgressEvery: time.Second,
		Policy: queue.Policy{Base: 50 * time.Millisecond, Max: 100 * time.Millisecond}})
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	if before != nil {
		before(js)
	}
	if _, err := queue.PublishChain(ctx, js, jobs, time.Minute); err != nil {
		t.Fatal(err)
	}
	final := map[spx.Date]*spxv1.Event{}
	deadline := time.Now().Add(20 * time.Second)
	for len(final) < n {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for events: %v (have %d of %d)", err, len(final), n)
		}
		ev, key, err := queue.DecodeEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetKind() != spxv1.EventKind_EVENT_KIND_FETCHING {
			if prev := final[key.Expiration]; prev != nil {
				t.Errorf("%s: a second final event %v after %v", key, ev.GetKind(), prev.GetKind())
			}
			final[key.Expiration] = ev
		}
	}
	return final, js
}

// checkStaged checks that a staged job's object holds exactly its own
// expiration's rows and that the event, the object's metadata and its
// write job agree.
func checkStaged(t *testing.T, js jetstream.JetStream, key spx.JobKey, gen int, ev *spxv1.Event) {
	t.Helper()
	if ev.GetKind() != spxv1.EventKind_EVENT_KIND_STAGED || int(ev.GetGeneration()) != gen {
		t.Errorf("%s: final event %v generation %d, want STAGED generation %d", key, ev.GetKind(), ev.GetGeneration(), gen)
		return
	}
	store, err := js.ObjectStore(context.Background(), queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	data := readObject(t, store, key.ObjectName())
	var want []byte
	for _, r := range chainRows(spx.HistoryRequest{Dataset: key.Dataset, Root: key.Root, Date: key.Date}, key.Expiration) {
		want = spx.AppendStaged(want, key.Dataset, &r)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("%s: staged object holds %d lines, want its own %d rows exactly", key, bytes.Count(data, []byte("\n")), bytes.Count(want, []byte("\n")))
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != ev.GetSha256() || ev.GetRows() != 10 || ev.GetContracts() != 2 {
		t.Errorf("%s: event sha %s rows %d contracts %d; object sha %x", key, ev.GetSha256(), ev.GetRows(), ev.GetContracts(), sum)
	}
	gotGen, ok, err := queue.JobMessage(context.Background(), js, queue.StreamWrite, key)
	if err != nil || !ok || gotGen != gen {
		t.Errorf("%s: write job generation %d (waiting %v, err %v), want %d", key, gotGen, ok, err, gen)
	}
}

func chainJobs(day spx.Date, gens map[int]int) []queue.ChainJob {
	var jobs []queue.ChainJob
	for d := 2; d <= 9; d++ {
		if g, ok := gens[d]; ok {
			jobs = append(jobs, queue.ChainJob{Key: spx.JobKey{Dataset: spx.Quote, Root: "SPXW", Date: day, Expiration: spx.NewDate(2024, 1, d)}, Generation: g})
		}
	}
	return jobs
}

// One chain fetch: one request; each planned expiration staged into its
// own object with its own write job and event of its own generation; rows
// of an expiration not planned are not staged anywhere. A planned
// expiration the answer lacks is not taken for empty on the chain's word:
// it is fetched on its own (here its own request has rows; there it says
// NO_DATA, and only then is the job empty).
func TestChainFetch(t *testing.T) {
	day := spx.NewDate(2024, 1, 2)
	exp := func(d int) spx.Date { return spx.NewDate(2024, 1, d) }
	src := &chainSource{chain: []spx.Date{exp(2), exp(3), exp(7)}, noData: map[spx.Date]bool{exp(5): true}}
	jobs := chainJobs(day, map[int]int{2: 1, 3: 3, 4: 1, 5: 2})
	final, js := runChain(t, src, jobs)
	if chain, perExp := src.requests(); chain != 1 || perExp != 2 {
		t.Errorf("terminal requests: %d chain, %d per expiration; want 1, and 2 for the expirations the chain lacked", chain, perExp)
	}
	checkStaged(t, js, jobs[0].Key, 1, final[exp(2)])
	checkStaged(t, js, jobs[1].Key, 3, final[exp(3)])
	checkStaged(t, js, jobs[2].Key, 1, final[exp(4)])
	if ev := final[exp(5)]; ev.GetKind() != spxv1.EventKind_EVENT_KIND_EMPTY || ev.GetGeneration() != 2 {
		t.Errorf("exp 5 (no rows in the chain, NO_DATA on its own): final event %v generation %d, want EMPTY 2", ev.GetKind(), ev.GetGeneration())
	}
	store, _ := js.ObjectStore(context.Background(), queue.Bucket)
	for _, d := range []int{5, 7} {
		k := spx.JobKey{Dataset: spx.Quote, Root: "SPXW", Date: day, Expiration: exp(d)}
		if _, err := store.GetInfo(context.Background(), k.ObjectName()); !errors.Is(err, jetstream.ErrObjectNotFound) {
			t.Errorf("exp %d: staged object exists (err %v), want none", d, err)
		}
	}
	waitFor(t, func() bool {
		subj, err := queue.Subjects(context.Background(), js, queue.StreamFetch)
		return err == nil && len(subj) == 0
	})
}

// A chain whose request fails (unsorted rows, an error the terminal gives
// a chain, a request too large) is split: each job is fetched on its own,
// with its generation, and staged exactly once with its own rows.
func TestChainFetchSplits(t *testing.T) {
	day := spx.NewDate(2024, 1, 2)
	exp := func(d int) spx.Date { return spx.NewDate(2024, 1, d) }
	for _, tc := range []struct {
		name string
		src  *chainSource
	}{
		{"unsorted", &chainSource{chain: []spx.Date{exp(2), exp(3), exp(2)}}},
		{"permanent", &chainSource{chainErr: spx.Permanent(errors.New("473 INVALID_PARAMS: expiration=* not allowed"))}},
		{"too large", &chainSource{chainErr: spx.WithClass(spx.ClassSplit, errors.New("570 LARGE_REQUEST"))}},
		{"transient", &chainSource{chainErr: spx.Transient(errors.New("474 DISCONNECTED"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobs := chainJobs(day, map[int]int{2: 1, 3: 2})
			final, js := runChain(t, tc.src, jobs)
			for _, j := range jobs {
				checkStaged(t, js, j.Key, j.Generation, final[j.Key.Expiration])
			}
			// A transient failure waits for redeliveries (2 requests
			// each: Retries 1) before the split; the others split at once.
			wantChain := 1
			if tc.name == "transient" {
				wantChain = 2 * 3
			}
			if chain, perExp := tc.src.requests(); chain != wantChain || perExp != 2 {
				t.Errorf("terminal requests: %d chain, %d per expiration; want %d, then one per job", chain, perExp, wantChain)
			}
		})
	}
}

// NO_DATA for a whole chain does not make its jobs empty: each is asked
// on its own, and is empty only if its own request says so.
func TestChainFetchNoData(t *testing.T) {
	day := spx.NewDate(2024, 1, 2)
	exp := func(d int) spx.Date { return spx.NewDate(2024, 1, d) }
	src := &chainSource{chainErr: spx.ErrNoData, noData: map[spx.Date]bool{exp(2): true}}
	jobs := chainJobs(day, map[int]int{2: 1, 3: 1})
	final, js := runChain(t, src, jobs)
	if ev := final[exp(2)]; ev.GetKind() != spxv1.EventKind_EVENT_KIND_EMPTY {
		t.Errorf("%s: %v, want EMPTY", jobs[0].Key, ev.GetKind())
	}
	checkStaged(t, js, jobs[1].Key, 1, final[exp(3)])
	if chain, perExp := src.requests(); chain != 1 || perExp != 2 {
		t.Errorf("terminal requests: %d chain, %d per expiration; want 1 and 2", chain, perExp)
	}
}

// A redelivered chain does not stage again a job an earlier delivery had
// handed on (its write waits and a writer may be reading its object): it
// stages only the others.
func TestChainRedeliverySkipsHandedOnJobs(t *testing.T) {
	day := spx.NewDate(2024, 1, 2)
	exp := func(d int) spx.Date { return spx.NewDate(2024, 1, d) }
	// Delivery 1 fails (both in-process tries); delivery 2 stages.
	src := &chainSource{chain: []spx.Date{exp(2), exp(3)}, failFirst: 2}
	jobs := chainJobs(day, map[int]int{2: 1, 3: 1})
	handedOn := &spxv1.WriteJob{Key: queue.KeyToProto(jobs[0].Key), Generation: 1, Object: "earlier-delivery"}
	final, js := runChainWith(t, src, jobs, 1, func(js jetstream.JetStream) {
		if err := queue.PublishWrite(context.Background(), js, handedOn); err != nil {
			t.Fatal(err)
		}
	})
	checkStaged(t, js, jobs[1].Key, 1, final[exp(3)])
	if ev := final[exp(2)]; ev != nil {
		t.Errorf("%s: final event %v from the redelivery, want none (handed on before)", jobs[0].Key, ev.GetKind())
	}
	store, _ := js.ObjectStore(context.Background(), queue.Bucket)
	if _, err := store.GetInfo(context.Background(), jobs[0].Key.ObjectName()); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("%s: staged again by the redelivery (err %v)", jobs[0].Key, err)
	}
	if chain, perExp := src.requests(); chain != 3 || perExp != 0 {
		t.Errorf("terminal requests: %d chain, %d per expiration; want 3 and 0", chain, perExp)
	}
}

// The same for a job of its own: redelivered after its write was queued
// (an ack lost), it is acked without a request and without staging again.
func TestRedeliveryOfAHandedOnJob(t *testing.T) {
	_, _, js := queuetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := queue.Ensure(ctx, js, queue.Topology{FetchAckWait: 5 * time.Second, Memory: true}); err != nil {
		t.Fatal(err)
	}
	d := spx.NewDate(2024, 1, 2)
	key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: d, Expiration: d}
	// Delivery 1 fails in both in-process tries; delivery 2 finds the write.
	src := &fakeSource{rows: 5, calls: map[spx.Date][]spx.HistoryRequest{},
		errs: map[spx.Date][]error{d: {spx.Transient(errors.New("429")), spx.Transient(errors.New("429"))}}}
	// The back-off (1 s) leaves time to queue the write before delivery 2.
	svc := fetcher.New(js, src, fetcher.Config{Workers: 1, Retries: 1, RetryBase: time.Millisecond,
		Policy: queue.Policy{Base: time.Second, Max: time.Second}})
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	if err := queue.PublishFetch(ctx, js, key, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(src.callsFor(d)) == 2 })
	if err := queue.PublishWrite(ctx, js, &spxv1.WriteJob{Key: queue.KeyToProto(key), Generation: 1, Object: "earlier-delivery"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		subj, err := queue.Subjects(ctx, js, queue.StreamFetch)
		return err == nil && len(subj) == 0
	})
	if n := len(src.callsFor(d)); n != 2 {
		t.Errorf("%d requests, want 2 (the redelivery asks nothing)", n)
	}
	store, _ := js.ObjectStore(ctx, queue.Bucket)
	if _, err := store.GetInfo(ctx, key.ObjectName()); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("staged again by the redelivery (err %v)", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
