package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/pipeline"
)

// roleFlags are the flags of spx run and the single-role commands.
type roleFlags struct {
	fetchers, writers int
	listen, monitor   string
}

func newRunCommand(o *Options) *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run everything in one process: embedded NATS, coordinator, fetchers, writers",
		Long: `Run the whole pipeline in this process until interrupted: an embedded NATS
server with JetStream on disk (nats.store_dir, clients on --listen, monitoring
on --monitor), the coordinator, --fetchers fetch workers and --writers write
workers. Remote fetchers and writers may join through --listen.

With nats.url set (--nats) no server is started: every role connects there.
Queue work with spx process, spx process-gaps or spx enqueue-gaps.`,
		Example: "  spx run\n  spx run --fetchers 8 --listen 0.0.0.0:4222",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRoles(cmd.Context(), o, cmd, cmd.ErrOrStderr(), true, f)
		},
	}
	addRoleFlags(cmd, &f, true, true, true)
	return cmd
}

func addRoleFlags(cmd *cobra.Command, f *roleFlags, server, fetchers, writers bool) {
	if fetchers {
		cmd.Flags().IntVar(&f.fetchers, "fetchers", 0, "fetch workers (default thetadata.concurrency)")
	}
	if writers {
		cmd.Flags().IntVar(&f.writers, "writers", 2, "write workers")
	}
	if server {
		cmd.Flags().StringVar(&f.listen, "listen", "", "embedded NATS client address (nats.listen, default 127.0.0.1:4222)")
		cmd.Flags().StringVar(&f.monitor, "monitor", "", "embedded NATS monitoring address (nats.monitor, default 127.0.0.1:8222)")
	}
}

// runRoles starts the roles asked for and blocks until ctx ends or a role fails.
func runRoles(ctx context.Context, o *Options, cmd *cobra.Command, errw io.Writer, coordinatorRole bool, f roleFlags) error {
	flags := cmd.Flags()
	if flags.Changed("fetchers") && f.fetchers < 0 || flags.Changed("writers") && f.writers < 0 {
		return Usagef("--fetchers and --writers must not be negative")
	}
	po := pipeline.Options{Coordinator: coordinatorRole, Logger: o.Logger()}
	if coordinatorRole {
		store, err := openStoreForWrite(ctx, o)
		if err != nil {
			return err
		}
		defer store.Close()
		if po.Config, err = resolveConfig(ctx, o, store); err != nil {
			return err
		}
		po.Store = store
		po.Embedded = po.Config.NATSURL == ""
	} else {
		var err error
		if po.Config, err = resolveConfigShared(ctx, o); err != nil {
			return err
		}
		po.Config.NATSURL = natsURL(po.Config)
	}
	if f.listen != "" {
		po.Config.NATSListen = f.listen
	}
	if f.monitor != "" {
		po.Config.NATSMonitor = f.monitor
	}
	if flags.Lookup("fetchers") != nil {
		po.Fetchers = po.Config.Concurrency
		if flags.Changed("fetchers") {
			po.Fetchers = f.fetchers
		}
	}
	if flags.Lookup("writers") != nil {
		po.Writers = f.writers
	}
	p, err := pipeline.Start(ctx, po)
	if err != nil {
		return err
	}
	if p.Server != nil {
		fmt.Fprintf(errw, "spx: NATS on %s", p.Server.ClientURL())
		if m := p.Server.MonitorURL(); m != "" {
			fmt.Fprintf(errw, ", monitoring on %s", m)
		}
		fmt.Fprintln(errw)
	}
	fmt.Fprintf(errw, "spx: running %s; stop with Ctrl-C\n", roleList(po))
	<-ctx.Done()
	return p.Stop()
}

func roleList(po pipeline.Options) string {
	s := ""
	if po.Coordinator {
		s = "coordinator"
	}
	add := func(n int, what string) {
		if n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%d %s", n, what)
		}
	}
	add(po.Fetchers, "fetchers")
	add(po.Writers, "writers")
	return s
}
