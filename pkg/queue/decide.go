package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-retry"

	"github.com/spx-archive/spx/pkg/spx"
)

// Action is what happens to a job message once its handler is done.
type Action int

// Actions.
const (
	Ack  Action = iota // done (including NO_DATA): remove from the work queue
	Nak                // transient: redeliver after Delay
	Term               // permanent: never redeliver
)

func (a Action) String() string {
	switch a {
	case Ack:
		return "ack"
	case Nak:
		return "nak"
	case Term:
		return "term"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Decision is the outcome of Decide.
type Decision struct {
	Action  Action
	Delay   time.Duration  // for Nak
	Class   spx.ErrorClass // class of the handler's error
	Outcome spx.JobOutcome // outcome to report: "" (none: the handler reports success itself), empty or failed
}

// Policy is the redelivery back-off for transient errors: Base doubled per
// delivery, capped at Max.
type Policy struct {
	Base time.Duration // default 5s
	Max  time.Duration // default 5m
}

// NakDelay is the back-off before redelivery number delivery+1.
func (p Policy) NakDelay(delivery uint64) time.Duration {
	base, maxd := p.Base, p.Max
	if base <= 0 {
		base = 5 * time.Second
	}
	if maxd <= 0 {
		maxd = 5 * time.Minute
	}
	d := base
	for i := uint64(1); i < delivery && d < maxd; i++ {
		d *= 2
	}
	return min(d, maxd)
}

// Decide is the one decision point turning a handler's error into an ack,
// a delayed nak or a term (DESIGN.md §2, error classes). Split errors that
// reach it were already retried split by the fetcher, so they fail.
func Decide(err error, delivery uint64, p Policy) Decision {
	class := spx.ClassOf(err)
	switch class {
	case spx.ClassOK:
		return Decision{Action: Ack, Class: class}
	case spx.ClassEmpty:
		return Decision{Action: Ack, Class: class, Outcome: spx.JobEmpty}
	case spx.ClassTransient:
		return Decision{Action: Nak, Class: class, Delay: p.NakDelay(delivery)}
	default:
		return Decision{Action: Term, Class: class, Outcome: spx.JobFailed}
	}
}

// Apply settles msg according to d.
func (d Decision) Apply(msg jetstream.Msg, reason string) error {
	switch d.Action {
	case Ack:
		return msg.Ack()
	case Nak:
		return msg.NakWithDelay(d.Delay)
	default:
		if len(reason) > 200 {
			reason = reason[:200]
		}
		return msg.TermWithReason(reason)
	}
}

// RetryTransient runs fn, retrying it from scratch while it fails with a
// transient error, at most retries more times, with exponential back-off
// from base plus jitter. Any other error, or the last transient one, is
// returned as is.
func RetryTransient(ctx context.Context, retries uint64, base time.Duration, fn func(ctx context.Context) error) error {
	if base <= 0 {
		base = time.Second
	}
	return retryTransient(ctx, retry.WithMaxRetries(retries, retry.WithJitterPercent(20, retry.NewExponential(base))), fn)
}

// RetryTransientFor is RetryTransient bounded by time instead of a count:
// exponential back-off from base with jitter, each wait at most maxWait,
// until fn succeeds, fails other than transiently, or d has passed. It
// suits calls that must outlast a terminal's disconnect or start-up phase.
func RetryTransientFor(ctx context.Context, d, base, maxWait time.Duration, fn func(ctx context.Context) error) error {
	if base <= 0 {
		base = time.Second
	}
	b := retry.WithMaxDuration(d, retry.WithCappedDuration(maxWait, retry.WithJitterPercent(20, retry.NewExponential(base))))
	return retryTransient(ctx, b, fn)
}

func retryTransient(ctx context.Context, b retry.Backoff, fn func(ctx context.Context) error) error {
	var last error
	err := retry.Do(ctx, b, func(ctx context.Context) error {
		last = fn(ctx)
		if last != nil && spx.ClassOf(last) == spx.ClassTransient && ctx.Err() == nil {
			return retry.RetryableError(last)
		}
		return last
	})
	if err != nil && last != nil {
		return last // keep the class and message of the handler's error
	}
	return err
}
