package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/metrics"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/termproxy"
	"github.com/spx-archive/spx/pkg/web"
	"github.com/spx-archive/spx/pkg/web/pipelinestats"
)

// serveHTTP listens on addr at once (so a busy port fails the command
// before it reports running) and serves, in g until ctx ends, the web page
// with live pipeline figures and Prometheus metrics on /metrics. It returns
// the address it listens on.
func serveHTTP(ctx context.Context, g *errgroup.Group, addr string, p *pipeline.Pipeline, store web.Store, cfg config.Config, collector *metrics.Collector, log *slog.Logger) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening for the web page on %s (is another spx running? choose another --http, or --http=\"\" to turn it off): %w", addr, err)
	}
	live := pipelinestats.New(p.NC, p.JS, pipelinestats.Config{Logger: log})
	var terminal func() *spx.TerminalStatus
	if p.Terminal != nil {
		terminal = func() *spx.TerminalStatus { st := p.Terminal.Status(); return &st }
		collector.WatchTerminal(terminal)
	}
	natsStore := func() *spx.NATSStore { st := p.Store.Status(); return &st }
	collector.WatchNATSStore(natsStore)
	access := webAccess(cfg, addr)
	page := web.NewServer(web.Config{Store: store, Live: live, Logger: log, Database: cfg.DBPath, Terminal: terminal, NATSStore: natsStore,
		Follow: p.Coord.FollowStatus, Access: access, Metrics: collector.Handler(metrics.JetStreamDepth(p.JS)),
		Retrier: web.RetryFunc(func(ctx context.Context, d spx.Date) (int, error) {
			res, err := p.Coord.Retry(ctx, coordinator.RetryRequest{Dates: []spx.Date{d}})
			return res.Jobs, err
		})})
	log.Info("web page and metrics", "url", "http://"+ln.Addr().String()+"/", "metrics", "http://"+ln.Addr().String()+"/metrics",
		"hosts", access.Hosts, "auth", access.User != "")
	g.Go(func() error { return live.Run(ctx) })
	g.Go(func() error { return web.ServeUntilDone(ctx, ln, page) })
	return ln.Addr().String(), nil
}

// webAccess is who may use the page served on addr: the names of web.hosts
// and the one addr names (besides localhost and IP addresses), with
// web.user and web.password when set.
func webAccess(cfg config.Config, addr string) web.Access {
	return web.Access{Hosts: cfg.WebHosts, User: cfg.WebUser, Password: cfg.WebPassword}.WithListenHost(addr)
}

// checkExposure refuses, before anything is created, to serve what other
// machines could use unchecked: the web page and /metrics (--http) on a
// non-loopback address without web.user and web.password, the embedded
// NATS server's clients (--listen) there without credentials, and its
// monitoring port (--monitor) there at all. Commands without --http serve
// none of them.
func checkExposure(ctx context.Context, o *Options, cmd *cobra.Command, f roleFlags) error {
	flags := cmd.Flags()
	if flags.Lookup("http") == nil {
		return nil
	}
	cfg, err := resolveConfigShared(ctx, o)
	if err != nil {
		return err
	}
	if f.http != "" && !termproxy.IsLoopback(f.http) && (cfg.WebUser == "" || cfg.WebPassword == "") {
		return Usagef("refusing to serve the web page and /metrics without credentials on --http %s, which other machines can reach "+
			"(anyone reaching it could read the archive's state and retry days): set web.user and web.password (SPX_WEB_USER, SPX_WEB_PASSWORD; "+
			"browsers and Prometheus then send them) and list the names people use to reach it in web.hosts; or serve on 127.0.0.1 and "+
			"reach it through ssh -L 8080:127.0.0.1:8080", f.http)
	}
	if cfg.NATSURL != "" {
		return nil // no embedded server: --listen and --monitor are not used
	}
	so := queue.ServerOptions{Listen: cfg.NATSListen, Monitor: cfg.NATSMonitor, Auth: pipeline.NATSAuth(cfg)}
	if f.listen != "" {
		so.Listen = f.listen
	}
	if flags.Changed("monitor") {
		so.Monitor = f.monitor
	}
	if err := so.CheckExposure(); err != nil {
		return Usage(err)
	}
	return nil
}
