package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/spx"
)

func newListCommand(o *Options) *cobra.Command {
	var (
		format, from, to string
		failedOnly       bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show the processing history, one line per trade day",
		Long: `Show the processing history: one line per trade day with its status, rows,
Parquet bytes, jobs done, retries, duration, start and end times, checksum and
error. It reads the status database read-only, or with nats.url set (--nats)
asks the coordinator there; a database that does not exist is an error.

--failed-only shows days whose status is failed or partial.

JSON (--format json): an array of day records, see docs/cli-json.md.`,
		Example: `  spx list
  spx list --failed-only
  spx list --from 2024-01-01 --to 2024-03-31 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), o, cmd.OutOrStdout(), format, from, to, failedOnly)
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().BoolVar(&failedOnly, "failed-only", false, "only days whose status is failed or partial")
	cmd.Flags().StringVar(&from, "from", "", "first trade date, YYYY-MM-DD (default: the earliest recorded)")
	cmd.Flags().StringVar(&to, "to", "", "last trade date, YYYY-MM-DD (default: the latest recorded)")
	return cmd
}

func runList(ctx context.Context, o *Options, out io.Writer, format, fromS, toS string, failedOnly bool) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	from, to, err := parseOptionalRange("from", fromS, "to", toS)
	if err != nil {
		return err
	}
	rs, err := openStateForRead(ctx, o)
	if err != nil {
		return err
	}
	defer rs.close()
	days, err := rs.st.Days(ctx, from, to)
	if err != nil {
		return fmt.Errorf("reading day records: %w", err)
	}
	recs := make([]spx.DayRecord, 0, len(days))
	for _, d := range days {
		if failedOnly && d.Status != spx.DayFailed && d.Status != spx.DayPartial {
			continue
		}
		recs = append(recs, d)
	}
	if format == formatJSON {
		return writeJSON(out, recs)
	}
	if len(recs) == 0 {
		fmt.Fprintln(out, "no days recorded in that range")
		return nil
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "DATE\tSTATUS\tROWS\tBYTES\tJOBS\tRETRIES\tDURATION\tSTARTED\tCOMPLETED\tCHECKSUM\tERROR")
	for _, d := range recs {
		checksum := d.Checksum
		if len(checksum) > 12 {
			checksum = checksum[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\t%s\t%s\n",
			d.Date, d.Status, groupDigits(d.RecordCount), humanBytes(d.FileSizeBytes),
			d.JobsDone, d.JobsTotal, d.RetryCount,
			(time.Duration(d.ProcessingDurationMs) * time.Millisecond).Round(time.Second),
			shortTime(d.StartedAt), shortTime(d.CompletedAt), orDash(checksum), orDash(truncate(d.ErrorMessage, 60)))
	}
	return tw.Flush()
}
