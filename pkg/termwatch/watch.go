// Package termwatch keeps track of whether the Theta Terminal answers and
// holds planning and fetching while it does not. A Watcher polls the
// terminal's mdds status every few seconds (probing its API generation
// again each time it comes back, so a v2 terminal replaced by a v3 one is
// picked up without a restart) and is itself an spx.Source: a call made
// while the terminal is down waits until it is up, and a call that fails
// because the terminal went away is made again once it is back, so nothing
// is counted against a job for the terminal being down.
//
// It must not retry a request the terminal answered while up (the fetcher's
// policy decides those), must not hold a request's rows, and knows nothing
// of NATS or job bookkeeping.
package termwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/thetadata"
)

// Config configures a Watcher. Zero values take the defaults noted.
type Config struct {
	// Dial finds the terminal and returns a client for it (thetadata.New
	// with the configured URL and API). It is called again after every
	// loss, so the generation is probed anew.
	Dial func(ctx context.Context) (*thetadata.Client, error)
	// Every is the time between checks, default 3s.
	Every  time.Duration
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	// Lost, when set, is told of each outage once, as it begins: when the
	// terminal stops being up, or is found down or disconnected before it
	// was ever up (a terminal still starting is not an outage until it
	// fails). The pipeline records it in the error log, so an outage shows
	// under recent errors although no job fails for it. It is called
	// outside the watcher's lock, from the check that saw the change.
	Lost func(ctx context.Context, st spx.TerminalStatus)
}

// Watcher tracks the terminal's state and gates calls on it. It is safe
// for concurrent use.
type Watcher struct {
	cfg Config
	log *slog.Logger

	probeMu sync.Mutex // one check at a time

	mu      sync.Mutex
	st      spx.TerminalStatus
	c       *thetadata.Client // nil until found, and after a loss
	changed chan struct{}     // closed and replaced at every change of state or client
	lost    bool              // the current outage was reported to Config.Lost
}

var _ spx.Source = (*Watcher)(nil)

