package fetcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/fetcher"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// blockingSource answers nothing until its caller gives up: a fetcher
// using it holds its jobs in progress.
type blockingSource struct{ took chan struct{} }

func (b blockingSource) History(ctx context.Context, _ spx.HistoryRequest) (spx.RowStream, error) {
	b.took <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// A fetcher process that dies holding every slot of the cluster-wide cap
// (the fetch consumer's MaxAckPending) must not leave the other fetchers
// idle for long: with the production timings (the fetch consumer's default
// AckWait, the fetcher's default InProgress interval) a new fetcher gets
// the dead one's jobs well within 30 s. Before, AckWait was 60 s and the
// new fetcher sat idle for most of it.
func TestDeadFetcherReturnsItsSlotsSoon(t *testing.T) {
	srv, nc, js := queuetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const jobs = 4
	if err := queue.Ensure(ctx, js, queue.Topology{Concurrency: jobs, Memory: true}); err != nil {
		t.Fatal(err)
	}
	day := spx.NewDate(2024, 1, 2)
	for d := range jobs {
		key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: day, Expiration: spx.NewDate(2024, 1, 3+d)}
		if err := queue.PublishFetch(ctx, js, key, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	// The doomed fetcher, on a connection of its own, takes every job.
	nc1, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js1, err := jetstream.New(nc1)
	if err != nil {
		t.Fatal(err)
	}
	took := make(chan struct{}, jobs)
	dctx, dcancel := context.WithCancel(ctx)
	dead := fetcher.New(js1, blockingSource{took: took}, fetcher.Config{Workers: jobs})
	deadDone := make(chan error, 1)
	go func() { deadDone <- dead.Run(dctx) }()
	for range jobs {
		select {
		case <-took:
		case <-time.After(20 * time.Second):
			t.Fatal("the first fetcher did not take every job")
		}
	}
	// Killed: its connection drops with the jobs in hand, unacked.
	nc1.Close()
	killed := time.Now()
	dcancel()
	<-deadDone

	sub, err := nc.SubscribeSync("spx.event.>")
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{rows: 3, calls: map[spx.Date][]spx.HistoryRequest{}}
	next := fetcher.New(js, src, fetcher.Config{Workers: jobs})
	go func() { _ = next.Run(ctx) }()
	staged := map[string]bool{}
	deadline := killed.Add(30 * time.Second)
	for len(staged) < jobs {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("%d of %d jobs staged by the new fetcher %v after the first died (err %v): a dead fetcher's jobs hold the cluster-wide cap too long",
				len(staged), jobs, time.Since(killed).Round(time.Second), err)
		}
		ev, key, err := queue.DecodeEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetKind() == spxv1.EventKind_EVENT_KIND_STAGED {
			staged[key.String()] = true
		}
	}
	t.Logf("the new fetcher staged all %d jobs %v after the first died", jobs, time.Since(killed).Round(100*time.Millisecond))
}
