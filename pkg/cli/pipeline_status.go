package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/metrics"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

// statusOutput is `spx status`: the stored figures, plus the live ones
// of a reachable cluster (omitted when none is).
type statusOutput struct {
	statusReport
	NATS       string              `json:"nats,omitempty"` // the server the live figures came from
	Workers    []metrics.Worker    `json:"workers,omitempty"`
	Throughput *metrics.Throughput `json:"throughput,omitempty"`
	// LiveError says why no live figures are shown ("" when they are, or
	// when no NATS server answered at all).
	LiveError string `json:"live_error,omitempty"`
}

// collectStatus reads the status database (through the coordinator when
// it holds the file) and, when a NATS server answers, the queues, workers
// and throughput.
func collectStatus(ctx context.Context, o *Options, errorsN int) (statusOutput, error) {
	var out statusOutput
	rs, err := openStateForRead(ctx, o)
	if err != nil {
		return out, err
	}
	defer rs.close()
	if out.statusReport, err = buildStatusReport(ctx, rs.st, rs.database, errorsN); err != nil {
		return out, err
	}
	cfg, err := resolveConfigShared(ctx, o)
	if err != nil {
		return out, err
	}
	url := natsURL(cfg)
	nc, err := pipeline.ConnectAuth(url, pipeline.NATSAuth(cfg), "spx-status", nats.Timeout(time.Second), nats.MaxReconnects(0))
	if err != nil {
		return out, nil // no cluster running: the stored figures are all there is
	}
	defer nc.Close()
	out.NATS = url
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// The coordinator's own view: when it enqueues the next day, and the
	// terminal as it sees it.
	if rep, err := coordinator.NewClient(nc).Status(lctx); err == nil {
		out.statusReport.Follow = rep.Follow
		out.Terminal = rep.Terminal
		out.NATSStore = rep.NATSStore
	}
	js, err := jetstream.New(nc)
	if err == nil {
		var depth []queue.StageDepth
		if depth, err = queue.Depth(lctx, js); err == nil {
			for _, d := range depth {
				out.Queues = append(out.Queues, queueStats{Stage: d.Stage, Pending: int64(d.Pending), InFlight: int64(d.InFlight), Dead: int64(d.Dead)})
			}
		}
	}
	if err != nil {
		out.LiveError = err.Error()
		return out, nil
	}
	stats, err := metrics.RequestStats(lctx, nc)
	if err != nil {
		out.LiveError = err.Error()
		return out, nil
	}
	out.Workers, out.Throughput = stats.Workers, &stats.Throughput
	return out, nil
}

// renderLive adds the live lines to the status table.
func renderLive(tw *tabwriter.Writer, s statusOutput) error {
	if s.NATS == "" {
		fmt.Fprintf(tw, "live\tno NATS server reachable (start spx run, or set nats.url)\n")
		return nil
	}
	renderFollow(tw, s.statusReport.Follow, time.Now())
	if s.LiveError != "" {
		fmt.Fprintf(tw, "live\t%s: %s\n", s.NATS, s.LiveError)
		return nil
	}
	if t := s.Throughput; t != nil {
		fmt.Fprintf(tw, "throughput\t%s rows/s, %s/s, %.1f jobs/min (last %s)\n", groupDigits(int64(t.RowsPerSec)), humanBytes(int64(t.BytesPerSec)), t.JobsPerMin, t.Window)
	}
	if len(s.Workers) == 0 {
		fmt.Fprintf(tw, "workers\tnone heard from\n")
		return nil
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(tw, "workers:")
	fmt.Fprintln(tw, "  NAME\tHOST\tROLE\tJOBS DONE\tFAILED\tLAST SEEN\tSTATE")
	for _, w := range s.Workers {
		state := "connected"
		if !w.Connected {
			state = "gone quiet"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\t%s\n", w.Name, w.Host, w.Role, w.JobsDone, w.Failed, shortTime(w.LastSeen), state)
	}
	return nil
}

// watchStatus shows the status every interval until ctx ends. On a
// terminal the table replaces the previous one; JSON prints one object per
// refresh. An error after the first refresh is shown on stderr and the
// watch goes on.
func watchStatus(ctx context.Context, o *Options, out io.Writer, format string, errorsN int, every time.Duration) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	if errorsN < 0 {
		return Usagef("--errors %d: give 0 or more", errorsN)
	}
	clear := format != formatJSON && isTerminal(out)
	t := time.NewTicker(every)
	defer t.Stop()
	for first := true; ; first = false {
		rep, err := collectStatus(ctx, o, errorsN)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil // interrupted mid-refresh
		case err != nil && first:
			return err
		case err != nil:
			// On stderr, so --format json output stays one object per line.
			fmt.Fprintf(o.Stderr, "spx: %v (retrying every %s)\n", err, every)
		default:
			if clear {
				fmt.Fprint(out, "\033[H\033[2J")
			}
			if format != formatJSON {
				fmt.Fprintf(out, "spx status at %s, every %s (Ctrl-C stops)\n", time.Now().Format("15:04:05"), every)
			}
			if err := renderStatusOutput(out, format, rep); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// coordinatorState reads the status records through the control API while
// the coordinator holds the database.
type coordinatorState struct{ c *coordinator.Client }

func (s coordinatorState) Days(ctx context.Context, from, to spx.Date) ([]spx.DayRecord, error) {
	return s.c.Days(ctx, from, to)
}

func (s coordinatorState) Jobs(ctx context.Context, f spx.JobFilter) ([]spx.JobRecord, error) {
	return s.c.Jobs(ctx, f)
}

// Errors returns the latest errors the control API's status carries (at
// most 10).
func (s coordinatorState) Errors(ctx context.Context, limit int) ([]spx.ErrorEntry, error) {
	r, err := s.c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(r.Errors) > limit {
		r.Errors = r.Errors[:limit]
	}
	return r.Errors, nil
}

// AllConfig returns the values stored in the coordinator's database.
func (s coordinatorState) AllConfig(ctx context.Context) (map[string]string, error) {
	return s.c.ConfigGet(ctx)
}

// renderFollow says when the coordinator enqueues the next day by itself.
func renderFollow(tw *tabwriter.Writer, f *spx.FollowStatus, now time.Time) {
	if f == nil {
		fmt.Fprintf(tw, "follow\toff, or no coordinator answered (days are enqueued only when asked: spx process-gaps)\n")
		return
	}
	line := "next day " + f.NextDate.String()
	if !f.NextAt.IsZero() {
		at := f.NextAt.In(spx.NewYork)
		line += " at " + at.Format("2006-01-02 15:04 MST")
		if d := f.NextAt.Sub(now); d > 0 {
			line += " (in " + d.Round(time.Minute).String() + ")"
		}
	}
	if f.Waiting != "" {
		line += "; overdue, waiting for the terminal: " + truncate(f.Waiting, 80)
	}
	if !f.LastEnqueued.IsZero() {
		line += "; last queued " + f.LastEnqueued.String()
	}
	if !f.NextRecheck.IsZero() {
		line += fmt.Sprintf("; failed days re-checked at %s (%d retried so far)", f.NextRecheck.In(spx.NewYork).Format("15:04 MST"), f.Retried)
	}
	fmt.Fprintf(tw, "follow\t%s\n", line)
}
