package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/spx"
)

// progressLine renders one line of live progress.
func progressLine(prog []coordinator.DayProgress, start time.Time, now time.Time) string {
	var jobs, done, failed, days, finished int
	var rows, bytes int64
	for _, p := range prog {
		days++
		if p.Finished {
			finished++
		}
		jobs += p.Jobs
		done += p.Done
		failed += p.Failed
		rows += p.Rows
		bytes += p.Bytes
	}
	elapsed := now.Sub(start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(bytes) / s / 1e6
	}
	eta := "?"
	if finishedJobs := done + failed; finishedJobs > 0 && jobs > finishedJobs {
		per := elapsed / time.Duration(finishedJobs)
		eta = (per * time.Duration(jobs-finishedJobs)).Round(time.Second).String()
	} else if jobs > 0 && jobs == done+failed {
		eta = "0s"
	}
	line := fmt.Sprintf("days %d/%d  jobs %d/%d", finished, days, done, jobs)
	if failed > 0 {
		line += fmt.Sprintf(" (%d failed)", failed)
	}
	return line + fmt.Sprintf("  rows %s  %.1f MB/s  elapsed %s  ETA %s", groupDigits(rows), rate, elapsed.Round(time.Second), eta)
}

// followLostFor is how long follow keeps asking a coordinator that does
// not answer (restarting, its JetStream store recovering) before it gives
// up; the jobs go on in the cluster either way.
var followLostFor = 5 * time.Minute

// progressTimeout bounds one progress request: one sent while the
// connection is down is asked again, not waited on for the control API's
// 30 minutes.
const progressTimeout = 10 * time.Second

