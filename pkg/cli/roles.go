package cli

import "github.com/spf13/cobra"

// newCoordinatorCommand is a placeholder until the command is built.
func newCoordinatorCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "coordinator", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("coordinator is not built yet") }}
}

func newFetcherCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "fetcher", Hidden: true}
}

func newWriterCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "writer", Hidden: true}
}
