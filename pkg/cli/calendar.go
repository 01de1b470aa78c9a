package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

// calendarArgs are the calendar command's flags as given; empty means "not
// given".
type calendarArgs struct {
	from, to string
	format   string // "table", "json" or "" (table on a terminal, else json)
}

func newCalendarCommand(o *Options) *cobra.Command {
	var a calendarArgs
	cmd := &cobra.Command{
		Use:   "calendar",
		Short: "List the exchange's trading sessions and their closes",
		Long: fmt.Sprintf(`List the trading sessions of the exchange where SPX options trade (NYSE
holiday schedule) between --from and --to, both inclusive, with each
session's close in New York time: 16:00, or 13:00 on an early-close day.

The calendar is computed by rule plus a table of one-off closures and is
checked against the exchange's history for %d-%d; dates outside that range
are refused.

--format json prints one JSON array, dates ascending, one session a line:
  [
  {"date":"2024-07-03","close":"13:00"},
  ...
  ]
--format table prints aligned columns DATE, WEEKDAY, CLOSE.
Without --format, output is a table on a terminal and JSON otherwise
(piped or redirected).`, calendar.MinYear, calendar.MaxYear),
		Example: `  spx calendar                                   # this year's sessions
  spx calendar --from 2024-07-01 --to 2024-07-31
  spx calendar --from 2000-01-01 --to 2026-12-31 --format json > sessions.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.format == "" {
				a.format = "json"
				if isTerminal(cmd.OutOrStdout()) {
					a.format = "table"
				}
			}
			return runCalendar(cmd.Context(), cmd.OutOrStdout(), a, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.from, "from", "", "first date, YYYY-MM-DD (default Jan 1 of the current year)")
	f.StringVar(&a.to, "to", "", "last date, YYYY-MM-DD (default Dec 31 of the current year)")
	f.StringVar(&a.format, "format", "", "output format: table or json (default table on a terminal, json otherwise)")
	return cmd
}

// runCalendar prints the sessions in [a.from, a.to]; now supplies the
// default year (in New York).
func runCalendar(ctx context.Context, out io.Writer, a calendarArgs, now time.Time) error {
	year := now.In(spx.NewYork).Year()
	from, err := calendarDateFlag("--from", a.from, spx.NewDate(year, time.January, 1))
	if err != nil {
		return err
	}
	to, err := calendarDateFlag("--to", a.to, spx.NewDate(year, time.December, 31))
	if err != nil {
		return err
	}
	if from > to {
		return Usagef("--from %s is after --to %s: give a --from on or before --to", from, to)
	}
	var write func(io.Writer, []calendar.Session) error
	switch a.format {
	case "json":
		write = writeCalendarJSON
	case "table":
		write = writeCalendarTable
	default:
		return Usagef("--format %q is not known: use table or json", a.format)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := write(out, calendar.Sessions(from, to)); err != nil {
		return fmt.Errorf("writing the calendar: %w", err)
	}
	return nil
}

// calendarDateFlag parses one date flag (def when empty) and checks it lies in
// the calendar's verified years.
func calendarDateFlag(flag, value string, def spx.Date) (spx.Date, error) {
	d := def
	if value != "" {
		var err error
		if d, err = spx.ParseDate(value); err != nil {
			return 0, Usagef("%s: %w", flag, err)
		}
	}
	if !calendar.InRange(d) {
		return 0, Usagef("%s %s is outside the supported range %d-01-01..%d-12-31: give a date in %d-%d",
			flag, d, calendar.MinYear, calendar.MaxYear, calendar.MinYear, calendar.MaxYear)
	}
	return d, nil
}

// writeCalendarJSON writes one JSON array, one session object a line.
func writeCalendarJSON(w io.Writer, sessions []calendar.Session) error {
	buf := []byte("[")
	for i, s := range sessions {
		b, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encoding session %s: %w", s.Date, err)
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		buf = append(buf, b...)
	}
	if len(sessions) > 0 {
		buf = append(buf, '\n')
	}
	buf = append(buf, "]\n"...)
	_, err := w.Write(buf)
	return err
}

// writeCalendarTable writes aligned DATE, WEEKDAY, CLOSE columns; early
// closes are marked so they stand out.
func writeCalendarTable(w io.Writer, sessions []calendar.Session) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tWEEKDAY\tCLOSE")
	for _, s := range sessions {
		wd := s.Date.Weekday().String()[:3]
		if s.Close == calendar.EarlyClose {
			fmt.Fprintf(tw, "%s\t%s\t%s\tearly close\n", s.Date, wd, s.Close)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Date, wd, s.Close)
	}
	return tw.Flush()
}
