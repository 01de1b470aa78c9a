package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/metrics"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// defaultHTTP is where spx run and spx coordinator serve the web page and
// /metrics unless --http says otherwise.
const defaultHTTP = "127.0.0.1:8080"

// roleFlags are the flags of spx run and the single-role commands.
type roleFlags struct {
	fetchers, writers int
	listen, monitor   string
	http              string
	follow            bool
	drain             time.Duration
}

func newRunCommand(o *Options) *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run everything in one process: embedded NATS, coordinator, fetchers, writers",
		Long: `Run the whole pipeline in this process until interrupted: an embedded NATS
server with JetStream on disk (nats.store_dir, clients on --listen, monitoring
on --monitor), the coordinator, --fetchers fetch workers and --writers write
workers. Remote fetchers and writers may join through --listen; a listen
address other than loopback needs credentials (nats.user/nats.password,
nats.token, nats.nkey_seed_file or mutual TLS), see docs/multi-machine.md.

The web page and Prometheus /metrics are served on --http (default
127.0.0.1:8080; --http="" turns them off); on an address other machines
reach they need web.user and web.password (basic auth), and they answer only
to localhost, IP addresses, the --http host and the names in web.hosts.
Monitoring (--monitor) stays on loopback: nats-server does not authenticate it.

With nats.url set (--nats) no server is started: every role connects there.
Queue work with spx process, spx process-gaps or spx enqueue-gaps.`,
		Example: "  spx run\n  spx run --fetchers 8 --http 127.0.0.1:9090\n  SPX_NATS_USER=spx SPX_NATS_PASSWORD=… spx run --listen 0.0.0.0:4222",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRoles(cmd.Context(), o, cmd, cmd.ErrOrStderr(), true, f)
		},
	}
	addRoleFlags(cmd, &f, true, true, true)
	return cmd
}

func addRoleFlags(cmd *cobra.Command, f *roleFlags, server, fetchers, writers bool) {
	cmd.Flags().DurationVar(&f.drain, "drain-timeout", defaultDrain, "on SIGTERM or Ctrl-C, how long jobs in hand may finish before they are handed back to the queue (a second signal stops at once)")
	if fetchers {
		cmd.Flags().IntVar(&f.fetchers, "fetchers", 0, "fetch workers (default thetadata.concurrency)")
	}
	if writers {
		cmd.Flags().IntVar(&f.writers, "writers", 2, "write workers")
	}
	if server {
		cmd.Flags().StringVar(&f.listen, "listen", "", "embedded NATS client address (nats.listen, default 127.0.0.1:4222)")
		cmd.Flags().StringVar(&f.monitor, "monitor", "", `embedded NATS monitoring address, loopback only (nats.monitor, default 127.0.0.1:8222; "" turns it off)`)
		cmd.Flags().StringVar(&f.http, "http", defaultHTTP, `web page and /metrics address; "" turns them off; a non-loopback one needs web.user and web.password`)
		cmd.Flags().BoolVar(&f.follow, "follow", true, "enqueue each trading day by itself once final (follow.delay after the close) and re-check failed days every follow.recheck (follow.enabled; --follow=false turns it off)")
	}
}

// topology is the JetStream topology cfg asks for (replicas on a cluster).
func topology(cfg config.Config) queue.Topology {
	return queue.Topology{Replicas: cfg.NATSReplicas, StagingReplicas: cfg.NATSStagingReplicas}
}