// follow polls the coordinator until every date is finished, drawing a
// progress line on w (redrawn in place on a terminal, a new line every few
// seconds otherwise), and returns the final progress. A coordinator that
// stops answering (restarted; the connection reconnects by itself) is
// asked again every poll for up to followLostFor.
func follow(ctx context.Context, client *coordinator.Client, dates []spx.Date, w io.Writer, tty bool) ([]coordinator.DayProgress, error) {
	start := time.Now()
	poll := 500 * time.Millisecond
	every := 5 * time.Second
	var lastPrint, lostSince time.Time
	var last []coordinator.DayProgress
	clearLine := ""
	if tty {
		clearLine = "\r\033[K"
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, progressTimeout)
		prog, err := client.Progress(pctx, dates)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			if tty {
				fmt.Fprintln(w)
			}
			return last, fmt.Errorf("stopped following (jobs keep running in the cluster; see spx status): %w", ctx.Err())
		case err != nil && !unreachable(err):
			return last, err // the coordinator answered with an error
		case err != nil && lostSince.IsZero():
			lostSince = time.Now()
			fmt.Fprintf(w, "%sthe coordinator does not answer (%v); waiting for it to come back (the jobs keep running)\n", clearLine, err)
		case err != nil && time.Since(lostSince) > followLostFor:
			return last, fmt.Errorf("the coordinator has not answered for %s (%w): the jobs keep running in the cluster; follow them with spx status", followLostFor, err)
		case err == nil && !lostSince.IsZero():
			fmt.Fprintf(w, "%sthe coordinator answers again after %s\n", clearLine, time.Since(lostSince).Round(time.Second))
			lostSince = time.Time{}
		}
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
			continue
		}
		last = prog
		all := true
		for _, p := range prog {
			all = all && p.Finished
		}
		now := time.Now()
		line := progressLine(prog, start, now)
		switch {
		case tty:
			fmt.Fprintf(w, "\r\033[K%s", line)
			if all {
				fmt.Fprintln(w)
			}
		case all || now.Sub(lastPrint) >= every:
			fmt.Fprintln(w, line)
			lastPrint = now
		}
		if all {
			return prog, nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return prog, fmt.Errorf("stopped following (jobs keep running in the cluster; see spx status): %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// unreachable reports whether err means the coordinator did not answer
// (its connection down or reconnecting, nobody serving the control API yet,
// no answer in time), as opposed to an answer that is an error.
func unreachable(err error) bool {
	for _, e := range []error{coordinator.ErrNoCoordinator, nats.ErrNoResponders, nats.ErrTimeout, context.DeadlineExceeded,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrConnectionClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// writeSummary prints one line per day and reports whether any day failed.
func writeSummary(w io.Writer, prog []coordinator.DayProgress) (failed bool) {
	tw := newTable(w)
	fmt.Fprintln(tw, "DATE\tSTATUS\tJOBS\tROWS\tBYTES\tFAILURES")
	for _, p := range prog {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%d\n", p.Day.Date, p.Day.Status, p.Done, p.Jobs, groupDigits(p.Rows), humanBytes(p.Bytes), p.Failed)
		if p.Day.Status == spx.DayFailed || p.Day.Status == spx.DayPartial || p.Failed > 0 {
			failed = true
		}
	}
	tw.Flush()
	for _, p := range prog {
		for i, e := range p.Errors {
			if i == 3 {
				fmt.Fprintf(w, "  %s: … %d more failed jobs (spx list --failed-only)\n", p.Day.Date, len(p.Errors)-3)
				break
			}
			fmt.Fprintf(w, "  %s\n", truncate(strings.ReplaceAll(e, "\n", " "), 300))
		}
	}
	if failed {
		fmt.Fprintln(w, "Some jobs failed: fix the cause shown above, then run spx retry <date> (or spx retry --all-failed).")
	}
	return failed
}

// processDates enqueues through the control API and follows to completion.
func processDates(ctx context.Context, o *Options, out, errw io.Writer, req coordinator.EnqueueRequest) error {
	if err := checkEnqueue(ctx, o, req); err != nil {
		return err
	}
	log := quietLogger(o, errw)
	cl, err := connectCluster(ctx, o, log, true)
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, done := cl.request(ctx)
	res, err := cl.client.Enqueue(rctx, req)
	err = callErr(rctx, err)
	done()
	if err != nil {
		return refusal("enqueueing", err)
	}
	reportEnqueue(errw, res)
	// Days waiting for the terminal are followed too: their jobs appear
	// once it answers and they are planned.
	dates := append(append(append([]spx.Date(nil), res.Days...), res.NoData...), res.Waiting...)
	if len(dates) == 0 {
		if len(res.NotListed) > 0 {
			return fmt.Errorf("no day could be planned: the terminal did not list contracts (see above)")
		}
		fmt.Fprintln(out, "Nothing to do: every day asked for is already complete.")
		return nil
	}
	prog, err := follow(ctx, cl.client, dates, errw, isTerminal(errw))
	if err != nil {
		return err
	}
	if writeSummary(out, prog) || len(res.NotListed) > 0 {
		return errFailed
	}
	return nil
}

// errFailed is returned (exit 1) after a summary has already said what failed.
var errFailed = fmt.Errorf("some days did not complete")

func reportEnqueue(w io.Writer, res coordinator.EnqueueResult) {
	if len(res.Waiting) > 0 && len(res.Skipped) == 0 {
		// Nothing was planned yet: the one line says why.
		reportWaiting(w, res.Waiting, res.Terminal)
		return
	}
	fmt.Fprintf(w, "queued %d jobs for %d days", res.Jobs, len(res.Days))
	if len(res.Skipped) > 0 {
		fmt.Fprintf(w, "; %d days already complete", len(res.Skipped))
	}
	if len(res.NoData) > 0 {
		fmt.Fprintf(w, "; %d days without contracts", len(res.NoData))
	}
	fmt.Fprintln(w)
	for _, e := range res.NotListed {
		fmt.Fprintf(w, "could not plan %s\n", e)
	}
	reportWaiting(w, res.Waiting, res.Terminal)
}