// New returns a watcher in state unknown; Run checks the terminal.
func New(cfg Config) *Watcher {
	if cfg.Every <= 0 {
		cfg.Every = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Watcher{cfg: cfg, log: cfg.Logger.With("component", "terminal"), changed: make(chan struct{}),
		st: spx.TerminalStatus{State: spx.TerminalUnknown, Since: cfg.Now()}}
}

// Run checks the terminal every Config.Every until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Every)
	defer t.Stop()
	for {
		w.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Status returns what the watcher last learned.
func (w *Watcher) Status() spx.TerminalStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

// Wait blocks until the terminal is up and returns its client.
func (w *Watcher) Wait(ctx context.Context) (*thetadata.Client, error) {
	for {
		w.mu.Lock()
		c, up, ch := w.c, w.st.State == spx.TerminalUp, w.changed
		w.mu.Unlock()
		if up && c != nil {
			return c, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the Theta Terminal: %w", context.Cause(ctx))
		}
	}
}

// Check asks the terminal for its status now and returns the new state.
func (w *Watcher) Check(ctx context.Context) spx.TerminalStatus {
	w.probeMu.Lock()
	defer w.probeMu.Unlock()
	w.mu.Lock()
	c := w.c
	w.mu.Unlock()
	if ctx.Err() != nil {
		return w.Status()
	}
	if c != nil {
		word, err := c.Health(ctx)
		if ctx.Err() != nil {
			return w.Status()
		}
		if err == nil {
			return w.set(ctx, c, word, nil)
		}
		// Gone, or another generation answers there now: find it again.
		w.log.Debug("terminal status check failed; probing again", "err", err)
	}
	c, err := w.cfg.Dial(ctx)
	if ctx.Err() != nil {
		return w.Status()
	}
	if err != nil {
		return w.set(ctx, nil, "", err)
	}
	word, err := c.Health(ctx)
	if ctx.Err() != nil {
		return w.Status()
	}
	if err != nil {
		return w.set(ctx, nil, "", err)
	}
	return w.set(ctx, c, word, nil)
}

// set records the outcome of a check and tells Config.Lost of a new outage.
func (w *Watcher) set(ctx context.Context, c *thetadata.Client, word string, err error) spx.TerminalStatus {
	st, lost := w.record(c, word, err)
	if lost && w.cfg.Lost != nil {
		w.cfg.Lost(ctx, st)
	}
	return st
}

// record stores the outcome of a check; lost reports a new outage.
func (w *Watcher) record(c *thetadata.Client, word string, err error) (_ spx.TerminalStatus, lost bool) {
	now := w.cfg.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.st
	st := prev
	st.Checked, st.Mdds = now, word
	switch {
	case err != nil:
		st.State, st.LastError = spx.TerminalDown, err.Error()
		var te *thetadata.Error
		if errors.As(err, &te) && te.Code == 571 {
			st.State = spx.TerminalStarting // answers, still starting
		}
	case word == "CONNECTED":
		st.State = spx.TerminalUp
	case word == "UNVERIFIED":
		st.State, st.LastError = spx.TerminalStarting, "mdds status UNVERIFIED: the terminal is still logging in"
	default:
		st.State, st.LastError = spx.TerminalDisconnected, "mdds status "+word+": the terminal lost its connection to ThetaData"
	}
	if c != nil {
		st.API, st.URL = c.Generation(), c.BaseURL()
	}
	if st.State != prev.State {
		st.Since = now
		w.logChange(prev, st)
	}
	if st.State != prev.State || c != w.c {
		close(w.changed)
		w.changed = make(chan struct{})
	}
	switch {
	case st.State == spx.TerminalUp:
		w.lost = false
	case !w.lost && (prev.State == spx.TerminalUp || st.State != spx.TerminalStarting):
		w.lost, lost = true, true
	}
	w.st, w.c = st, c
	return st, lost
}

func (w *Watcher) logChange(prev, st spx.TerminalStatus) {
	switch {
	case st.State == spx.TerminalUp:
		w.log.Info("theta terminal up; planning and fetching run", "api", st.API, "url", st.URL, "was", prev.State)
	case prev.State == spx.TerminalUnknown || prev.State == spx.TerminalUp:
		w.log.Warn("theta terminal not up; planning and fetching wait for it", "state", st.State, "err", st.LastError)
	default:
		w.log.Info("theta terminal still not up", "state", st.State, "err", st.LastError)
	}
}

// call runs fn on the terminal's client once it is up. When fn fails in a
// way the terminal's absence explains (it cannot be reached, or answers
// 474/571, or 404 because another generation now listens) and a check finds
// the terminal not up, or up behind another client, fn runs again once it
// is; otherwise fn's error is returned as it is.
func (w *Watcher) call(ctx context.Context, fn func(c *thetadata.Client) error) error {
	for {
		c, err := w.Wait(ctx)
		if err != nil {
			return spx.Transient(err)
		}
		err = fn(c)
		if err == nil || ctx.Err() != nil || !absence(err) {
			return err
		}
		w.Check(ctx)
		w.mu.Lock()
		same := w.c == c && w.st.State == spx.TerminalUp
		w.mu.Unlock()
		if same {
			return err // the terminal is fine: the caller's policy decides
		}
		w.log.Info("a terminal request failed while the terminal went away; it runs again once the terminal is back", "err", err)
	}
}

// absence reports whether err may mean the terminal is not (or no longer)
// the one the client was made for.
func absence(err error) bool {
	var te *thetadata.Error
	if errors.As(err, &te) {
		return te.Code == 474 || te.Code == 571 || te.Code == 404
	}
	return spx.ClassOf(err) == spx.ClassTransient
}

// Expirations implements spx.Source.
func (w *Watcher) Expirations(ctx context.Context, root string) (out []spx.Date, err error) {
	err = w.call(ctx, func(c *thetadata.Client) error { out, err = c.Expirations(ctx, root); return err })
	return out, err
}

// Contracts implements spx.Source.
func (w *Watcher) Contracts(ctx context.Context, date spx.Date, roots []string) (out []spx.Contract, err error) {
	err = w.call(ctx, func(c *thetadata.Client) error { out, err = c.Contracts(ctx, date, roots); return err })
	return out, err
}

// ExpirationDates implements spx.Source.
func (w *Watcher) ExpirationDates(ctx context.Context, root string, exp spx.Date) (out []spx.Date, err error) {
	err = w.call(ctx, func(c *thetadata.Client) error { out, err = c.ExpirationDates(ctx, root, exp); return err })
	return out, err
}

// History implements spx.Source. Only opening the stream is gated: a body
// cut when the terminal dies mid-stream ends the stream with its error, and
// the fetcher's retry then waits here for the terminal.
func (w *Watcher) History(ctx context.Context, req spx.HistoryRequest) (rs spx.RowStream, err error) {
	err = w.call(ctx, func(c *thetadata.Client) error { rs, err = c.History(ctx, req); return err })
	return rs, err
}
