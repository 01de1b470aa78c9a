package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Subjects of the worker heartbeats and of the stats request.
const (
	SubjectWorkerPrefix = "spx.worker."
	SubjectWorkers      = SubjectWorkerPrefix + ">"
	// SubjectStats answers a Stats request (the coordinator's collector).
	SubjectStats = "spx.stats"
)

// DefaultHeartbeatEvery is how often workers announce themselves; a worker
// unheard for three intervals counts as gone.
const DefaultHeartbeatEvery = 5 * time.Second

// Announcement is what a worker process publishes on spx.worker.<name>.
type Announcement struct {
	Name    string        `json:"name"`
	Host    string        `json:"host"`
	Role    string        `json:"role"`    // "fetch" or "write"
	Workers int           `json:"workers"` // worker goroutines of that role
	PID     int           `json:"pid"`
	Started time.Time     `json:"started"`
	Every   time.Duration `json:"every"` // heartbeat interval
}

// Heartbeat announces one worker process's roles until ctx ends.
type Heartbeat struct {
	nc    *nats.Conn
	every time.Duration
	log   *slog.Logger
	anns  []Announcement
}

// NewHeartbeat announces fetchers and writers (0: that role does not run
// here) every interval (0: DefaultHeartbeatEvery). host "" is os.Hostname.
func NewHeartbeat(nc *nats.Conn, host string, fetchers, writers int, every time.Duration, log *slog.Logger) *Heartbeat {
	if every <= 0 {
		every = DefaultHeartbeatEvery
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	h := &Heartbeat{nc: nc, every: every, log: log}
	now := time.Now().UTC()
	for _, r := range []struct {
		role string
		n    int
	}{{"fetch", fetchers}, {"write", writers}} {
		if r.n > 0 {
			h.anns = append(h.anns, Announcement{Name: WorkerName(host, r.role, os.Getpid()), Host: host, Role: r.role,
				Workers: r.n, PID: os.Getpid(), Started: now, Every: every})
		}
	}
	return h
}

// WorkerName is a worker process's name, usable as a subject token.
func WorkerName(host, role string, pid int) string {
	return subjectToken(host) + "-" + role + "-" + strconv.Itoa(pid)
}

func subjectToken(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// Run publishes at once, then every interval, until ctx ends. A failed
// publish is logged and retried at the next beat (NATS may be reconnecting).
func (h *Heartbeat) Run(ctx context.Context) error {
	if len(h.anns) == 0 {
		return nil
	}
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		for _, a := range h.anns {
			if err := h.publish(a); err != nil {
				h.log.Debug("worker heartbeat not sent", "worker", a.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (h *Heartbeat) publish(a Announcement) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding the heartbeat: %w", err)
	}
	return h.nc.Publish(SubjectWorkerPrefix+a.Name, b)
}
