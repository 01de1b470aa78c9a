package cli

import "github.com/spf13/cobra"

// newGapAnalysisCommand is a placeholder until the command is built.
func newGapAnalysisCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "gap-analysis", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("gap-analysis is not built yet") }}
}
