package pipelinestats

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/web"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func key(day int) spx.JobKey {
	d := spx.NewDate(2024, 1, day)
	return spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: d, Expiration: d}
}

// The collector reads queue depth from a real JetStream server and rates
// from the events published on SPX_EVENTS.
func TestCollectorOnJetStream(t *testing.T) {
	_, nc, js := queuetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := queue.Ensure(ctx, js, queue.Topology{}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2024, 1, 10, 15, 0, 0, 0, time.UTC)}
	c := New(nc, js, Config{Window: time.Minute, Step: 10 * time.Second, Now: clk.now})
	stop, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	if err := queue.PublishFetch(ctx, js, key(2), 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	events := []*spxv1.Event{
		{Kind: spxv1.EventKind_EVENT_KIND_STAGED, Key: queue.KeyToProto(key(3)), Stage: "fetch", LatencyMs: 100},
		{Kind: spxv1.EventKind_EVENT_KIND_STAGED, Key: queue.KeyToProto(key(4)), Stage: "fetch", LatencyMs: 300},
		{Kind: spxv1.EventKind_EVENT_KIND_EMPTY, Key: queue.KeyToProto(key(5)), Stage: "fetch"},
		{Kind: spxv1.EventKind_EVENT_KIND_WRITTEN, Key: queue.KeyToProto(key(3)), Stage: "write", Rows: 1000, Bytes: 20000},
		{Kind: spxv1.EventKind_EVENT_KIND_WRITTEN, Key: queue.KeyToProto(key(4)), Stage: "write", Rows: 500, Bytes: 10000},
		{Kind: spxv1.EventKind_EVENT_KIND_FETCHING, Key: queue.KeyToProto(key(8)), Stage: "fetch", ErrorClass: "transient", ErrorMessage: "429"},
		{Kind: spxv1.EventKind_EVENT_KIND_FAILED, Key: queue.KeyToProto(key(9)), Stage: "fetch", ErrorClass: "permanent", ErrorMessage: "471"},
		{Kind: spxv1.EventKind_EVENT_KIND_FAILED, Key: queue.KeyToProto(key(10)), Stage: "write", ErrorClass: "permanent", ErrorMessage: "disk full"},
	}
	for _, ev := range events {
		if err := queue.PublishEvent(ctx, js, ev); err != nil {
			t.Fatal(err)
		}
	}
	st := mustSnapshot(t, c, ctx, func(s int64) bool { return s == 3 })

	if len(st.Queues) != 2 || st.Queues[0].Stage != "fetch" || st.Queues[0].Pending != 1 || st.Queues[1].Pending != 0 {
		t.Errorf("queues %+v, want fetch pending 1, write pending 0", st.Queues)
	}
	if len(st.Workers) != 2 || st.Workers[0].Connected != 0 {
		t.Errorf("workers %+v, want none connected", st.Workers)
	}
	if n := len(st.Throughput); n != 6 {
		t.Fatalf("%d throughput points, want 6 (1m in 10s steps)", n)
	}
	last := st.Throughput[5]
	if last.RowsPerSec != 150 || last.BytesPerSec != 3000 || last.JobsCompleted != 2 {
		t.Errorf("last point %+v, want 150 rows/s, 3000 B/s, 2 jobs", last)
	}
	h := st.Terminal
	if h.LatencyMs.P50 != 100 || h.LatencyMs.P95 != 300 || h.LatencyMs.Mean != 200 || h.LatencyMs.Max != 300 {
		t.Errorf("latency %+v", h.LatencyMs)
	}
	if h.ErrorsPerMin[spx.ClassTransient] != 1 || h.ErrorsPerMin[spx.ClassPermanent] != 1 {
		t.Errorf("errors per minute %v, want transient 1, permanent 1 (the writer's failure is not the terminal's)", h.ErrorsPerMin)
	}

	// A worker waiting for a job counts as connected.
	cons, err := js.Consumer(ctx, queue.StreamWrite, queue.ConsumerWriters)
	if err != nil {
		t.Fatal(err)
	}
	pull, err := cons.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, err := c.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Workers[1].Connected == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting writer not counted: %+v", st.Workers)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range pull.Messages() {
	}

	// Two minutes later the window has moved past every event.
	clk.add(2 * time.Minute)
	st, err = c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Terminal.Requests != 0 || len(st.Terminal.ErrorsPerMin) != 0 || st.Throughput[5].RowsPerSec != 0 {
		t.Errorf("after the window: %+v", st.Terminal)
	}
}

func mustSnapshot(t *testing.T, c *Collector, ctx context.Context, ready func(requests int64) bool) (st web.LiveStats) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		st, err = c.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ready(st.Terminal.Requests) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not seen: %+v", st.Terminal)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSnapshotWithoutTopology(t *testing.T) {
	_, nc, js := queuetest.Start(t)
	c := New(nc, js, Config{})
	if _, err := c.Snapshot(context.Background()); err == nil {
		t.Error("Snapshot without the pipeline's streams succeeded; want an error the page can show")
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for _, tc := range []struct{ p, want float64 }{{0.5, 50}, {0.95, 100}, {0.9, 90}, {0.01, 10}} {
		if got := percentile(v, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
}

// Run listens until its context ends.
func TestRunStopsOnCancel(t *testing.T) {
	_, nc, js := queuetest.Start(t)
	c := New(nc, js, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
