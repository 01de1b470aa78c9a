package queue

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestDrainStopsWhenContextEnds(t *testing.T) {
	msgs := make(chan jetstream.Msg, 2)
	msgs <- nil
	msgs <- nil
	close(msgs)
	n := 0
	if !Drain(context.Background(), msgs, func(jetstream.Msg) { n++ }) || n != 2 {
		t.Fatalf("closed channel: handled %d, want 2 and true", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	open := make(chan jetstream.Msg)
	done := make(chan bool)
	go func() { done <- Drain(ctx, open, func(jetstream.Msg) {}) }()
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Error("drain reported a finished batch after ctx ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("drain kept waiting for a pull after ctx ended")
	}
}
