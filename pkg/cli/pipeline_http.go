package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/metrics"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/spx"
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
	page := web.NewServer(web.Config{Store: store, Live: live, Logger: log, Database: cfg.DBPath, Terminal: terminal, NATSStore: natsStore,
		Follow: p.Coord.FollowStatus,
		Retrier: web.RetryFunc(func(ctx context.Context, d spx.Date) (int, error) {
			res, err := p.Coord.Retry(ctx, coordinator.RetryRequest{Dates: []spx.Date{d}})
			return res.Jobs, err
		})})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", collector.Handler(metrics.JetStreamDepth(p.JS)))
	mux.Handle("/", page)
	log.Info("web page and metrics", "url", "http://"+ln.Addr().String()+"/", "metrics", "http://"+ln.Addr().String()+"/metrics")
	g.Go(func() error { return live.Run(ctx) })
	g.Go(func() error { return web.ServeUntilDone(ctx, ln, mux) })
	return ln.Addr().String(), nil
}
