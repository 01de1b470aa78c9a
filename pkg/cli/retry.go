package cli

import "github.com/spf13/cobra"

// newRetryCommand is a placeholder until the command is built.
func newRetryCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "retry", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("retry is not built yet") }}
}
