package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// Worker is one worker process as the coordinator sees it.
type Worker struct {
	Name      string    `json:"name"`
	Host      string    `json:"host"`
	Role      string    `json:"role"` // fetch or write
	Workers   int       `json:"workers,omitempty"`
	JobsDone  int64     `json:"jobs_done"` // since the coordinator started
	Failed    int64     `json:"failed"`
	LastSeen  time.Time `json:"last_seen"`
	Connected bool      `json:"connected"` // heard from within three heartbeats
}

// Throughput is what was written over Window.
type Throughput struct {
	Window      string  `json:"window"`
	RowsPerSec  float64 `json:"rows_per_sec"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	JobsPerMin  float64 `json:"jobs_per_min"`
}

// Stats is the collector's answer on SubjectStats.
type Stats struct {
	Time       time.Time  `json:"time"`
	Workers    []Worker   `json:"workers"`
	Throughput Throughput `json:"throughput"`
}

// Collector counts job events and tracks workers. The zero value is not
// usable: call NewCollector.
type Collector struct {
	now    func() time.Time
	window time.Duration
	log    *slog.Logger

	mu        sync.Mutex
	jobs      map[string]int64 // by event kind
	errs      map[[2]string]int64
	rows      int64
	bytes     int64
	latency   histogram
	workers   map[workerKey]*Worker
	recent    []written
	lastSeen  time.Time
	terminal  func() *spx.TerminalStatus
	natsStore func() *spx.NATSStore
}

// WatchTerminal makes /metrics report the Theta Terminal's state from fn
// (the pipeline's terminal watcher).
func (c *Collector) WatchTerminal(fn func() *spx.TerminalStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.terminal = fn
}

// WatchNATSStore makes /metrics report whether the NATS store has room
// from fn (the pipeline's store watch).
func (c *Collector) WatchNATSStore(fn func() *spx.NATSStore) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.natsStore = fn
}

type written struct {
	at          time.Time
	rows, bytes int64
}

// NewCollector returns a collector; now nil is time.Now.
func NewCollector(log *slog.Logger, now func() time.Time) *Collector {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{now: now, window: time.Minute, log: log, jobs: map[string]int64{}, errs: map[[2]string]int64{},
		latency: newHistogram(latencyBuckets), workers: map[workerKey]*Worker{}}
}

// Listen subscribes to events, heartbeats and stats requests on nc; the
// returned stop unsubscribes.
func (c *Collector) Listen(nc *nats.Conn) (stop func(), err error) {
	var subs []*nats.Subscription
	stop = func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	add := func(subj string, h nats.MsgHandler) {
		if err != nil {
			return
		}
		var s *nats.Subscription
		if s, err = nc.Subscribe(subj, h); err == nil {
			subs = append(subs, s)
		}
	}
	add(queue.SubjectEvents, func(m *nats.Msg) {
		ev, _, derr := queue.DecodeEvent(m.Data)
		if derr != nil {
			c.log.Debug("skipping an unreadable event", "subject", m.Subject, "err", derr)
			return
		}
		c.Observe(ev)
	})
	add(SubjectWorkers, func(m *nats.Msg) {
		var a Announcement
		if jerr := json.Unmarshal(m.Data, &a); jerr != nil {
			c.log.Debug("skipping an unreadable heartbeat", "subject", m.Subject, "err", jerr)
			return
		}
		c.Heard(a)
	})
	add(SubjectStats, func(m *nats.Msg) {
		b, _ := json.Marshal(c.Stats())
		_ = m.Respond(b)
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("listening to pipeline events and heartbeats: %w", err)
	}
	return stop, nil
}

// Run is Listen until ctx ends.
func (c *Collector) Run(ctx context.Context, nc *nats.Conn) error {
	stop, err := c.Listen(nc)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// Observe counts one job event.
func (c *Collector) Observe(ev *spxv1.Event) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	kind := kindName(ev.GetKind())
	c.jobs[kind]++
	switch ev.GetKind() {
	case spxv1.EventKind_EVENT_KIND_WRITTEN:
		c.rows += ev.GetRows()
		c.bytes += ev.GetBytes()
		c.recent = append(c.recent, written{at: now, rows: ev.GetRows(), bytes: ev.GetBytes()})
	case spxv1.EventKind_EVENT_KIND_STAGED, spxv1.EventKind_EVENT_KIND_EMPTY:
		if ms := ev.GetLatencyMs(); ms > 0 {
			c.latency.observe(float64(ms) / 1000)
		}
	}
	if cl := ev.GetErrorClass(); cl != "" {
		c.errs[[2]string{cl, ev.GetStage()}]++
	}
	if ev.GetHost() != "" && ev.GetStage() != "" {
		w := c.workerLocked(ev.GetHost(), ev.GetStage(), int(ev.GetPid()), "")
		w.LastSeen = now
		switch ev.GetKind() {
		case spxv1.EventKind_EVENT_KIND_STAGED, spxv1.EventKind_EVENT_KIND_EMPTY, spxv1.EventKind_EVENT_KIND_WRITTEN:
			w.JobsDone++
		case spxv1.EventKind_EVENT_KIND_FAILED:
			w.Failed++
		}
	}
	c.pruneLocked(now)
}

// Heard records a worker's heartbeat.
func (c *Collector) Heard(a Announcement) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.workerLocked(a.Host, a.Role, a.PID, a.Name)
	w.Workers, w.LastSeen = a.Workers, now
}

// workerKey is one worker process: two processes of one role on one host
// are two workers. pid 0 is an older worker's events, which carry none.
type workerKey struct {
	host, role string
	pid        int
}

func (c *Collector) workerLocked(host, role string, pid int, name string) *Worker {
	k := workerKey{host, role, pid}
	w := c.workers[k]
	if w == nil {
		w = &Worker{Host: host, Role: role, Name: subjectToken(host) + "-" + role}
		if pid > 0 {
			w.Name = WorkerName(host, role, pid)
		}
		c.workers[k] = w
	}
	if name != "" {
		w.Name = name
	}
	return w
}

func (c *Collector) pruneLocked(now time.Time) {
	i := 0
	for i < len(c.recent) && now.Sub(c.recent[i].at) > c.window {
		i++
	}
	c.recent = slices.Delete(c.recent, 0, i)
}

// Workers lists the worker processes heard from in the last 10 minutes, by
// role, host and name (one per process: host, role and pid); Connected says
// whether one was heard within three heartbeats.
func (c *Collector) Workers() []Worker {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Worker
	for k, w := range c.workers {
		age := now.Sub(w.LastSeen)
		if age > 10*time.Minute {
			delete(c.workers, k)
			continue
		}
		cp := *w
		cp.Connected = age <= 3*DefaultHeartbeatEvery
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b Worker) int {
		if a.Role != b.Role {
			return cmpString(a.Role, b.Role)
		}
		return cmpString(a.Host+a.Name, b.Host+b.Name)
	})
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Stats returns the workers and the throughput of the last minute.
func (c *Collector) Stats() Stats {
	ws := c.Workers()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	t := Throughput{Window: c.window.String()}
	for _, w := range c.recent {
		t.RowsPerSec += float64(w.rows)
		t.BytesPerSec += float64(w.bytes)
		t.JobsPerMin++
	}
	secs := c.window.Seconds()
	t.RowsPerSec /= secs
	t.BytesPerSec /= secs
	t.JobsPerMin /= c.window.Minutes()
	if ws == nil {
		ws = []Worker{}
	}
	return Stats{Time: now.UTC(), Workers: ws, Throughput: t}
}

// ErrNoCollector means nothing answered a stats request: no coordinator
// (with this version of spx) runs on that NATS server.
var ErrNoCollector = errors.New("no coordinator answered the stats request")

// RequestStats asks the coordinator's collector for workers and throughput.
func RequestStats(ctx context.Context, nc *nats.Conn) (Stats, error) {
	m, err := nc.RequestWithContext(ctx, SubjectStats, nil)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return Stats{}, ErrNoCollector
		}
		return Stats{}, fmt.Errorf("asking for worker stats: %w", err)
	}
	var s Stats
	if err := json.Unmarshal(m.Data, &s); err != nil {
		return Stats{}, fmt.Errorf("reading worker stats: %w", err)
	}
	return s, nil
}

func kindName(k spxv1.EventKind) string {
	switch k {
	case spxv1.EventKind_EVENT_KIND_QUEUED:
		return "queued"
	case spxv1.EventKind_EVENT_KIND_FETCHING:
		return "fetching"
	case spxv1.EventKind_EVENT_KIND_STAGED:
		return "staged"
	case spxv1.EventKind_EVENT_KIND_WRITTEN:
		return "written"
	case spxv1.EventKind_EVENT_KIND_EMPTY:
		return "empty"
	case spxv1.EventKind_EVENT_KIND_FAILED:
		return "failed"
	case spxv1.EventKind_EVENT_KIND_DEAD:
		return "dead"
	case spxv1.EventKind_EVENT_KIND_REFETCH:
		return "refetch"
	}
	return "unspecified"
}
