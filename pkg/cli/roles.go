package cli

import (
	"github.com/spf13/cobra"
)

// newCoordinatorCommand runs the coordinator alone (cmd/coordinator too).
func newCoordinatorCommand(o *Options) *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "Run the coordinator alone (status database, planning, control API)",
		Long: `Run only the coordinator: it owns the status database, creates the JetStream
topology, plans and queues jobs, records events and serves the control API.
With nats.url empty it starts the embedded NATS server (--listen, --monitor)
that fetchers and writers on other machines join.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRoles(cmd.Context(), o, cmd, cmd.ErrOrStderr(), true, f)
		},
	}
	addRoleFlags(cmd, &f, true, false, false)
	return cmd
}

// newFetcherCommand runs fetch workers alone (cmd/fetcher too).
func newFetcherCommand(o *Options) *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "fetcher",
		Short: "Run fetch workers that join the coordinator's NATS server",
		Long: `Run only fetch workers. They connect to nats.url (default: the embedded server
of spx run on nats.listen) and to the Theta Terminal (thetadata.base_url), and
share the cluster-wide terminal concurrency limit with every other fetcher.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRoles(cmd.Context(), o, cmd, cmd.ErrOrStderr(), false, f)
		},
	}
	addRoleFlags(cmd, &f, false, true, false)
	return cmd
}

// newWriterCommand runs write workers alone (cmd/writer too).
func newWriterCommand(o *Options) *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "writer",
		Short: "Run write workers that join the coordinator's NATS server",
		Long: `Run only write workers. They connect to nats.url (default: the embedded server
of spx run on nats.listen) and write Parquet files under processing.output_dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRoles(cmd.Context(), o, cmd, cmd.ErrOrStderr(), false, f)
		},
	}
	addRoleFlags(cmd, &f, false, false, true)
	return cmd
}
