package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

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

// follow polls the coordinator until every date is finished, drawing a
// progress line on w (redrawn in place on a terminal, a new line every few
// seconds otherwise), and returns the final progress.
func follow(ctx context.Context, client *coordinator.Client, dates []spx.Date, w io.Writer, tty bool) ([]coordinator.DayProgress, error) {
	start := time.Now()
	poll := 500 * time.Millisecond
	every := 5 * time.Second
	var lastPrint time.Time
	for {
		prog, err := client.Progress(ctx, dates)
		if err != nil {
			return nil, err
		}
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
	res, err := cl.client.Enqueue(ctx, req)
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
