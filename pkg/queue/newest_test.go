package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// PublishWriteNewest and PublishFetchNewest replace a waiting message of an
// older generation (its outcome would be ignored as stale and leave the
// newer generation undone) and leave one of the same or a newer one alone.
func TestPublishNewest(t *testing.T) {
	_, _, js := queuetest.Start(t)
	ctx := context.Background()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true}); err != nil {
		t.Fatal(err)
	}
	d := spx.NewDate(2024, 1, 2)
	k := spx.JobKey{Dataset: spx.Quote, Root: "SPXW", Date: d, Expiration: d}
	write := func(gen int32) *spxv1.WriteJob {
		return &spxv1.WriteJob{Key: queue.KeyToProto(k), Generation: gen, Object: k.ObjectName()}
	}
	gens := func() (int, int) {
		t.Helper()
		f, _, err := queue.JobMessage(ctx, js, queue.StreamFetch, k)
		if err != nil {
			t.Fatal(err)
		}
		w, _, err := queue.JobMessage(ctx, js, queue.StreamWrite, k)
		if err != nil {
			t.Fatal(err)
		}
		return f, w
	}
	if err := queue.PublishWrite(ctx, js, write(1)); err != nil {
		t.Fatal(err)
	}
	if err := queue.PublishFetch(ctx, js, k, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := queue.PublishWriteNewest(ctx, js, write(2)); err != nil {
		t.Fatal(err)
	}
	if err := queue.PublishFetchNewest(ctx, js, k, 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	if f, w := gens(); f != 2 || w != 2 {
		t.Errorf("after publishing generation 2 over 1: fetch %d, write %d; want 2 and 2", f, w)
	}
	if err := queue.PublishWriteNewest(ctx, js, write(1)); err != nil {
		t.Fatal(err)
	}
	if err := queue.PublishFetchNewest(ctx, js, k, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if f, w := gens(); f != 2 || w != 2 {
		t.Errorf("after publishing generation 1 over 2: fetch %d, write %d; want 2 and 2 kept", f, w)
	}
}
