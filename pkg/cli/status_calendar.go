package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/web"
)

// calendarStyle is how `spx status --calendar` draws its cells.
type calendarStyle int

const (
	styleColor calendarStyle = iota // symbols in ANSI colours (a terminal)
	stylePlain                      // the same symbols, no colours (piped, or NO_COLOR set)
	styleASCII                      // ASCII symbols, no colours (--no-color)
)

// calendarSymbols are the cell symbols of each style; a day that is not a
// session is blank.
var calendarSymbols = map[calendarStyle]map[web.Cell]string{
	styleColor: {web.CellSuccess: "✓", web.CellPartial: "~", web.CellFailed: "✗", web.CellNoData: "·", web.CellPending: "…", web.CellMissing: "?", web.CellFuture: "-"},
	stylePlain: {web.CellSuccess: "✓", web.CellPartial: "~", web.CellFailed: "✗", web.CellNoData: "·", web.CellPending: "…", web.CellMissing: "?", web.CellFuture: "-"},
	styleASCII: {web.CellSuccess: "+", web.CellPartial: "~", web.CellFailed: "X", web.CellNoData: ".", web.CellPending: "o", web.CellMissing: "?", web.CellFuture: "-"},
}

// calendarColors are the ANSI SGR codes of each cell.
var calendarColors = map[web.Cell]string{
	web.CellSuccess: "32", web.CellPartial: "33", web.CellFailed: "1;31", web.CellNoData: "90",
	web.CellPending: "36", web.CellMissing: "35", web.CellFuture: "2",
}

// calendarLabels name the cells in the legend.
var calendarLabels = map[web.Cell]string{
	web.CellSuccess: "success", web.CellPartial: "partial", web.CellFailed: "failed", web.CellNoData: "no data",
	web.CellPending: "queued/processing", web.CellMissing: "missing", web.CellFuture: "not closed yet",
}

// chooseCalendarStyle picks colours only for a terminal, and ASCII when
// asked (--no-color). NO_COLOR (no-color.org) turns colours off.
func chooseCalendarStyle(out io.Writer, noColor bool, getenv func(string) string) calendarStyle {
	switch {
	case noColor:
		return styleASCII
	case getenv("NO_COLOR") != "" || !isTerminal(out):
		return stylePlain
	}
	return styleColor
}

// runStatusCalendar draws the coverage calendar of years (default: the
// recorded years) read from the status database. --format json prints the
// calendars as JSON instead (the shape of the page's /api/calendar).
func runStatusCalendar(ctx context.Context, o *Options, out io.Writer, format string, years []int, noColor bool, now time.Time) error {
	if format != "" && format != formatTable && format != formatJSON {
		return Usagef("invalid --format %q: use table or json", format)
	}
	for _, y := range years {
		if y < calendar.MinYear || y > calendar.MaxYear {
			return Usagef("--year %d is outside the supported calendar years: give a year in %d-%d", y, calendar.MinYear, calendar.MaxYear)
		}
	}
	rs, err := openStateForRead(ctx, o)
	if err != nil {
		return err
	}
	defer rs.close()
	days, err := rs.st.Days(ctx, 0, 0)
	if err != nil {
		return fmt.Errorf("reading day records: %w", err)
	}
	if len(years) == 0 {
		years = web.DefaultYears(days, now)
	}
	covs := make([]web.Coverage, 0, len(years))
	for _, y := range years {
		covs = append(covs, web.BuildCoverage(y, days, now))
	}
	if format == formatJSON {
		return writeJSON(out, covs)
	}
	return renderCalendar(out, covs, chooseCalendarStyle(out, noColor, os.Getenv))
}

// renderCalendar writes each year as twelve rows (months) of day cells,
// columns 1-31, then a legend.
func renderCalendar(w io.Writer, covs []web.Coverage, style calendarStyle) error {
	symbols := calendarSymbols[style]
	if symbols == nil {
		symbols = calendarSymbols[styleColor]
	}
	cell := func(c web.Cell) string {
		s := symbols[c]
		if style == styleColor {
			return "\x1b[" + calendarColors[c] + "m" + s + "\x1b[0m"
		}
		return s
	}
	var b strings.Builder
	for i, cov := range covs {
		if i > 0 {
			b.WriteByte('\n')
		}
		byDate := make(map[spx.Date]web.Cell, len(cov.Days))
		for _, d := range cov.Days {
			byDate[d.Date] = d.Cell
		}
		// Header: the year, then day numbers over columns 1, 5, 10 … 30.
		fmt.Fprintf(&b, "%d\n", cov.Year)
		head := []byte(strings.Repeat(" ", 67))
		for _, d := range []int{1, 5, 10, 15, 20, 25, 30} {
			copy(head[5+2*(d-1):], fmt.Sprint(d))
		}
		b.WriteString(strings.TrimRight(string(head), " "))
		b.WriteByte('\n')
		for m := time.January; m <= time.December; m++ {
			line := m.String()[:3] + "  "
			for d := 1; d <= 31; d++ {
				date := spx.NewDate(cov.Year, m, d)
				if y, mm, _ := date.YMD(); y != cov.Year || mm != m {
					break
				}
				if c, ok := byDate[date]; ok {
					line += cell(c) + " "
				} else {
					line += "  "
				}
			}
			b.WriteString(strings.TrimRight(line, " "))
			b.WriteByte('\n')
		}
		var counts []string
		for _, c := range web.Cells {
			if n := cov.Counts[c]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, calendarLabels[c]))
			}
		}
		fmt.Fprintf(&b, "%d sessions: %s\n", len(cov.Days), strings.Join(counts, ", "))
	}
	b.WriteString("\nlegend:")
	for _, c := range web.Cells {
		b.WriteString("  " + cell(c) + " " + calendarLabels[c])
	}
	b.WriteString("  (blank: no session)\n")
	_, err := io.WriteString(w, b.String())
	return err
}
