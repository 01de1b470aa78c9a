package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/spx"
)

const followHelp = `
It enqueues through the coordinator's control API and follows the work to
completion with a live progress line on stderr (jobs done/total, rows, MB/s,
ETA), then prints a summary per day. When no coordinator is reachable it
starts the whole pipeline (embedded NATS, coordinator, fetchers, writers) in
this process for the duration. Exit status 1 if any job failed.`

func newProcessCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "process <date>",
		Short:   "Download one trade date and follow it to completion",
		Long:    "Download every job of one trade date (YYYY-MM-DD)." + followHelp,
		Example: "  spx process 2024-01-02",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseDateArg(args[0])
			if err != nil {
				return err
			}
			return processDates(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr(), coordinator.EnqueueRequest{Dates: []spx.Date{d}})
		},
	}
}

func newProcessRangeCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "process-range <start> <end>",
		Short:   "Download every trade date in a range and follow it to completion",
		Long:    "Download every session from start to end inclusive (YYYY-MM-DD); complete days are skipped." + followHelp,
		Example: "  spx process-range 2024-01-02 2024-01-31",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseDateArg(args[0])
			if err != nil {
				return err
			}
			to, err := parseDateArg(args[1])
			if err != nil {
				return err
			}
			return processDates(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr(), coordinator.EnqueueRequest{From: from, To: to})
		},
	}
}

func newProcessGapsCommand(o *Options) *cobra.Command {
	var start, end string
	cmd := &cobra.Command{
		Use:   "process-gaps",
		Short: "Download every missing trading day and follow it to completion",
		Long: "Find every session from processing.start_date (or --start-date) to the last closed\n" +
			"session (or --end-date) that is not complete, and download it." + followHelp,
		Example: "  spx process-gaps\n  spx process-gaps --start-date 2024-01-01 --end-date 2024-06-30",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := gapRequest(start, end)
			if err != nil {
				return err
			}
			return processDates(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr(), req)
		},
	}
	cmd.Flags().StringVar(&start, "start-date", "", "first trade date, YYYY-MM-DD (default processing.start_date)")
	cmd.Flags().StringVar(&end, "end-date", "", "last trade date, YYYY-MM-DD (default the last closed session)")
	return cmd
}

func newEnqueueGapsCommand(o *Options) *cobra.Command {
	var start, end string
	cmd := &cobra.Command{
		Use:   "enqueue-gaps",
		Short: "Queue every missing trading day on the running coordinator and return",
		Long: `Ask the running coordinator (spx run or spx coordinator) to plan and queue
every gap day, then return without waiting. Follow the work with spx status.
While the Theta Terminal is not up the days are recorded as queued and
planned by the coordinator once it answers; the command says so and
returns at once.`,
		Example: "  spx enqueue-gaps --start-date 2024-01-01",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := gapRequest(start, end)
			if err != nil {
				return err
			}
			return runEnqueueGaps(cmd.Context(), o, cmd.OutOrStdout(), req)
		},
	}
	cmd.Flags().StringVar(&start, "start-date", "", "first trade date, YYYY-MM-DD (default processing.start_date)")
	cmd.Flags().StringVar(&end, "end-date", "", "last trade date, YYYY-MM-DD (default the last closed session)")
	return cmd
}

func runEnqueueGaps(ctx context.Context, o *Options, out io.Writer, req coordinator.EnqueueRequest) error {
	if err := checkEnqueue(ctx, o, req); err != nil {
		return err
	}
	cl, err := connectCluster(ctx, o, o.Logger(), false)
	if err != nil {
		return err
	}
	defer cl.Close()
	// With the terminal down the coordinator records the days and answers
	// at once (planning waits for the terminal).
	rctx, done := cl.request(ctx)
	res, err := cl.client.Enqueue(rctx, req)
	err = callErr(rctx, err)
	done()
	if err != nil {
		return refusal("enqueueing", err)
	}
	reportEnqueue(out, res)
	if len(res.NotListed) > 0 {
		return errFailed
	}
	return nil
}

func gapRequest(start, end string) (coordinator.EnqueueRequest, error) {
	req := coordinator.EnqueueRequest{Gaps: true}
	var err error
	if start != "" {
		if req.From, err = parseDateFlag("start-date", start); err != nil {
			return req, err
		}
	}
	if end != "" {
		if req.To, err = parseDateFlag("end-date", end); err != nil {
			return req, err
		}
	}
	return req, nil
}

// parseDateArg parses a positional YYYY-MM-DD argument (usage error if bad).
func parseDateArg(s string) (spx.Date, error) {
	d, err := spx.ParseDate(s)
	if err != nil {
		return 0, Usage(err)
	}
	return d, nil
}
