package cli

import "github.com/spf13/cobra"

// newStatusCommand is a placeholder until the command is built.
func newStatusCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "status", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("status is not built yet") }}
}
