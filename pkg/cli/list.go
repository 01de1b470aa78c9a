package cli

import "github.com/spf13/cobra"

// newListCommand is a placeholder until the command is built.
func newListCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "list", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("list is not built yet") }}
}
