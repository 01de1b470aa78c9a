package coordinator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

// Clock is the time the follower schedules by. The real one is
// SystemClock; tests give one they move by hand.
type Clock interface {
	Now() time.Time
	// After fires once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// FollowConfig turns on following the calendar: each session is enqueued
// once its data is final (Delay after its close), and the archive's days are
// re-checked every Recheck for failures worth another try.
type FollowConfig struct {
	Enabled bool
	// From is the first session to follow when the store holds no
	// position yet (zero: the session after the last final one).
	From spx.Date
	// Delay after a session's close (16:00, or 13:00 on an early close,
	// New York) before its data counts as final (follow.delay, 2h by
	// default: past the 16:15 close of SPX's PM-settled options and the
	// terminal's end-of-day processing). Zero is no delay.
	Delay time.Duration
	// Recheck is how often failed days are looked at again (default 1h).
	Recheck time.Duration
	// MaxAutoRetries bounds how often one day is retried by the recheck
	// (counting manual retries); after that it waits for spx retry
	// (default 5).
	MaxAutoRetries int
	// Clock; nil is SystemClock.
	Clock Clock
}

// followStateKey is where the next session to follow is kept in the status
// store's configuration bucket (not a configuration key: spx config ignores
// names it does not know).
const followStateKey = "_state.follow.next_session"

// maxFollowWait caps one sleep of the follower, so that a clock that jumps
// (a laptop waking up) is noticed within a minute.
const maxFollowWait = time.Minute

type follower struct {
	s   *Service
	cfg FollowConfig

	mu     sync.Mutex
	status spx.FollowStatus
}

func newFollower(s *Service, cfg FollowConfig) *follower {
	cfg.Delay = max(cfg.Delay, 0)
	if cfg.Recheck <= 0 {
		cfg.Recheck = time.Hour
	}
	if cfg.MaxAutoRetries <= 0 {
		cfg.MaxAutoRetries = 5
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	return &follower{s: s, cfg: cfg, status: spx.FollowStatus{Enabled: true}}
}

// finalAt is when session d's data counts as final (calendar's rule).
func (f *follower) finalAt(d spx.Date) time.Time {
	ss, ok := calendar.SessionOf(d)
	if !ok {
		return time.Time{}
	}
	return ss.FinalAt(f.cfg.Delay)
}

// lastFinal is the latest session whose data is final at now.
func (f *follower) lastFinal(now time.Time) spx.Date {
	return calendar.LastFinalSession(now, f.cfg.Delay)
}

// next returns the next session to enqueue: the stored one, or on the
// first start From, else the session after the last final one (history is
// queued with spx process-gaps; following starts from the next day).
func (f *follower) next(ctx context.Context) (spx.Date, error) {
	v, ok, err := f.s.store.Config(ctx, followStateKey)
	if err != nil {
		return 0, fmt.Errorf("reading the follow position: %w", err)
	}
	if ok {
		if d, err := spx.ParseDate(v); err == nil {
			return d, nil
		}
		f.s.log.Warn("the stored follow position is not a date; starting from the next session", "value", v)
	}
	d := calendar.NextSession(f.lastFinal(f.cfg.Clock.Now()))
	if !f.cfg.From.IsZero() {
		d = f.cfg.From
		if !calendar.IsSession(d) {
			d = calendar.NextSession(d)
		}
	}
	if err := f.s.store.SetConfig(ctx, followStateKey, d.String()); err != nil {
		return 0, fmt.Errorf("storing the follow position: %w", err)
	}
	return d, nil
}

// Step enqueues every session that became final by now, in order, and
// runs the recheck when it is due. It returns the dates it queued.
func (f *follower) Step(ctx context.Context) ([]spx.Date, error) {
	now := f.cfg.Clock.Now()
	d, err := f.next(ctx)
	if err != nil {
		return nil, err
	}
	var queued []spx.Date
	waiting := ""
	for !now.Before(f.finalAt(d)) {
		res, err := f.s.Enqueue(ctx, []spx.Date{d})
		if err != nil {
			return queued, err
		}
		if len(res.NotListed) > 0 {
			// The terminal could not list it (down, starting): the same
			// session is tried again at the next step.
			waiting = res.NotListed[0]
			break
		}
		if len(res.Waiting) > 0 {
			f.s.log.Info("following the calendar: day recorded; its planning waits for the terminal", "date", d, "terminal", res.Terminal.State)
		} else {
			f.s.log.Info("following the calendar: day queued", "date", d, "jobs", res.Jobs, "no_data", len(res.NoData) > 0)
		}
		queued = append(queued, d)
		f.mu.Lock()
		f.status.LastEnqueued, f.status.LastEnqueuedAt = d, now
		f.mu.Unlock()
		d = calendar.NextSession(d)
		if err := f.s.store.SetConfig(ctx, followStateKey, d.String()); err != nil {
			return queued, fmt.Errorf("storing the follow position: %w", err)
		}
	}
	f.mu.Lock()
	f.status.NextDate, f.status.NextAt, f.status.Waiting = d, f.finalAt(d), waiting
	due := f.status.NextRecheck.IsZero() || !now.Before(f.status.NextRecheck)
	f.mu.Unlock()
	if due {
		n, err := f.recheck(ctx, now)
		f.mu.Lock()
		f.status.LastRecheck, f.status.NextRecheck = now, now.Add(f.cfg.Recheck)
		f.status.Retried += n
		f.mu.Unlock()
		if err != nil {
			return queued, err
		}
	}
	return queued, nil
}

// recheck queues again the failed jobs of failed and partial days that a
// later try may fix: failed for a transient reason, or dead after their
// deliveries ran out; a failed day with no jobs (its listing failed) is
// planned again. Jobs that failed for good (bad data, a request the
// terminal refuses) wait for spx retry, as do days retried
// MaxAutoRetries times. It returns the days queued again.
func (f *follower) recheck(ctx context.Context, now time.Time) (int, error) {
	from := f.s.planning().StartDate
	days, err := f.s.store.Days(ctx, from, f.lastFinal(now))
	if err != nil {
		return 0, fmt.Errorf("reading day records: %w", err)
	}
	n := 0
	for _, day := range days {
		if day.Status != spx.DayFailed && day.Status != spx.DayPartial {
			continue
		}
		if day.RetryCount >= f.cfg.MaxAutoRetries {
			continue
		}
		jobs, err := f.s.store.JobsForDate(ctx, day.Date)
		if err != nil {
			return n, fmt.Errorf("reading jobs of %s: %w", day.Date, err)
		}
		if len(jobs) == 0 {
			// Its listing failed (the terminal down, starting): plan it
			// again; if it still cannot be listed it stays failed.
			res, err := f.s.Enqueue(ctx, []spx.Date{day.Date})
			if err != nil {
				return n, err
			}
			if len(res.NotListed) == 0 {
				f.s.log.Info("recheck: a day that could not be listed is planned", "date", day.Date, "jobs", res.Jobs)
				n++
			}
			continue
		}
		var keys []spx.JobKey
		for _, j := range jobs {
			if retryable(j) {
				keys = append(keys, j.Key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		if err := f.s.retryDay(ctx, day.Date, keys); err != nil {
			return n, err
		}
		f.s.log.Info("recheck: failed jobs queued again", "date", day.Date, "jobs", len(keys), "retry", day.RetryCount+1)
		n++
	}
	return n, nil
}

// retryable reports whether another try may fix a failed or dead job.
func retryable(j spx.JobRecord) bool {
	switch j.Outcome {
	case spx.JobFailed:
		return j.ErrorClass == spx.ClassTransient
	case spx.JobDead:
		return j.ErrorClass != spx.ClassPermanent && j.ErrorClass != spx.ClassSplit
	}
	return false
}

// run steps until ctx ends, sleeping until the next session is final or
// the next recheck is due (at most maxFollowWait at a time).
func (f *follower) run(ctx context.Context) error {
	f.s.log.Info("following the calendar", "delay_after_close", f.cfg.Delay, "recheck_every", f.cfg.Recheck)
	for ctx.Err() == nil {
		if _, err := f.Step(ctx); err != nil && ctx.Err() == nil {
			f.s.log.Error("following the calendar failed; trying again in a minute", "err", err)
		}
		wait := maxFollowWait
		st := f.Status()
		now := f.cfg.Clock.Now()
		due := []time.Time{st.NextRecheck}
		if st.Waiting == "" { // else try the overdue day again in a minute
			due = append(due, st.NextAt)
		}
		for _, t := range due {
			if !t.IsZero() {
				wait = min(wait, max(t.Sub(now), 0))
			}
		}
		select {
		case <-ctx.Done():
		case <-f.cfg.Clock.After(wait):
		}
	}
	return nil
}

// Status returns what the follower does next.
func (f *follower) Status() spx.FollowStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// FollowStatus says when the next session is enqueued by itself; nil when
// this coordinator does not follow the calendar.
func (s *Service) FollowStatus() *spx.FollowStatus {
	if s.follow == nil {
		return nil
	}
	st := s.follow.Status()
	return &st
}
