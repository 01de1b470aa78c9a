package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/web"
)

func newStatusCommand(o *Options) *cobra.Command {
	var (
		format       string
		errorsN      int
		showCalendar bool
		years        []int
		noColor      bool
		watch        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Summarise the archive: days by status, rows, bytes, last activity, recent errors",
		Long: `Summarise the status database: trade days by status, jobs by outcome, total
rows and Parquet bytes, the last activity and the most recent errors. It reads
the database read-only and works while no coordinator runs; with nats.url set
(--nats) the figures come from the coordinator there (exit 1 if it does not
answer). A database that does not exist is an error, not an empty archive.

--calendar draws the coverage calendar instead: one row per month, one cell
per trading day, coloured by day status on a terminal (plain symbols when
piped, ASCII with --no-color):
  ✓ success  ~ partial  ✗ failed  · no data  … queued/processing  ? missing
  - not closed yet, blank: no session  (ASCII: + ~ X . o ? -)
--year picks the years (default: the recorded years, or this year).

When a coordinator or its NATS server is reachable (nats.url, or the embedded
server of spx run on nats.listen, with the nats.* credentials) it adds each
stage's queue (pending, in flight, dead), the worker processes connected
(name, host, role, jobs done, last seen) and the throughput of the last
minute. While the coordinator holds the database, the figures are read
through it. --watch refreshes every 2s (--watch=10s to choose) until Ctrl-C.

JSON (--format json): one object, see docs/cli-json.md (with --watch, one
object per refresh). With --calendar, an array of calendars, one per year
(the page's /api/calendar shape).`,
		Example: `  spx status
  spx status --errors 20
  spx status --format json | jq .days
  spx status --watch
  spx status --calendar --year 2024
  spx status --calendar --year 2023,2024 --no-color`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showCalendar {
				return runStatusCalendar(cmd.Context(), o, cmd.OutOrStdout(), format, years, noColor, time.Now())
			}
			if cmd.Flags().Changed("year") || noColor {
				return Usagef("--year and --no-color go with --calendar: add --calendar")
			}
			if cmd.Flags().Changed("watch") && watch <= 0 {
				return Usagef("--watch %s: give a positive interval such as 2s", watch)
			}
			if watch > 0 {
				return watchStatus(cmd.Context(), o, cmd.OutOrStdout(), format, errorsN, watch)
			}
			return runStatus(cmd.Context(), o, cmd.OutOrStdout(), format, errorsN)
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().IntVar(&errorsN, "errors", 5, "how many recent errors to show")
	cmd.Flags().BoolVar(&showCalendar, "calendar", false, "draw the coverage calendar: one cell per trading day, by status")
	cmd.Flags().IntSliceVar(&years, "year", nil, "calendar years, e.g. 2024 or 2023,2024 (default: the recorded years)")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "calendar in ASCII symbols without colours")
	cmd.Flags().DurationVar(&watch, "watch", 0, "refresh every interval until interrupted (--watch alone: 2s)")
	cmd.Flags().Lookup("watch").NoOptDefVal = "2s"
	return cmd
}

// statusReport is what `spx status` shows; the shape lives in pkg/web so
// /api/status serves exactly the same JSON. The pipeline adds live queue
// figures by filling Queues before rendering.
type statusReport = web.StatusReport

// queueStats is one pipeline stage's queue depth (fetch, write).
type queueStats = web.QueueStats

func runStatus(ctx context.Context, o *Options, out io.Writer, format string, errorsN int) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	if errorsN < 0 {
		return Usagef("--errors %d: give 0 or more", errorsN)
	}
	rep, err := collectStatus(ctx, o, errorsN)
	if err != nil {
		return err
	}
	return renderStatusOutput(out, format, rep)
}

// buildStatusReport reads the figures of `spx status` from the store.
func buildStatusReport(ctx context.Context, st stateReader, path string, errorsN int) (statusReport, error) {
	return web.BuildStatusReport(ctx, st, path, errorsN)
}

// dayStatusOrder is the display order of day statuses.
var dayStatusOrder = []spx.DayStatus{spx.DaySuccess, spx.DayNoData, spx.DayPartial, spx.DayFailed, spx.DayProcessing, spx.DayQueued}

