package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// Report publishes a worker's event and reports whether JetStream stored
// it. It is not cancelled with ctx: an outcome must still be told while a
// worker stops. A lost progress event (fetching, staged) only needs the log;
// a lost outcome event (written, empty, failed, refetch) must make the
// caller hand the job back with Redeliver instead of settling it.
func Report(ctx context.Context, js jetstream.JetStream, log *slog.Logger, e *spxv1.Event) bool {
	if err := PublishEvent(context.WithoutCancel(ctx), js, e); err != nil {
		log.Warn("publishing an event failed", "kind", e.GetKind(), "err", err)
		return false
	}
	return true
}

// ReportWaiting is Report for an outcome event: when the event is not
// stored because the NATS store is full (room says so), msg is kept in
// progress and the event published again once there is room, rather than
// the job being handed back, which would use a delivery. It reports whether
// the event was stored; false (another error, or ctx ended) leaves the
// caller to hand the job back with Redeliver.
func ReportWaiting(ctx context.Context, js jetstream.JetStream, log *slog.Logger, room Room, msg jetstream.Msg, every time.Duration, e *spxv1.Event) bool {
	if room == nil {
		return Report(ctx, js, log, e)
	}
	stop := KeepInProgress(ctx, msg, every)
	defer stop()
	err := WithRoom(ctx, room, log, func(ctx context.Context) error { return PublishEvent(context.WithoutCancel(ctx), js, e) })
	if err != nil {
		log.Warn("publishing an event failed", "kind", e.GetKind(), "err", err)
		return false
	}
	return true
}

// HandBack returns an unfinished job to the queue at once, without counting
// it a failure: the worker is stopping (the drain timeout passed, or a
// second signal). args add to the log line (e.g. the error that cut it).
func HandBack(msg jetstream.Msg, log *slog.Logger, args ...any) {
	if err := msg.Nak(); err != nil {
		log.Warn("handing back a job while stopping failed; it is redelivered after AckWait", "err", err)
	}
	log.Info("stopping: job handed back unfinished", args...)
}

// Redeliver hands back a job whose outcome event could not be published
// (NATS unreachable): settling it would lose the outcome for good.
func Redeliver(msg jetstream.Msg, delay time.Duration, log *slog.Logger) {
	log.Warn("the outcome event was not stored; the job will be redone", "delay", delay)
	if err := msg.NakWithDelay(delay); err != nil {
		log.Warn("handing the job back failed; it is redelivered after AckWait", "err", err)
	}
}
