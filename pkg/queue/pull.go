package queue

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PullUntil hands messages of cons to handle one at a time: it asks the
// server for exactly one message, handles it, and only then asks for the
// next, so a worker never holds a pre-fetched buffer and the consumer's
// MaxAckPending caps jobs in flight across every worker. Once stop is closed
// (a graceful shutdown; nil: never) it takes no more: the message in hand is
// finished with ctx, and one the last pull still brings is handed back at
// once with a nak. It returns when ctx ends or after stop.
func PullUntil(ctx context.Context, stop <-chan struct{}, cons jetstream.Consumer, log *slog.Logger, handle func(ctx context.Context, msg jetstream.Msg)) error {
	for ctx.Err() == nil && !closed(stop) {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil || closed(stop) {
				break
			}
			log.Warn("pulling a job failed; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if !drainUntil(ctx, stop, batch.Messages(), func(msg jetstream.Msg) { handle(ctx, msg) }) {
			break // stopping: do not wait out the pull (up to a second)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			log.Debug("pull ended", "err", err)
			sleep(ctx, 200*time.Millisecond)
		}
	}
	return nil
}

func closed(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Drain handles msgs until the channel closes (true) or ctx ends (false).
// A message the server sends to the abandoned pull is redelivered after
// AckWait.
func Drain(ctx context.Context, msgs <-chan jetstream.Msg, handle func(jetstream.Msg)) bool {
	return drainUntil(ctx, nil, msgs, handle)
}

// drainUntil is Drain that, once stop is closed, handles nothing more: it
// naks what the pull still brings until the pull ends (within its wait),
// so no job waits out AckWait, and returns false.
func drainUntil(ctx context.Context, stop <-chan struct{}, msgs <-chan jetstream.Msg, handle func(jetstream.Msg)) bool {
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return !closed(stop)
			}
			if closed(stop) {
				_ = msg.Nak()
				continue
			}
			handle(msg)
		case <-ctx.Done():
			return false
		}
	}
}

// KeepInProgress tells the server every interval that msg is still being
// worked on, until the returned stop function is called.
func KeepInProgress(ctx context.Context, msg jetstream.Msg, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { cancel(); <-done }
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// RunWorkersUntil runs n workers named prefix-1 … prefix-n, each pulling
// one message at a time from cons (never a pre-fetched buffer) and handing
// it to handle, until ctx ends; once stop is closed each worker finishes
// the job in hand (ctx still open) and returns (see PullUntil).
func RunWorkersUntil(ctx context.Context, stop <-chan struct{}, cons jetstream.Consumer, n int, prefix string, log *slog.Logger, handle func(ctx context.Context, worker string, msg jetstream.Msg)) {
	var wg sync.WaitGroup
	for i := range n {
		name := prefix + "-" + strconv.Itoa(i+1)
		wg.Go(func() {
			_ = PullUntil(ctx, stop, cons, log, func(ctx context.Context, msg jetstream.Msg) { handle(ctx, name, msg) })
		})
	}
	wg.Wait()
}
