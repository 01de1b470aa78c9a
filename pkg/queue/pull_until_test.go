package queue_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
)

// PullUntil: once stop is closed the job in hand is finished with its
// context still open, no further job is handled, and the queue keeps the
// rest for the next worker at once (nothing waits out AckWait).
func TestPullUntilStopsTakingJobs(t *testing.T) {
	_, _, js := queuetest.Start(t)
	ctx := context.Background()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true, FetchAckWait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for d := 3; d <= 5; d++ {
		k := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: spx.NewDate(2024, 1, 2), Expiration: spx.NewDate(2024, 1, d)}
		if err := queue.PublishFetch(ctx, js, k, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.Consumer(ctx, queue.StreamFetch, queue.ConsumerFetchers)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	handled := 0
	done := make(chan error, 1)
	go func() {
		done <- queue.PullUntil(ctx, stop, cons, slog.New(slog.DiscardHandler), func(hctx context.Context, msg jetstream.Msg) {
			handled++
			close(stop) // the signal arrives while this job is in hand
			time.Sleep(200 * time.Millisecond)
			if hctx.Err() != nil {
				t.Error("the job in hand lost its context at stop")
			}
			_ = msg.Ack()
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("PullUntil did not return after stop")
	}
	if handled != 1 {
		t.Errorf("%d jobs handled, want 1 (the one in hand)", handled)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for msg := range batch.Messages() {
		n++
		_ = msg.Ack()
	}
	if n != 2 {
		t.Errorf("%d jobs left for the next worker within 2 s, want 2", n)
	}
}
