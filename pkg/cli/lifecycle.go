package cli

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// defaultDrain is how long a stopping spx run, coordinator, fetcher or
// writer lets the jobs in hand finish before handing them back: longer
// than a typical greeks download and Parquet write (seconds), shorter than
// systemd's TimeoutStopSec in deployments/systemd (60 s).
const defaultDrain = 30 * time.Second

// liveKeys take effect on SIGHUP without a restart. Every other key is
// read once at start: the addresses, directories and credentials a
// running process has already opened.
var liveKeys = []string{
	"thetadata.concurrency",    // the fetch consumer's MaxAckPending (cluster-wide cap)
	"processing.start_date",    // gap analysis
	"processing.datasets",      // days planned from then on
	"processing.roots",         // days planned from then on
	"processing.interval",      // jobs queued from then on
	"thetadata.chain_requests", // jobs queued from then on
}

// sdNotify sends a state ("READY=1", "STOPPING=1") to the
// service manager when NOTIFY_SOCKET names one (systemd Type=notify); it
// does nothing otherwise. The protocol is one datagram on a unix socket
// (sd_notify(3)); an abstract socket name starts with '@'.
func sdNotify(log *slog.Logger, state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		log.Warn("telling the service manager failed", "state", state, "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		log.Warn("telling the service manager failed", "state", state, "err", err)
	}
}

// watchSignals turns a second SIGINT/SIGTERM (the first cancels the
// command's context and starts the drain) into hard(), and each SIGHUP
// into reload(). It returns a func that stops watching.
func watchSignals(log *slog.Logger, hard func(), reload func()) (stop func()) {
	term := make(chan os.Signal, 2)
	hup := make(chan os.Signal, 1)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-hup:
				reload()
			case sig := <-term:
				if n++; n == 2 {
					log.Warn("second signal: stopping now; jobs in hand are handed back", "signal", sig.String())
					hard()
				}
			}
		}
	}()
	return func() {
		signal.Stop(term)
		signal.Stop(hup)
		close(done)
	}
}

// reloader re-reads the stored configuration of a running process.
type reloader struct {
	o     *Options
	store *statusdb.Store // the coordinator's open database; nil in a worker-only process
	p     *pipeline.Pipeline
	start config.Config // as the process started
	cur   config.Config // with the live keys applied since
	// override applies what the command's own flags (--listen, --monitor)
	// and role set over the resolved configuration, so a value only a flag
	// set is not taken for a stored change; nil: nothing.
	override func(config.Config) config.Config
	log      *slog.Logger
}

// reload resolves the configuration again (flags and environment still win
// over stored values), applies the live keys that changed and logs the
// others as needing a restart.
func (r *reloader) reload(ctx context.Context) {
	var next config.Config
	var err error
	if r.store != nil {
		next, err = resolveConfig(ctx, r.o, r.store)
	} else {
		next, err = resolveConfigShared(ctx, r.o)
	}
	if err != nil {
		r.log.Error("SIGHUP: the stored configuration is invalid; keeping the running one", "err", err)
		return
	}
	if r.override != nil {
		next = r.override(next)
	}
	var live, restart []string
	for _, k := range config.Keys {
		switch {
		case slices.Contains(liveKeys, k.Name) && r.p.Coord != nil:
			if r.cur.Get(k.Name) != next.Get(k.Name) {
				live = append(live, k.Name+"="+next.Display(k.Name))
			}
		case r.start.Get(k.Name) != next.Get(k.Name):
			restart = append(restart, k.Name)
		}
	}
	if len(live) == 0 && len(restart) == 0 {
		r.log.Info("SIGHUP: configuration re-read; nothing changed")
		return
	}
	if len(live) > 0 {
		if next.Concurrency != r.cur.Concurrency {
			if err := r.p.SetConcurrency(ctx, next.Concurrency); err != nil {
				r.log.Error("SIGHUP: changing thetadata.concurrency failed; keeping the running value", "err", err)
				next.Concurrency = r.cur.Concurrency
			}
		}
		r.p.Coord.SetPlanning(coordinator.Planning{Datasets: next.Datasets, Roots: next.Roots, Interval: next.Interval, StartDate: next.StartDate, PerExpiration: !next.ChainRequests})
		r.log.Info("SIGHUP: applied without a restart", "keys", live)
	}
	if len(restart) > 0 {
		r.log.Warn("SIGHUP: these keys differ from the running values and take effect only after a restart", "keys", restart)
	}
	r.cur = next
}
