package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

func newGapAnalysisCommand(o *Options) *cobra.Command {
	var format, start, end string
	cmd := &cobra.Command{
		Use:   "gap-analysis",
		Short: "List the trading days that are missing from the archive",
		Long: `List the gaps: exchange sessions in [start, end] whose day status is not
success or no_data. Weekends and exchange holidays are never gaps, and a
session is not a gap until it has closed.

The start defaults to processing.start_date, the end to the latest session
that has closed. It reads the status database read-only, or with nats.url
set (--nats) asks the coordinator there; a database that does not exist is
an error.

JSON (--format json): {"start":"YYYY-MM-DD","end":"YYYY-MM-DD","gaps":["YYYY-MM-DD",...]}`,
		Example: `  spx gap-analysis
  spx gap-analysis --start-date 2024-01-01 --end-date 2024-06-28
  spx gap-analysis --format json | jq '.gaps | length'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGapAnalysis(cmd.Context(), o, cmd.OutOrStdout(), format, start, end, time.Now())
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().StringVar(&start, "start-date", "", "first date, YYYY-MM-DD (default: processing.start_date)")
	cmd.Flags().StringVar(&end, "end-date", "", "last date, YYYY-MM-DD (default: the latest closed session)")
	return cmd
}

// gapReport is the JSON form of `spx gap-analysis`.
type gapReport struct {
	Start spx.Date   `json:"start"`
	End   spx.Date   `json:"end"`
	Gaps  []spx.Date `json:"gaps"`
}

func runGapAnalysis(ctx context.Context, o *Options, out io.Writer, format, startS, endS string, now time.Time) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	var start, end spx.Date
	if startS != "" {
		if start, err = parseDateFlag("start-date", startS); err != nil {
			return err
		}
	}
	if endS != "" {
		if end, err = parseDateFlag("end-date", endS); err != nil {
			return err
		}
	} else {
		end = calendar.LastClosedSession(now)
	}
	rs, err := openStateForRead(ctx, o)
	if err != nil {
		return err
	}
	defer rs.close()
	st := rs.st
	if start.IsZero() {
		cfg, err := resolveConfig(ctx, o, st)
		if err != nil {
			return err
		}
		start = cfg.StartDate
	}
	if start > end && endS == "" {
		from := "--start-date"
		if startS == "" {
			from = "processing.start_date"
		}
		return Usagef("%s %s is after the latest complete session %s: choose an earlier start", from, start, end)
	}
	if err := checkRange("start-date", "end-date", start, end, now); err != nil {
		return err
	}

	rep, sessions, err := findGaps(ctx, st, start, end)
	if err != nil {
		return err
	}
	if format == formatJSON {
		return writeJSON(out, rep)
	}
	fmt.Fprintf(out, "%d gap(s) among %d sessions from %s to %s\n", len(rep.Gaps), sessions, rep.Start, rep.End)
	if len(rep.Gaps) == 0 {
		return nil
	}
	status, err := dayStatuses(ctx, st, start, end)
	if err != nil {
		return err
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "DATE\tWEEKDAY\tSTATUS")
	for _, g := range rep.Gaps {
		s := "never processed"
		if ds, ok := status[g]; ok {
			s = string(ds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", g, g.Weekday().String()[:3], s)
	}
	return tw.Flush()
}

// findGaps applies spx.Gaps to the exchange's sessions in [start, end].
func findGaps(ctx context.Context, st stateReader, start, end spx.Date) (gapReport, int, error) {
	status, err := dayStatuses(ctx, st, start, end)
	if err != nil {
		return gapReport{}, 0, err
	}
	sessions := calendar.Sessions(start, end)
	dates := make([]spx.Date, len(sessions))
	for i, s := range sessions {
		dates[i] = s.Date
	}
	gaps := spx.Gaps(dates, func(d spx.Date) (spx.DayStatus, bool) { s, ok := status[d]; return s, ok })
	if gaps == nil {
		gaps = []spx.Date{}
	}
	return gapReport{Start: start, End: end, Gaps: gaps}, len(dates), nil
}

func dayStatuses(ctx context.Context, st stateReader, start, end spx.Date) (map[spx.Date]spx.DayStatus, error) {
	days, err := st.Days(ctx, start, end)
	if err != nil {
		return nil, fmt.Errorf("reading day records: %w", err)
	}
	m := make(map[spx.Date]spx.DayStatus, len(days))
	for _, d := range days {
		m[d.Date] = d.Status
	}
	return m, nil
}
