package fetcher_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
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

// fakeSource serves rows per (expiration, right) or an error.
type fakeSource struct {
	mu     sync.Mutex
	rows   int                  // rows per contract side
	errs   map[spx.Date][]error // errors returned in turn for an expiration (then rows)
	always map[spx.Date]error   // returned on every request
	split  map[spx.Date]bool    // both-rights requests answer 570
	calls  map[spx.Date][]spx.HistoryRequest
}

func (f *fakeSource) History(_ context.Context, req spx.HistoryRequest) (spx.RowStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[req.Expiration] = append(f.calls[req.Expiration], req)
	if errs := f.errs[req.Expiration]; len(errs) > 0 {
		f.errs[req.Expiration] = errs[1:]
		return nil, errs[0]
	}
	if err := f.always[req.Expiration]; err != nil {
		return nil, err
	}
	if f.split[req.Expiration] && req.Right == 0 {
		return nil, spx.WithClass(spx.ClassSplit, errors.New("570 LARGE_REQUEST"))
	}
	return &sliceStream{rows: sideRows(req, req.Expiration, f.rows), i: -1}, nil
}

// sideRows are n rows a side (calls, puts, or the one req.Right asks for)
// of the 5000 strike of exp.
func sideRows(req spx.HistoryRequest, exp spx.Date, n int) []spx.Row {
	var rows []spx.Row
	for _, right := range []byte{'C', 'P'} {
		if req.Right != 0 && req.Right != right {
			continue
		}
		for i := range n {
			vals := make([][]byte, len(req.Dataset.Columns()))
			for j := range vals {
				vals[j] = fmt.Appendf(nil, "%d", 34200000+i*60000+j)
			}
			rows = append(rows, spx.Row{Contract: spx.Contract{Root: req.Root, Expiration: exp, Strike: 5000, Right: right}, Date: req.Date, Values: vals})
		}
	}
	return rows
}

type sliceStream struct {
	rows []spx.Row
	i    int
}

func (s *sliceStream) Next() bool    { s.i++; return s.i < len(s.rows) }
func (s *sliceStream) Row() *spx.Row { return &s.rows[s.i] }
func (s *sliceStream) Err() error    { return nil }
func (s *sliceStream) Info() spx.StreamInfo {
	return spx.StreamInfo{URL: "http://sim/x", Latency: time.Millisecond}
}
func (s *sliceStream) Close() error { return nil }