// runRoles starts the roles asked for and blocks until ctx ends or a role fails.
func runRoles(ctx context.Context, o *Options, cmd *cobra.Command, errw io.Writer, coordinatorRole bool, f roleFlags) error {
	flags := cmd.Flags()
	if flags.Changed("fetchers") && f.fetchers < 0 || flags.Changed("writers") && f.writers < 0 {
		return Usagef("--fetchers and --writers must not be negative")
	}
	if err := checkExposure(ctx, o, cmd, f); err != nil {
		return err
	}
	// Data directories 0700 and files 0600: the archive, the status
	// database and the JetStream store are this user's alone.
	restrictUmask()
	log := o.Logger()
	po := pipeline.Options{Coordinator: coordinatorRole, Logger: log}
	var store *statusdb.Store
	if coordinatorRole {
		var err error
		if store, err = openStoreForWrite(ctx, o); err != nil {
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
	}
	// What this command's own flags and role change in the resolved
	// configuration; SIGHUP applies the same to what it re-reads.
	override := func(c config.Config) config.Config {
		if !coordinatorRole {
			c.NATSURL = natsURL(c)
		}
		if f.listen != "" {
			c.NATSListen = f.listen
		}
		if flags.Changed("monitor") { // --monitor "" turns monitoring off
			c.NATSMonitor = f.monitor
		}
		return c
	}
	po.Config = override(po.Config)
	if coordinatorRole {
		po.Follow = po.Config.Follow
		if flags.Changed("follow") {
			po.Follow = f.follow
		}
	}
	po.Topology = topology(po.Config)
	if flags.Lookup("fetchers") != nil {
		po.Fetchers = po.Config.Concurrency
		if flags.Changed("fetchers") {
			po.Fetchers = f.fetchers
		}
	}
	if flags.Lookup("writers") != nil {
		po.Writers = f.writers
	}
	if f.drain <= 0 {
		return Usagef("--drain-timeout must be positive, e.g. 30s")
	}
	// The roles outlive the first signal (which ends ctx) for the drain;
	// hard ends them: a second signal, or ctx ending while they start.
	hardCtx, hard := context.WithCancel(context.WithoutCancel(ctx))
	defer hard()
	early := context.AfterFunc(ctx, hard)
	p, err := pipeline.Start(hardCtx, po)
	early()
	if err != nil {
		return preflightError(err)
	}
	if ctx.Err() != nil {
		return p.Stop()
	}
	rl := &reloader{o: o, store: store, p: p, start: po.Config, cur: po.Config, override: override, log: log}
	stopSignals := watchSignals(log, hard, func() { rl.reload(hardCtx) })
	defer stopSignals()
	if p.Server != nil {
		fmt.Fprintf(errw, "spx: NATS on %s", p.Server.ClientURL())
		if m := p.Server.MonitorURL(); m != "" {
			fmt.Fprintf(errw, ", monitoring on %s", m)
		}
		fmt.Fprintln(errw)
	}
	g, gctx := errgroup.WithContext(ctx)
	if coordinatorRole {
		collector := metrics.NewCollector(log, nil)
		stop, err := collector.Listen(p.NC)
		if err != nil {
			_ = p.Stop()
			return err
		}
		defer stop()
		if f.http != "" {
			addr, err := serveHTTP(gctx, g, f.http, p, store, po.Config, collector, log)
			if err != nil {
				_ = p.Stop()
				return err
			}
			fmt.Fprintf(errw, "spx: web page on http://%s/, metrics on http://%s/metrics\n", addr, addr)
		}
	}
	if po.Fetchers > 0 || po.Writers > 0 {
		hb := metrics.NewHeartbeat(p.NC, "", po.Fetchers, po.Writers, 0, log)
		g.Go(func() error { return hb.Run(gctx) })
	}
	fmt.Fprintf(errw, "spx: running %s; stop with Ctrl-C\n", roleList(po))
	sdNotify(log, "READY=1\nSTATUS=running "+roleList(po))
	g.Go(func() error { <-gctx.Done(); return nil })
	err = g.Wait()
	sdNotify(log, "STOPPING=1")
	if ctx.Err() != nil && err == nil {
		fmt.Fprintf(errw, "spx: stopping: finishing the jobs in hand (at most %s; a second Ctrl-C stops at once)\n", f.drain)
	}
	started := time.Now()
	if serr := p.Shutdown(f.drain); err == nil {
		err = serr
	}
	log.Info("stopped", "took", time.Since(started).Round(time.Millisecond))
	return err
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
