// Package pipeline wires the roles into a running process: it starts the
// embedded NATS server (or connects to nats.url), the coordinator, fetchers
// and writers as asked, with the real terminal client, status store and
// Parquet archive behind the roles' small interfaces. It must not hold any
// role's logic: it only builds and stops things.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/fetcher"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/termwatch"
	"github.com/spx-archive/spx/pkg/thetadata"
	"github.com/spx-archive/spx/pkg/writer"
)

// Options says which roles to run and how.
type Options struct {
	Config      config.Config
	Coordinator bool // run the coordinator (needs Store)
	Fetchers    int  // fetch workers (0: none)
	Writers     int  // write workers (0: none)
	// Embedded starts an in-process NATS server on Config.NATSListen /
	// NATSMonitor / NATSStoreDir instead of connecting to Config.NATSURL.
	Embedded bool

	Store  spx.StatusStore // required with Coordinator
	Source spx.Source      // nil: a thetadata client from Config
	// Archive is where writers put files and the coordinator manifests;
	// nil: OpenArchive(Config), checked at start.
	Archive spx.ArchiveStore

	// Follow makes the coordinator enqueue each session by itself once
	// final (Config.FollowDelay after its close) and re-check failed days
	// every Config.FollowRecheck; Clock is its time (nil: the wall clock).
	Follow bool
	Clock  coordinator.Clock

	Topology        queue.Topology // Concurrency defaults to Config.Concurrency
	Policy          queue.Policy
	FetchRetries    uint64
	RetryBase       time.Duration
	InProgressEvery time.Duration
	TerminalEvery   time.Duration // terminal checks, default 3s
	// RequireTerminal fails Start (and Preflight) when no terminal
	// answers, before anything is created, for a one-shot command that
	// runs the pipeline for its own duration; services leave it unset and
	// wait for the terminal instead.
	RequireTerminal bool
	// StoreDisk measures the disk under nats.store_dir of the embedded
	// server (nil: the real one; tests simulate a small disk).
	StoreDisk queue.Disk
	// StoreWatch tunes the NATS store watch (Server and Logger are set
	// here); StagingSweep and OrphanAge the coordinator's staging sweep.
	StoreWatch              queue.StoreWatchConfig
	StagingSweep, OrphanAge time.Duration
	Logger                  *slog.Logger
}

// Pipeline is a running set of roles.
type Pipeline struct {
	Server *queue.Server // nil unless embedded
	NC     *nats.Conn
	JS     jetstream.JetStream
	Coord  *coordinator.Service // nil unless the coordinator runs here
	// Terminal watches the Theta Terminal; nil when Options.Source was given
	// or no role here talks to the terminal.
	Terminal *termwatch.Watcher
	// Store watches the NATS store's room for staged objects (with the
	// embedded server it also keeps its limits to what the disk allows).
	Store *queue.StoreWatch

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	workers  sync.WaitGroup // fetchers and writers, inside wg
	stop     chan struct{}  // closed by Shutdown: workers take no new job
	stopOnce sync.Once
	topo     queue.Topology // as created, for SetConcurrency
	mu       sync.Mutex
	errs     []error
	log      *slog.Logger
}

