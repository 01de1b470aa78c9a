package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// resolveConfigShared resolves the configuration for commands that may run
// beside a coordinator: the stored values are read if the status database
// can be opened read-only; if the coordinator holds it, flags, environment
// and defaults apply.
func resolveConfigShared(ctx context.Context, o *Options) (config.Config, error) {
	st, _, closeFn, err := openStoreForRead(ctx, o)
	switch {
	case errors.Is(err, statusdb.ErrLocked):
		return resolveConfig(ctx, o, nil)
	case err != nil:
		return config.Config{}, err
	}
	defer closeFn()
	return resolveConfig(ctx, o, st)
}

// natsURL is where the roles of this machine meet: nats.url, or the
// embedded server `spx run` starts on nats.listen.
func natsURL(cfg config.Config) string {
	if cfg.NATSURL != "" {
		return cfg.NATSURL
	}
	return "nats://" + cfg.NATSListen
}

// cluster is a connection to a running coordinator, or an all-in-one
// pipeline started in this process for the duration of a command.
type cluster struct {
	client *coordinator.Client
	nc     *nats.Conn
	local  *pipeline.Pipeline
	store  *statusdb.Store
	url    string
	// lost is closed when the connection to a running coordinator drops.
	lost     chan struct{}
	lostOnce sync.Once
}

// errCoordinatorLost ends a request whose coordinator went away before it
// answered: it may or may not have done what was asked.
var errCoordinatorLost = errors.New("the connection to the coordinator dropped before it answered")

// request returns ctx ended when the connection to the coordinator drops:
// a request in hand is not answered by the coordinator that restarts (the
// connection reconnects, but the reply is lost), so it must not wait for it.
func (c *cluster) request(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if c.lost == nil {
		return ctx, func() { cancel(nil) }
	}
	stop := make(chan struct{})
	go func() {
		select {
		case <-c.lost:
			cancel(fmt.Errorf("%w at %s; what it recorded stays (spx status shows the days), and planning a day cut short resumes when it starts again", errCoordinatorLost, c.url))
		case <-stop:
		}
	}()
	return ctx, func() { close(stop); cancel(nil) }
}

// callErr is err, or why ctx ended if the coordinator was lost.
func callErr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); err != nil && c != nil && errors.Is(c, errCoordinatorLost) {
		return c
	}
	return err
}

func (c *cluster) Close() {
	if c.local != nil {
		_ = c.local.Stop()
	}
	if c.nc != nil {
		c.nc.Close()
	}
	if c.store != nil {
		_ = c.store.Close()
	}
}

// connectCluster finds a coordinator; if none answers and startLocal is set,
// it starts the coordinator, fetchers and writers in this process (on the
// NATS server if one runs without a coordinator, else on an embedded one).
func connectCluster(ctx context.Context, o *Options, log *slog.Logger, startLocal bool) (*cluster, error) {
	cfg, err := resolveConfigShared(ctx, o)
	if err != nil {
		return nil, err
	}
	url := natsURL(cfg)
	// The connection reconnects (forever, every half second): a command
	// following its work survives a restart of the coordinator.
	lost := make(chan struct{})
	var lostOnce sync.Once
	nc, connErr := pipeline.ConnectAuth(url, pipeline.NATSAuth(cfg), "spx-cli", nats.Timeout(2*time.Second), nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { lostOnce.Do(func() { close(lost) }) }))
	if connErr == nil {
		client := coordinator.NewClient(nc)
		if err := client.Ping(ctx, 2*time.Second); err == nil {
			log.Debug("using the running coordinator", "nats", url)
			return &cluster{client: client, nc: nc, url: url, lost: lost}, nil
		}
	}
	if !startLocal {
		if nc != nil {
			nc.Close()
		}
		return nil, fmt.Errorf("no coordinator answered at %s: start one with spx run (or spx coordinator), or set nats.url / --nats", url)
	}
	if cfg.NATSURL != "" && connErr != nil {
		return nil, fmt.Errorf("cannot reach NATS at %s (nats.url): %w; start it, or unset nats.url to run everything in this process", url, connErr)
	}
	// A one-shot command says at once that no terminal answers, or that
	// the archive cannot be written, before it creates the database, the
	// JetStream store or any directory; a service (spx run) waits for the
	// terminal instead.
	po := pipeline.Options{Config: cfg, Coordinator: true, Fetchers: cfg.Concurrency, Writers: 2, Embedded: connErr != nil, RequireTerminal: true}
	if err := pipeline.Preflight(ctx, po); err != nil {
		if nc != nil {
			nc.Close()
		}
		return nil, preflightError(err)
	}
	store, err := openStoreForWrite(ctx, o)
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		if errors.Is(err, statusdb.ErrLocked) {
			return nil, fmt.Errorf("%w; but no coordinator answered at %s: is another spx command running? wait for it, or point --nats at its server", err, url)
		}
		return nil, err
	}
	if cfg, err = resolveConfig(ctx, o, store); err != nil {
		store.Close()
		return nil, err
	}
	// The terminal answered just now (Preflight).
	po = pipeline.Options{Config: cfg, Coordinator: true, Fetchers: cfg.Concurrency, Writers: 2, Store: store, Logger: log, Topology: topology(cfg)}
	if o.Now != nil {
		po.Clock = optionsClock{o.Now} // the coordinator decides what is final on the command's clock
	}
	if connErr == nil {
		po.Config.NATSURL = url // a server without a coordinator: join it
		nc.Close()
	} else {
		// A private embedded server for the duration of the command.
		po.Embedded = true
		po.Config.NATSListen, po.Config.NATSMonitor = "127.0.0.1:0", ""
	}
	log.Info("no coordinator running; starting one in this process", "nats", po.Config.NATSURL, "fetchers", po.Fetchers)
	p, err := pipeline.Start(ctx, po)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &cluster{client: p.Client(), local: p, store: store}, nil
}

// preflightError makes a directory the configuration names and the roles
// cannot use a usage error (exit 2): the user must choose another.
func preflightError(err error) error {
	var de *pipeline.DirError
	if errors.As(err, &de) {
		return Usage(err)
	}
	return err
}

// quietLogger is the logger for commands with a live display: warnings
// and errors only, unless --log-level asks for more.
func quietLogger(o *Options, w io.Writer) *slog.Logger {
	if o.Flags["log-level"] {
		return o.Logger()
	}
	level := slog.LevelWarn
	if o.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
