package cli

import "github.com/spf13/cobra"

// newVerifyCommand is a placeholder until the command is built.
func newVerifyCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "verify", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("verify is not built yet") }}
}
