package web

import (
	"context"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Live reports the running pipeline. A nil Live makes the page say
// "pipeline not running".
type Live interface {
	Snapshot(ctx context.Context) (LiveStats, error)
}

// LiveFunc adapts a function to Live.
type LiveFunc func(ctx context.Context) (LiveStats, error)

// Snapshot calls f.
func (f LiveFunc) Snapshot(ctx context.Context) (LiveStats, error) { return f(ctx) }

// Retrier queues a day's failed and dead jobs again (what `spx retry DATE`
// does) and returns how many jobs it queued.
type Retrier interface {
	RetryDate(ctx context.Context, date spx.Date) (int, error)
}

// RetryFunc adapts a function to Retrier.
type RetryFunc func(ctx context.Context, date spx.Date) (int, error)

// RetryDate calls f.
func (f RetryFunc) RetryDate(ctx context.Context, date spx.Date) (int, error) { return f(ctx, date) }

// LiveStats is one snapshot of the running pipeline.
type LiveStats struct {
	Time    time.Time     `json:"time"`
	Queues  []QueueStats  `json:"queues"`  // per stage: pending, in flight, dead
	Workers []WorkerCount `json:"workers"` // per role
	// Throughput is rows and bytes written per second, one point per
	// interval, oldest first, over the last minutes.
	Throughput []RatePoint    `json:"throughput"`
	Terminal   TerminalHealth `json:"terminal"`
}

// WorkerCount is how many workers of one role are connected.
type WorkerCount struct {
	Role      string `json:"role"` // "fetch" or "write"
	Connected int    `json:"connected"`
}

// RatePoint is the throughput of one interval ending at Time.
type RatePoint struct {
	Time          time.Time `json:"time"`
	RowsPerSec    float64   `json:"rows_per_sec"`
	BytesPerSec   float64   `json:"bytes_per_sec"`
	JobsCompleted int64     `json:"jobs_completed"`
}

// TerminalHealth is the Theta Terminal as the fetchers saw it over Window.
type TerminalHealth struct {
	Window    Duration `json:"window"`
	Requests  int64    `json:"requests"` // responses timed (staged or empty jobs)
	LatencyMs Latency  `json:"latency_ms"`
	// ErrorsPerMin is failed jobs per minute by error class.
	ErrorsPerMin map[spx.ErrorClass]float64 `json:"errors_per_min"`
}

// Latency summarises the time to the terminal's first response header.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// Duration marshals as a Go duration string ("5m0s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}
