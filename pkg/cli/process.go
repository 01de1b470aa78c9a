package cli

import "github.com/spf13/cobra"

// newProcessCommand is a placeholder until the command is built.
func newProcessCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "process", Short: "(not built yet)", Hidden: true, RunE: func(*cobra.Command, []string) error { return Usagef("process is not built yet") }}
}

func newProcessRangeCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "process-range", Hidden: true}
}

func newProcessGapsCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "process-gaps", Hidden: true}
}

func newEnqueueGapsCommand(o *Options) *cobra.Command {
	return &cobra.Command{Use: "enqueue-gaps", Hidden: true}
}
