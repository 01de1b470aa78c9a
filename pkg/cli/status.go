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
)

func newStatusCommand(o *Options) *cobra.Command {
	var format string
	var errorsN int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Summarise the archive: days by status, rows, bytes, last activity, recent errors",
		Long: `Summarise the status database: trade days by status, jobs by outcome, total
rows and Parquet bytes, the last activity and the most recent errors. It reads
the database read-only and works while no coordinator runs.

JSON (--format json): one object, see docs/cli-json.md.`,
		Example: `  spx status
  spx status --errors 20
  spx status --format json | jq .days`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), o, cmd.OutOrStdout(), format, errorsN)
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().IntVar(&errorsN, "errors", 5, "how many recent errors to show")
	return cmd
}

// statusReport is what `spx status` shows. The pipeline adds live queue
// figures by filling Queues (and InFlight) before rendering.
type statusReport struct {
	Database     string                 `json:"database"`
	Days         map[spx.DayStatus]int  `json:"days"` // trade days by status
	DaysTotal    int                    `json:"days_total"`
	FirstDate    *spx.Date              `json:"first_date,omitempty"`
	LastDate     *spx.Date              `json:"last_date,omitempty"`
	Jobs         map[spx.JobOutcome]int `json:"jobs"` // jobs by outcome
	Rows         int64                  `json:"rows"`
	Bytes        int64                  `json:"bytes"`
	LastActivity time.Time              `json:"last_activity,omitzero"`
	RecentErrors []spx.ErrorEntry       `json:"recent_errors"`
	// Queues holds per-stage queue depth from a running cluster; empty
	// when none is reachable.
	Queues []queueStats `json:"queues,omitempty"`
}

// queueStats is one pipeline stage's queue depth (SPX_FETCH, SPX_WRITE).
type queueStats struct {
	Stage    string `json:"stage"`
	Pending  int64  `json:"pending"`
	InFlight int64  `json:"in_flight"`
	Dead     int64  `json:"dead"`
}

func runStatus(ctx context.Context, o *Options, out io.Writer, format string, errorsN int) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	if errorsN < 0 {
		return Usagef("--errors %d: give 0 or more", errorsN)
	}
	st, path, closeFn, err := openStoreForRead(ctx, o)
	if err != nil {
		return err
	}
	defer closeFn()
	rep, err := buildStatusReport(ctx, st, path, errorsN)
	if err != nil {
		return err
	}
	return renderStatus(out, format, rep)
}

// buildStatusReport reads the figures of `spx status` from the store.
func buildStatusReport(ctx context.Context, st stateReader, path string, errorsN int) (statusReport, error) {
	rep := statusReport{
		Database:     path,
		Days:         map[spx.DayStatus]int{},
		Jobs:         map[spx.JobOutcome]int{},
		RecentErrors: []spx.ErrorEntry{},
	}
	days, err := st.Days(ctx, 0, 0)
	if err != nil {
		return rep, fmt.Errorf("reading day records: %w", err)
	}
	for _, d := range days {
		rep.Days[d.Status]++
		rep.Rows += d.RecordCount
		rep.Bytes += d.FileSizeBytes
		rep.LastActivity = latest(rep.LastActivity, d.UpdatedAt, d.StartedAt, d.CompletedAt)
	}
	rep.DaysTotal = len(days)
	if len(days) > 0 {
		first, last := days[0].Date, days[len(days)-1].Date
		rep.FirstDate, rep.LastDate = &first, &last
	}
	jobs, err := st.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		return rep, fmt.Errorf("reading job records: %w", err)
	}
	for _, j := range jobs {
		rep.Jobs[j.Outcome]++
		rep.LastActivity = latest(rep.LastActivity, j.UpdatedAt)
	}
	if errorsN > 0 {
		errs, err := st.Errors(ctx, errorsN)
		if err != nil {
			return rep, fmt.Errorf("reading the error log: %w", err)
		}
		rep.RecentErrors = append(rep.RecentErrors, errs...)
	}
	if len(rep.RecentErrors) > 0 {
		rep.LastActivity = latest(rep.LastActivity, rep.RecentErrors[0].Time)
	}
	return rep, nil
}

func latest(t time.Time, more ...time.Time) time.Time {
	for _, m := range more {
		if m.After(t) {
			t = m
		}
	}
	return t
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

func renderStatus(out io.Writer, format string, rep statusReport) error {
	if format == formatJSON {
		return writeJSON(out, rep)
	}
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
	for _, q := range rep.Queues {
		fmt.Fprintf(tw, "queue %s\tpending %d, in flight %d, dead %d\n", q.Stage, q.Pending, q.InFlight, q.Dead)
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
