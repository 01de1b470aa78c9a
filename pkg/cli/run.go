package cli

import "github.com/spf13/cobra"

// newRunCommand is a placeholder until the command is built.
func newRunCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "run", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("run is not built yet") }}
}
