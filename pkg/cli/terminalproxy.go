package cli

import "github.com/spf13/cobra"

// newTerminalProxyCommand is a placeholder until the command is built.
func newTerminalProxyCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "terminal-proxy", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("terminal-proxy is not built yet") }}
}
