package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

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
	page := web.NewServer(web.Config{Store: store, Live: live, Logger: log, Database: cfg.DBPath,
		Retrier: web.RetryFunc(func(ctx context.Context, d spx.Date) (int, error) {
			res, err := p.Coord.Retry(ctx, coordinator.RetryRequest{Dates: []spx.Date{d}})
			return res.Jobs, err
		})})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", collector.Handler(metrics.JetStreamDepth(p.JS)))
	mux.Handle("/", page)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	log.Info("web page and metrics", "url", "http://"+ln.Addr().String()+"/", "metrics", "http://"+ln.Addr().String()+"/metrics")
	g.Go(func() error { return live.Run(ctx) })
	g.Go(func() error {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("serving the web page: %w", err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("stopping the web page: %w", err)
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving the web page: %w", err)
		}
		return nil
	})
	return ln.Addr().String(), nil
}