func TestFetcher(t *testing.T) {
	_, nc, js := queuetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := queue.Ensure(ctx, js, queue.Topology{Concurrency: 2, FetchAckWait: 2 * time.Second, FetchMaxDeliver: 2, Memory: true}); err != nil {
		t.Fatal(err)
	}
	day := spx.NewDate(2024, 1, 2)
	exp := func(d int) spx.Date { return spx.NewDate(2024, 1, d) }
	src := &fakeSource{rows: 5, calls: map[spx.Date][]spx.HistoryRequest{},
		errs: map[spx.Date][]error{
			exp(3): {spx.ErrNoData},
			exp(4): {spx.Permanent(errors.New("471 PERMISSION: upgrade"))},
			exp(5): {spx.Transient(errors.New("429")), spx.Transient(errors.New("429"))}, // recovers in process
		},
		always: map[spx.Date]error{exp(8): spx.Transient(errors.New("474 DISCONNECTED"))},
		split:  map[spx.Date]bool{exp(9): true},
	}
	sub, err := nc.SubscribeSync("spx.event.>")
	if err != nil {
		t.Fatal(err)
	}
	svc := fetcher.New(js, src, fetcher.Config{Workers: 2, Retries: 2, RetryBase: time.Millisecond, InProgressEvery: 500 * time.Millisecond,
		Policy: queue.Policy{Base: 50 * time.Millisecond, Max: 100 * time.Millisecond}})
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	for _, d := range []int{2, 3, 4, 5, 8, 9} {
		if err := queue.PublishFetch(ctx, js, spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: day, Expiration: exp(d)}, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	final := map[int]*spxv1.Event{}
	fetchingErrs := map[int]int{}
	deadline := time.Now().Add(20 * time.Second)
	for len(final) < 5 && time.Now().Before(deadline) {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for events: %v (have %v)", err, final)
		}
		ev, key, err := queue.DecodeEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		_, _, d := key.Expiration.YMD()
		switch ev.GetKind() {
		case spxv1.EventKind_EVENT_KIND_FETCHING:
			if ev.GetErrorMessage() != "" {
				fetchingErrs[d]++
			}
		default:
			final[d] = ev
		}
	}
	want := map[int]spxv1.EventKind{
		2: spxv1.EventKind_EVENT_KIND_STAGED, 3: spxv1.EventKind_EVENT_KIND_EMPTY, 4: spxv1.EventKind_EVENT_KIND_FAILED,
		5: spxv1.EventKind_EVENT_KIND_STAGED, 9: spxv1.EventKind_EVENT_KIND_STAGED,
	}
	for d, k := range want {
		if final[d].GetKind() != k {
			t.Errorf("exp %d: final event %v, want %v", d, final[d].GetKind(), k)
		}
	}
	if final[4].GetErrorMessage() == "" || final[4].GetErrorClass() != "permanent" {
		t.Errorf("failed event lacks class/message: %+v", final[4])
	}
	if final[8] != nil {
		t.Errorf("a transient failure must not end the job: %v", final[8])
	}
	// exp 8 keeps failing: redelivered up to MaxDeliver (2), each time reporting its error.
	// Each delivery retries in process (1 + Retries calls).
	waitFor(t, func() bool { return len(src.callsFor(exp(8))) >= 6 })
	time.Sleep(300 * time.Millisecond)
	if n := len(src.callsFor(exp(8))); n != 6 {
		t.Errorf("exp 8: %d requests, want 6 (2 deliveries x 3 attempts)", n)
	}

	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{2, 9} {
		key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: day, Expiration: exp(d)}
		ndjson := readObject(t, store, key.ObjectName())
		sum := sha256.Sum256(ndjson)
		if got := hex.EncodeToString(sum[:]); got != final[d].GetSha256() {
			t.Errorf("exp %d: object sha %s, event says %s", d, got, final[d].GetSha256())
		}
		if n := bytes.Count(ndjson, []byte("\n")); n != 10 || final[d].GetRows() != 10 {
			t.Errorf("exp %d: %d lines, event rows %d; want 10", d, n, final[d].GetRows())
		}
		info, err := store.GetInfo(ctx, key.ObjectName())
		if err != nil {
			t.Fatal(err)
		}
		if info.Metadata["sha256"] != final[d].GetSha256() || info.Metadata["rows"] != "10" || info.Metadata["contracts"] != "2" {
			t.Errorf("exp %d: metadata %v", d, info.Metadata)
		}
		if !bytes.HasPrefix(ndjson, []byte(`["SPXW",`)) || info.Metadata["format"] != "ndjson-array" ||
			!strings.HasPrefix(info.Metadata["columns"], "root,expiration,strike,right,date,ms_of_day,") {
			t.Errorf("exp %d: staged lines start %.40q, format %q, columns %q; want spx.AppendStaged arrays named in the metadata",
				d, ndjson, info.Metadata["format"], info.Metadata["columns"])
		}
	}
	if calls := src.callsFor(exp(9)); len(calls) != 3 || calls[1].Right != 'C' || calls[2].Right != 'P' {
		t.Errorf("split: calls %+v, want both, then C, then P", calls)
	}
	for _, d := range []int{3, 4} {
		if _, err := store.GetInfo(ctx, spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: day, Expiration: exp(d)}.ObjectName()); !errors.Is(err, jetstream.ErrObjectNotFound) {
			t.Errorf("exp %d: a failed job left an object behind (err %v)", d, err)
		}
	}
	depth, err := queue.Depth(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if depth[1].Pending != 3 {
		t.Errorf("write stage pending = %d, want 3 write jobs", depth[1].Pending)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func (f *fakeSource) callsFor(d spx.Date) []spx.HistoryRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]spx.HistoryRequest(nil), f.calls[d]...)
}

func readObject(t *testing.T, store jetstream.ObjectStore, name string) []byte {
	t.Helper()
	r, err := store.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	zr, done, err := queue.OpenStaged(r)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A graceful stop while the terminal is away returns at once: no job is in
// hand, so there is nothing to drain (the wait for the terminal must not
// hold the shutdown until its drain timeout).
func TestStopWhileTerminalAway(t *testing.T) {
	_, _, js := queuetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true}); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 4)
	away := func(ctx context.Context) error { waiting <- struct{}{}; <-ctx.Done(); return ctx.Err() }
	svc := fetcher.New(js, &fakeSource{}, fetcher.Config{Workers: 2, Ready: away})
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- svc.RunUntil(ctx, stop) }()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the fetcher never waited for the terminal")
	}
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunUntil: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunUntil did not return after stop while the terminal was away")
	}
}
