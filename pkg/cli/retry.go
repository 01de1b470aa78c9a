package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/coordinator"
)

func newRetryCommand(o *Options) *cobra.Command {
	var (
		allFailed bool
		lastN     int
		noWait    bool
	)
	cmd := &cobra.Command{
		Use:   "retry <date>... | --all-failed | --last-n N",
		Short: "Queue failed and dead jobs again and follow them to completion",
		Long: `Queue the failed and dead jobs of the given trade dates (or of every day with
failures, or of the N most recent such days) again, with a new generation, and
follow them to completion like spx process. When no coordinator is reachable
the pipeline runs in this process for the duration. --no-wait returns at once.`,
		Example: "  spx retry 2024-01-02\n  spx retry --all-failed\n  spx retry --last-n 5",
		RunE: func(cmd *cobra.Command, args []string) error {
			req := coordinator.RetryRequest{AllFailed: allFailed, LastN: lastN}
			modes := 0
			if len(args) > 0 {
				modes++
			}
			if allFailed {
				modes++
			}
			if cmd.Flags().Changed("last-n") {
				modes++
				if lastN <= 0 {
					return Usagef("--last-n must be a positive number of days, got %d", lastN)
				}
			}
			if modes != 1 {
				return Usagef("give exactly one of: dates, --all-failed, --last-n N")
			}
			for _, a := range args {
				d, err := parseDateArg(a)
				if err != nil {
					return err
				}
				req.Dates = append(req.Dates, d)
			}
			return runRetry(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr(), req, noWait)
		},
	}
	cmd.Flags().BoolVar(&allFailed, "all-failed", false, "retry every day with failed or dead jobs")
	cmd.Flags().IntVar(&lastN, "last-n", 0, "retry the N most recent days with failed or dead jobs")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "queue the jobs and return without following them")
	return cmd
}

func runRetry(ctx context.Context, o *Options, out, errw io.Writer, req coordinator.RetryRequest, noWait bool) error {
	if len(req.Dates) > 0 {
		if err := checkEnqueue(ctx, o, coordinator.EnqueueRequest{Dates: req.Dates}); err != nil {
			return err
		}
	}
	cl, err := connectCluster(ctx, o, quietLogger(o, errw), !noWait)
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, done := cl.request(ctx)
	res, err := cl.client.Retry(rctx, req)
	err = callErr(rctx, err)
	done()
	if err != nil {
		return refusal("retrying", err)
	}
	fmt.Fprintf(errw, "queued %d jobs again for %d days\n", res.Jobs, len(res.Days))
	reportWaiting(errw, res.Waiting, res.Terminal)
	if len(res.Days)+len(res.Waiting) == 0 {
		fmt.Fprintln(out, "Nothing to retry: no failed or dead jobs on those days.")
		return nil
	}
	if noWait {
		return nil
	}
	prog, err := follow(ctx, cl.client, append(res.Days, res.Waiting...), errw, isTerminal(errw))
	if err != nil {
		return err
	}
	if writeSummary(out, prog) {
		return errFailed
	}
	return nil
}
