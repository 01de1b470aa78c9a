package cli

import "github.com/spf13/cobra"

// newConfigCommand is a placeholder until the command is built.
func newConfigCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "config", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("config is not built yet") }}
}