// Start starts the NATS side and the roles; they run until Stop or until
// ctx ends.
func Start(ctx context.Context, o Options) (*Pipeline, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o, err := applyTestKnobs(o)
	if err != nil {
		return nil, err
	}
	if err := Preflight(ctx, o); err != nil {
		return nil, err
	}
	cfg := o.Config
	var arc spx.ArchiveStore
	if o.Coordinator || o.Writers > 0 {
		if arc, err = startArchive(ctx, o, log); err != nil {
			return nil, err
		}
	}
	p := &Pipeline{log: log, stop: make(chan struct{})}
	url := cfg.NATSURL
	if o.Embedded {
		if err := os.MkdirAll(cfg.NATSStoreDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating nats.store_dir %s: %w", cfg.NATSStoreDir, err)
		}
		srv, err := queue.StartServer(queue.ServerOptions{Listen: cfg.NATSListen, Monitor: cfg.NATSMonitor, StoreDir: cfg.NATSStoreDir, Logger: log, Auth: NATSAuth(cfg),
			Disk: o.StoreDisk})
		if err != nil {
			return nil, err
		}
		p.Server, url = srv, srv.ClientURL()
	}
	nc, err := ConnectAuth(url, NATSAuth(cfg), "spx")
	if err != nil {
		p.shutdownServer()
		return nil, err
	}
	p.NC = nc
	if p.JS, err = jetstream.New(nc); err != nil {
		p.close()
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	topo := o.Topology
	if topo.Concurrency <= 0 {
		topo.Concurrency = cfg.Concurrency
	}
	src := o.Source
	rctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	if src == nil && (o.Coordinator || o.Fetchers > 0) {
		// The terminal may start later, restart or drop out: the watcher
		// holds planning and fetching while it is not up.
		topts := thetadata.Options{BaseURL: cfg.ThetaBaseURL, API: cfg.ThetaAPI, V3Format: cfg.ThetaFormat, Timeout: cfg.Timeout, Token: cfg.ThetaToken, Logger: log}
		if err := topts.Validate(); err != nil {
			cancel()
			p.close()
			return nil, err
		}
		p.Terminal = termwatch.New(termwatch.Config{Logger: log, Every: o.TerminalEvery,
			Dial: func(ctx context.Context) (*thetadata.Client, error) { return thetadata.New(ctx, topts) }, Lost: outageRecorder(o, log)})
		p.run(rctx, "terminal watcher", p.Terminal.Run)
		src = p.Terminal
	}
	wcfg := o.StoreWatch
	wcfg.Server, wcfg.Logger = p.Server, log
	p.Store = queue.NewStoreWatch(p.JS, wcfg)
	natsStore := func() *spx.NATSStore { st := p.Store.Status(); return &st }
	var ready func(context.Context) error
	var terminal func() *spx.TerminalStatus
	if p.Terminal != nil {
		ready = func(ctx context.Context) error { _, err := p.Terminal.Wait(ctx); return err }
		terminal = func() *spx.TerminalStatus { st := p.Terminal.Status(); return &st }
	}
	if o.Coordinator {
		if o.Store == nil {
			cancel()
			p.close()
			return nil, errors.New("the coordinator needs the status database")
		}
		p.Coord = coordinator.New(nc, p.JS, o.Store, src, Manifests{Store: arc}, coordinator.Config{
			Datasets: cfg.Datasets, Roots: cfg.Roots, Interval: cfg.Interval, StartDate: cfg.StartDate, PerExpiration: !cfg.ChainRequests,
			OutputDir: cfg.OutputDir, Topology: topo, Logger: log, RetryBase: o.RetryBase, Terminal: terminal,
			NATSStore: natsStore, StagingSweep: o.StagingSweep, OrphanAge: o.OrphanAge,
			Follow: coordinator.FollowConfig{Enabled: o.Follow, From: cfg.FollowFrom, Delay: cfg.FollowDelay, Recheck: cfg.FollowRecheck, Clock: o.Clock},
		})
		p.topo = topo
		// The topology must exist before workers look for it.
		if err := queue.Ensure(ctx, p.JS, topo); err != nil {
			cancel()
			p.close()
			return nil, err
		}
		p.run(rctx, "coordinator", p.Coord.Run)
	}
	// Checked once before any worker starts: with the embedded server
	// this sets the staging bucket's limit to the room there is.
	p.Store.Check(ctx)
	p.run(rctx, "NATS store watch", p.Store.Run)
	if o.Fetchers > 0 {
		f := fetcher.New(p.JS, src, fetcher.Config{Workers: o.Fetchers, Interval: cfg.Interval, Policy: o.Policy,
			Retries: o.FetchRetries, RetryBase: o.RetryBase, InProgressEvery: o.InProgressEvery, Ready: ready, Room: p.Store, Logger: log})
		p.runWorker(rctx, "fetcher", f.RunUntil)
	}
	if o.Writers > 0 {
		if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
			cancel()
			p.close()
			return nil, fmt.Errorf("creating processing.temp_dir %s: %w", cfg.TempDir, err)
		}
		w := writer.New(p.JS, Archive{TempDir: cfg.TempDir, Store: arc}, writer.Config{OutputDir: cfg.OutputDir, Workers: o.Writers,
			Policy: o.Policy, InProgressEvery: o.InProgressEvery, Room: p.Store, Logger: log})
		p.runWorker(rctx, "writer", w.RunUntil)
		if j := janitor(arc); j != nil {
			p.run(rctx, "archive janitor", j)
		}
	}
	if o.Coordinator {
		// Wait until the control API answers so callers can use it at once.
		client := coordinator.NewClient(nc)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if err := client.Ping(ctx, time.Second); err == nil {
				break
			} else if time.Now().After(deadline) || ctx.Err() != nil {
				_ = p.Stop()
				return nil, fmt.Errorf("the coordinator did not start: %w", errors.Join(err, p.Err()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p, nil
}

// DirError is a local directory the roles asked for cannot use: a
// configuration the user must change, found before any work was taken.
type DirError struct{ Err error }

func (e *DirError) Error() string { return e.Err.Error() }
func (e *DirError) Unwrap() error { return e.Err }

// Preflight checks, creating nothing, what the roles of o would otherwise
// find only once work was taken (a whole day downloaded, then every file
// refused): that the local archive directory (the writers' files, the
// coordinator's manifests), the writers' processing.temp_dir and an
// embedded server's nats.store_dir are writable directories or can be
// created (a *DirError); and, with RequireTerminal, that a Theta Terminal
// answers. An s3:// archive is checked when it is opened (startArchive).
func Preflight(ctx context.Context, o Options) error {
	cfg := o.Config
	type dir struct{ key, path string }
	var dirs []dir
	if _, _, s3 := cfg.S3Archive(); o.Archive == nil && !s3 && (o.Coordinator || o.Writers > 0) {
		dirs = append(dirs, dir{"processing.output_dir", cfg.OutputDir})
	}
	if o.Writers > 0 {
		dirs = append(dirs, dir{"processing.temp_dir", cfg.TempDir})
	}
	if o.Embedded {
		dirs = append(dirs, dir{"nats.store_dir", cfg.NATSStoreDir})
	}
	for _, d := range dirs {
		if err := config.CheckDir(d.key, d.path); err != nil {
			return &DirError{Err: err}
		}
	}
	if o.RequireTerminal && o.Source == nil && (o.Coordinator || o.Fetchers > 0) {
		topts := thetadata.Options{BaseURL: cfg.ThetaBaseURL, API: cfg.ThetaAPI, V3Format: cfg.ThetaFormat, Timeout: cfg.Timeout, Token: cfg.ThetaToken, Logger: o.Logger}
		if err := reachTerminal(ctx, topts); err != nil {
			return fmt.Errorf("reaching the Theta Terminal: %w", err)
		}
	}
	return nil
}

// reachTerminal finds the terminal and asks its status once (a fixed
// thetadata.api does not probe in thetadata.New).
func reachTerminal(ctx context.Context, o thetadata.Options) error {
	c, err := thetadata.New(ctx, o)
	if err != nil {
		return err
	}
	if _, err := c.Health(ctx); err != nil {
		return err
	}
	return nil
}

func (p *Pipeline) run(ctx context.Context, name string, fn func(context.Context) error) {
	p.wg.Go(func() {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			p.log.Error(name+" stopped", "err", err)
			p.mu.Lock()
			p.errs = append(p.errs, fmt.Errorf("%s: %w", name, err))
			p.mu.Unlock()
		}
	})
}

// runWorker runs a worker role that stops taking jobs when Shutdown
// closes p.stop and aborts the jobs in hand when ctx ends.
func (p *Pipeline) runWorker(ctx context.Context, name string, fn func(context.Context, <-chan struct{}) error) {
	p.workers.Add(1)
	p.run(ctx, name, func(ctx context.Context) error {
		defer p.workers.Done()
		return fn(ctx, p.stop)
	})
}

// Shutdown stops the pipeline gracefully: fetchers and writers take no new
// job and finish the one in hand (a fetch staged and handed to the writers,
// a file written and reported) while the coordinator keeps recording their
// events. Jobs still in hand after timeout are handed back to the queue (a
// nak: the next start, or another worker, does them). Then everything
// stops as with Stop. It returns within about timeout plus the few seconds
// the roles need to stop.
func (p *Pipeline) Shutdown(timeout time.Duration) error {
	p.stopOnce.Do(func() { close(p.stop) })
	done := make(chan struct{})
	go func() { p.workers.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		p.log.Info("drained: every job in hand finished")
	case <-t.C:
		p.log.Warn("drain timeout: handing back the jobs still in hand", "timeout", timeout)
		if p.cancel != nil {
			p.cancel()
		}
		<-done
	}
	if p.Coord != nil {
		// The last outcomes the workers reported are in SPX_EVENTS; give the
		// coordinator a moment to record them now rather than at the next
		// start.
		p.Coord.WaitEventsApplied(2 * time.Second)
	}
	return p.Stop()
}

// SetConcurrency changes the cluster-wide cap on fetches in flight at the
// terminal (the fetch consumer's MaxAckPending) while the pipeline runs.
// Only the process running the coordinator owns the topology. Fetch
// workers already started stay; above their number the cap needs more
// workers (a restart with --fetchers, or another spx fetcher).
func (p *Pipeline) SetConcurrency(ctx context.Context, n int) error {
	if p.Coord == nil {
		return errors.New("only the process running the coordinator sets the cluster-wide concurrency")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.topo
	t.Concurrency = n
	if _, err := p.JS.CreateOrUpdateConsumer(ctx, queue.StreamFetch, t.FetchConsumer()); err != nil {
		return fmt.Errorf("updating the fetchers consumer: %w", err)
	}
	p.topo = t
	return nil
}

// Err returns the errors roles stopped with so far.
func (p *Pipeline) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// Client returns a control API client on the pipeline's connection.
func (p *Pipeline) Client() *coordinator.Client { return coordinator.NewClient(p.NC) }

// Wait blocks until every role has stopped (ctx ended or Stop).
func (p *Pipeline) Wait() error {
	p.wg.Wait()
	return p.Err()
}

// Stop stops the roles, the connection and the embedded server.
func (p *Pipeline) Stop() error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	p.close()
	return p.Err()
}

func (p *Pipeline) close() {
	if p.NC != nil {
		_ = p.NC.Drain()
		p.NC.Close()
	}
	p.shutdownServer()
}

func (p *Pipeline) shutdownServer() {
	if p.Server != nil {
		p.Server.Shutdown()
	}
}

// Connect connects to NATS with the optional credentials file.
func Connect(url, credentials, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if credentials != "" {
		opts = append(opts, nats.UserCredentials(credentials))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w (is the server running? check nats.url / --nats)", url, err)
	}
	return nc, nil
}

// Archive adapts pkg/archive to the writer: Parquet files into Store.
type Archive struct {
	TempDir string
	Store   spx.ArchiveStore
}

// WriteFile implements writer.Archive.
func (a Archive) WriteFile(ctx context.Context, ds spx.Dataset, in io.Reader, name string) (writer.File, error) {
	fi, err := archive.Write(ctx, ds, in, a.Store, name, archive.Options{TempDir: a.TempDir})
	if err != nil {
		var le *archive.LineError
		if errors.As(err, &le) {
			return writer.File{}, &detailError{err: err, detail: fmt.Sprintf("line %d: %s", le.Line, le.Text)}
		}
		return writer.File{}, err
	}
	return writer.File{Rows: fi.Rows, Bytes: fi.Bytes, SHA256: fi.SHA256}, nil
}

// Remove implements writer.Archive.
func (a Archive) Remove(ctx context.Context, name string) error { return a.Store.Remove(ctx, name) }

// Location implements writer.Archive.
func (a Archive) Location(name string) string { return a.Store.Location(name) }

// Manifests adapts pkg/archive's manifests to the coordinator.
type Manifests struct {
	Store spx.ArchiveStore
}

// WriteManifest implements coordinator.Manifester.
func (m Manifests) WriteManifest(ctx context.Context, dayDir string, cm coordinator.Manifest) (string, error) {
	am := archive.Manifest{Dataset: cm.Dataset, Root: cm.Root, Date: cm.Date}
	for _, f := range cm.Files {
		am.Files = append(am.Files, archive.ManifestFile{File: f.File, Expiration: f.Expiration, Rows: f.Rows,
			Bytes: f.Bytes, SHA256: f.SHA256, Source: f.Source, FetchedAt: f.FetchedAt})
	}
	return archive.PutManifest(ctx, m.Store, dayDir, am)
}

// FileSHA256 implements coordinator.Manifester.
func (m Manifests) FileSHA256(ctx context.Context, name string) (string, error) {
	sum, _, err := archive.HashFile(ctx, m.Store, name)
	return sum, err
}

var (
	_ writer.Archive         = Archive{}
	_ coordinator.Manifester = Manifests{}
)

// detailError carries a sample of offending input for the error log.
type detailError struct {
	err    error
	detail string
}

func (e *detailError) Error() string  { return e.err.Error() }
func (e *detailError) Unwrap() error  { return e.err }
func (e *detailError) Detail() string { return e.detail }
