package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

// Output formats of the listing commands.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// addFormatFlag adds --format to a listing command.
func addFormatFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "format", "", "output format: table or json (default: table on a terminal, json when piped)")
}

// outputFormat resolves --format: table on a terminal, json otherwise.
func outputFormat(flag string, w io.Writer) (string, error) {
	switch flag {
	case formatTable, formatJSON:
		return flag, nil
	case "":
		if isTerminal(w) {
			return formatTable, nil
		}
		return formatJSON, nil
	}
	return "", Usagef("invalid --format %q: use table or json", flag)
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// newTable returns an aligned-column writer; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// humanBytes formats a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// groupDigits formats n with thousands separators.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shortTime formats a time for a table ("-" when unset).
func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// truncate shortens s to n runes, marking the cut.
func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// parseDateFlag parses a YYYY-MM-DD flag value as a usage error naming the
// flag.
func parseDateFlag(flag, value string) (spx.Date, error) {
	d, err := spx.ParseDate(value)
	if err != nil {
		return 0, Usagef("--%s: %v", flag, err)
	}
	return d, nil
}

// parseOptionalRange parses --from/--to style flags, either of which may be
// empty (zero: unbounded), and rejects a start after the end.
func parseOptionalRange(fromFlag, fromS, toFlag, toS string) (from, to spx.Date, err error) {
	if fromS != "" {
		if from, err = parseDateFlag(fromFlag, fromS); err != nil {
			return 0, 0, err
		}
	}
	if toS != "" {
		if to, err = parseDateFlag(toFlag, toS); err != nil {
			return 0, 0, err
		}
	}
	if !from.IsZero() && !to.IsZero() && from > to {
		return 0, 0, Usagef("--%s %s is after --%s %s: the start must not be after the end", fromFlag, from, toFlag, to)
	}
	return from, to, nil
}

// checkRange rejects start after end, and an end whose session has not
// closed yet at now (a session still trading cannot be complete).
func checkRange(startFlag, endFlag string, start, end spx.Date, now time.Time) error {
	if start > end {
		return Usagef("--%s %s is after --%s %s: the start must not be after the end", startFlag, start, endFlag, end)
	}
	last := calendar.LastClosedSession(now)
	if end > last {
		if open := calendar.Sessions(last+1, end); len(open) > 0 {
			return Usagef("--%s %s: the session of %s has not closed yet; the latest complete session is %s", endFlag, end, open[0].Date, last)
		}
	}
	return nil
}
