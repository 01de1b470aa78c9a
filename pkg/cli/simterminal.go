package cli

import "github.com/spf13/cobra"

// newSimTerminalCommand is a placeholder until the command is built.
func newSimTerminalCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "sim-terminal", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("sim-terminal is not built yet") }}
}
