package cli

import "github.com/spf13/cobra"

// newCalendarCommand is a placeholder until the command is built.
func newCalendarCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "calendar", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("calendar is not built yet") }}
}
