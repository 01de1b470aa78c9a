package cli

import "github.com/spf13/cobra"

// newConvertCommand is a placeholder until the command is built.
func newConvertCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "convert", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("convert is not built yet") }}
}
