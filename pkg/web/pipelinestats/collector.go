// Package pipelinestats gathers the live figures of the running pipeline for
// the web page: queue depth and connected workers from JetStream, and
// throughput, terminal latency and error rates from the job events on
// SPX_EVENTS. It implements web.Live.
//
// It only listens: it must not publish, acknowledge or consume anything, so
// it never takes an event away from the coordinator (it uses a plain
// subscription, not a JetStream consumer).
package pipelinestats

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/web"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

var _ web.Live = (*Collector)(nil)

// Config tunes a Collector; zero values take the defaults.
type Config struct {
	Window time.Duration // how far back rates and latency look, default 5m
	Step   time.Duration // width of one throughput point, default 10s
	Now    func() time.Time
	Logger *slog.Logger
}

// Collector keeps a sliding window of job events and answers Snapshot.
type Collector struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	written []written
	timed   []timed // terminal responses (staged or empty), with latency
	errs    []failure
}

type written struct {
	at          time.Time
	rows, bytes int64
}

type timed struct {
	at time.Time
	ms int64 // 0 when the event carried no latency
}

type failure struct {
	at    time.Time
	class spx.ErrorClass
}

// New returns a Collector for the pipeline behind nc and js. Call Run to
// start listening to events.
func New(nc *nats.Conn, js jetstream.JetStream, cfg Config) *Collector {
	if cfg.Window <= 0 {
		cfg.Window = 5 * time.Minute
	}
	if cfg.Step <= 0 {
		cfg.Step = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Collector{nc: nc, js: js, cfg: cfg, log: cfg.Logger}
}

// Run listens to the job events until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	stop, err := c.Listen()
	if err != nil {
		return err
	}
	<-ctx.Done()
	return stop()
}

// Listen subscribes to the job events and returns once the server has the
// subscription; call stop to end it. Run is Listen until ctx ends.
func (c *Collector) Listen() (stop func() error, err error) {
	sub, err := c.nc.Subscribe(queue.SubjectEvents, func(m *nats.Msg) {
		ev, _, err := queue.DecodeEvent(m.Data)
		if err != nil {
			c.log.Debug("skipping an unreadable event", "subject", m.Subject, "err", err)
			return
		}
		c.Observe(ev)
	})
	if err == nil {
		err = c.nc.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("listening to pipeline events on %s: %w", queue.SubjectEvents, err)
	}
	return func() error {
		if err := sub.Unsubscribe(); err != nil && c.nc.IsConnected() {
			return fmt.Errorf("stopping the event listener: %w", err)
		}
		return nil
	}, nil
}

// Observe records one job event (Run calls it for every event).
func (c *Collector) Observe(ev *spxv1.Event) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.GetKind() {
	case spxv1.EventKind_EVENT_KIND_WRITTEN:
		c.written = append(c.written, written{at: now, rows: ev.GetRows(), bytes: ev.GetBytes()})
	case spxv1.EventKind_EVENT_KIND_STAGED, spxv1.EventKind_EVENT_KIND_EMPTY:
		c.timed = append(c.timed, timed{at: now, ms: ev.GetLatencyMs()})
	}
	if cl := ev.GetErrorClass(); cl != "" && ev.GetStage() != "write" {
		// Errors the terminal caused; the writer's own failures are not
		// the terminal's health.
		c.errs = append(c.errs, failure{at: now, class: spx.ErrorClass(cl)})
	}
	c.pruneLocked(now)
}

func (c *Collector) pruneLocked(now time.Time) {
	cut := now.Add(-c.cfg.Window)
	c.written = dropBefore(c.written, cut, func(w written) time.Time { return w.at })
	c.timed = dropBefore(c.timed, cut, func(t timed) time.Time { return t.at })
	c.errs = dropBefore(c.errs, cut, func(f failure) time.Time { return f.at })
}

func dropBefore[T any](s []T, cut time.Time, at func(T) time.Time) []T {
	i := 0
	for i < len(s) && !at(s[i]).After(cut) {
		i++
	}
	return slices.Delete(s, 0, i)
}

// Snapshot reports queue depth and workers (asking JetStream, within 2
// seconds) and the rates of the last Window.
func (c *Collector) Snapshot(ctx context.Context) (web.LiveStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	depth, err := queue.Depth(ctx, c.js)
	if err != nil {
		return web.LiveStats{}, fmt.Errorf("reading queue depth: %w", err)
	}
	now := c.cfg.Now()
	st := web.LiveStats{Time: now}
	for _, d := range depth {
		st.Queues = append(st.Queues, web.QueueStats{Stage: d.Stage, Pending: int64(d.Pending), InFlight: int64(d.InFlight), Dead: int64(d.Dead)})
		// A worker asks for one message at a time: while idle it has a
		// pull request waiting, while busy one message unacknowledged.
		n := d.InFlight
		if cons, err := c.js.Consumer(ctx, d.Stream, d.Consumer); err == nil {
			if info, err := cons.Info(ctx); err == nil {
				n += info.NumWaiting
			}
		}
		st.Workers = append(st.Workers, web.WorkerCount{Role: d.Stage, Connected: n})
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	st.Throughput = c.throughputLocked(now)
	st.Terminal = c.terminalLocked()
	return st, nil
}

func (c *Collector) throughputLocked(now time.Time) []web.RatePoint {
	n := int(c.cfg.Window / c.cfg.Step)
	start := now.Add(-time.Duration(n) * c.cfg.Step)
	pts := make([]web.RatePoint, n)
	for i := range pts {
		pts[i].Time = start.Add(time.Duration(i+1) * c.cfg.Step)
	}
	secs := c.cfg.Step.Seconds()
	for _, w := range c.written {
		i := int(w.at.Sub(start) / c.cfg.Step)
		if w.at.Equal(now) {
			i = n - 1
		}
		if i < 0 || i >= n {
			continue
		}
		pts[i].RowsPerSec += float64(w.rows) / secs
		pts[i].BytesPerSec += float64(w.bytes) / secs
		pts[i].JobsCompleted++
	}
	return pts
}

func (c *Collector) terminalLocked() web.TerminalHealth {
	h := web.TerminalHealth{Window: web.Duration(c.cfg.Window), Requests: int64(len(c.timed)), ErrorsPerMin: map[spx.ErrorClass]float64{}}
	var ms []float64
	var sum float64
	for _, t := range c.timed {
		if t.ms > 0 {
			ms = append(ms, float64(t.ms))
			sum += float64(t.ms)
		}
	}
	if len(ms) > 0 {
		slices.Sort(ms)
		h.LatencyMs = web.Latency{P50: percentile(ms, 0.50), P95: percentile(ms, 0.95), Mean: sum / float64(len(ms)), Max: ms[len(ms)-1]}
	}
	mins := c.cfg.Window.Minutes()
	for _, f := range c.errs {
		h.ErrorsPerMin[f.class] += 1 / mins
	}
	return h
}

// percentile returns the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