var jobOutcomeOrder = []spx.JobOutcome{spx.JobWritten, spx.JobEmpty, spx.JobQueued, spx.JobFetching, spx.JobStaged, spx.JobFailed, spx.JobDead}

// countsLine formats counts in a fixed order, then any unknown keys.
func countsLine[K ~string](m map[K]int, order []K) string {
	var parts []string
	for _, k := range order {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	var extra []string
	for k, n := range m {
		if !slices.Contains(order, k) && n > 0 {
			extra = append(extra, fmt.Sprintf("%s %d", k, n))
		}
	}
	slices.Sort(extra)
	parts = append(parts, extra...)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// terminalLine says what the coordinator knows of the Theta Terminal.
func terminalLine(t spx.TerminalStatus) string {
	s := t.State
	if t.API != "" {
		s += " (" + t.API + " at " + t.URL + ")"
	}
	if !t.Since.IsZero() {
		s += " since " + shortTime(t.Since)
	}
	if t.State != spx.TerminalUp && t.State != spx.TerminalUnknown {
		s += ": planning and fetching wait for it"
		if t.LastError != "" {
			s += "; last error: " + truncate(t.LastError, 160)
		}
	}
	return s
}

// natsStoreLine says whether the NATS store has room for staged objects.
func natsStoreLine(st spx.NATSStore) string {
	room := "staged " + humanBytes(st.Staged)
	if st.StagedLimit > 0 {
		room += " of " + humanBytes(st.StagedLimit)
	}
	if st.Limit > 0 {
		room += fmt.Sprintf("; store %s of %s, %s free on its disk", humanBytes(st.Used), humanBytes(st.Limit), humanBytes(st.DiskFree))
	}
	if !st.Full {
		return "ok: " + room
	}
	s := "FULL"
	if !st.Since.IsZero() {
		s += " since " + shortTime(st.Since)
	}
	return s + ": " + truncate(st.Reason, 160) + " (" + room + "); fetchers take no job until writers make room or space is freed under nats.store_dir"
}

func renderStatus(out io.Writer, format string, rep statusReport) error {
	return renderStatusOutput(out, format, statusOutput{statusReport: rep})
}

func renderStatusOutput(out io.Writer, format string, full statusOutput) error {
	if format == formatJSON {
		return writeJSON(out, full)
	}
	rep := full.statusReport
	tw := newTable(out)
	fmt.Fprintf(tw, "database\t%s\n", rep.Database)
	span := ""
	if rep.FirstDate != nil {
		span = fmt.Sprintf(" (%s to %s)", *rep.FirstDate, *rep.LastDate)
	}
	fmt.Fprintf(tw, "days\t%d%s: %s\n", rep.DaysTotal, span, countsLine(rep.Days, dayStatusOrder))
	fmt.Fprintf(tw, "jobs\t%s\n", countsLine(rep.Jobs, jobOutcomeOrder))
	fmt.Fprintf(tw, "rows\t%s\n", groupDigits(rep.Rows))
	fmt.Fprintf(tw, "parquet bytes\t%s\n", humanBytes(rep.Bytes))
	fmt.Fprintf(tw, "last activity\t%s\n", shortTime(rep.LastActivity))
	if t := rep.Terminal; t != nil {
		fmt.Fprintf(tw, "terminal\t%s\n", terminalLine(*t))
	}
	if st := rep.NATSStore; st != nil {
		fmt.Fprintf(tw, "nats store\t%s\n", natsStoreLine(*st))
	}
	for _, q := range rep.Queues {
		fmt.Fprintf(tw, "queue %s\tpending %d, in flight %d, dead %d\n", q.Stage, q.Pending, q.InFlight, q.Dead)
	}
	if err := renderLive(tw, full); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.RecentErrors) == 0 {
		fmt.Fprintln(out, "recent errors: none")
		return nil
	}
	fmt.Fprintln(out, "recent errors:")
	tw = newTable(out)
	fmt.Fprintln(tw, "  TIME\tTYPE\tJOB/DATE\tMESSAGE")
	for _, e := range rep.RecentErrors {
		what := e.Job
		if what == "" && !e.Date.IsZero() {
			what = e.Date.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", shortTime(e.Time), e.Type, orDash(what), truncate(e.Message, 100))
	}
	return tw.Flush()
}
