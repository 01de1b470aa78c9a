// Package coordinator is the coordinator role: it owns the status store,
// plans jobs for gap days, publishes them, records every event the workers
// send, decides day status, writes the day manifests, turns dead letters into
// `dead` jobs and serves the control API (a NATS micro service named spx).
// It must not fetch or write market data itself.
package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

// Lister is the part of the terminal client the planner uses.
type Lister interface {
	Contracts(ctx context.Context, date spx.Date, roots []string) ([]spx.Contract, error)
}

// ManifestFile is one Parquet file of a day directory.
type ManifestFile struct {
	File       string // file name inside the day directory
	Expiration spx.Date
	Rows       int64
	Bytes      int64
	SHA256     string
	Source     string
	FetchedAt  time.Time
}

// Manifest lists the files of one (dataset, root, date) day directory.
type Manifest struct {
	Dataset spx.Dataset
	Root    string
	Date    spx.Date
	Files   []ManifestFile
}

// Manifester is the coordinator's view of the archive (a directory or a
// bucket): it writes a day directory's _manifest.json and returns its
// SHA-256, and re-hashes a written file for spx retry. Day directories and
// file names are relative to the archive's root (spx.DayDir,
// spx.JobKey.RelPath).
type Manifester interface {
	WriteManifest(ctx context.Context, dayDir string, m Manifest) (sha string, err error)
	FileSHA256(ctx context.Context, name string) (string, error)
}

// Config tunes the coordinator. Zero values take the defaults.
type Config struct {
	Datasets  []spx.Dataset // default greeks
	Roots     []string      // default SPXW, SPX
	Interval  time.Duration // default 1m
	StartDate spx.Date      // first day of gap analysis
	// PerExpiration turns off chain fetches: every job gets its own
	// request even for quote, eod and open_interest.
	PerExpiration bool
	OutputDir     string // archive root as configured, for messages
	Topology      queue.Topology
	Version       string // micro service version, default 0.1.0
	Logger        *slog.Logger
	Now           func() time.Time
	// ListRetryFor is how long a transient contract-listing failure (the
	// terminal disconnected, starting, or its queue full) is retried before
	// the day is left unplanned, a gap with the reason in the error log
	// (default 2m: longer than a terminal's usual disconnect or start-up).
	ListRetryFor time.Duration
	RetryBase    time.Duration // first back-off, default 1s (waits capped at 15s)
	// MaxRefetch bounds how often a corrupt staged object is fetched again
	// before the job fails (default 3).
	MaxRefetch int
	// Terminal, when set, reports the terminal's state for the status
	// reply (the pipeline's terminal watcher, which also holds planning
	// while the terminal is down).
	Terminal func() *spx.TerminalStatus
	// NATSStore, when set, reports whether the NATS store has room, for
	// the status reply (the pipeline's queue.StoreWatch); while it is full
	// the staging sweep runs every fullSweep.
	NATSStore func() *spx.NATSStore
	// StagingSweep is how often staged objects of finished jobs and chunks
	// of cut puts are removed (default 5m); OrphanAge how old a put's last
	// chunk must be before it counts as cut (default 15m: longer than a
	// terminal request may take).
	StagingSweep, OrphanAge time.Duration
	// Follow enqueues each session by itself once final and re-checks
	// failed days (off unless Follow.Enabled).
	Follow FollowConfig
}

// Service is the coordinator.
type Service struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	store spx.StatusStore
	src   Lister
	man   Manifester
	cfg   Config
	log   *slog.Logger

	mu   sync.Mutex // serialises changes to job and day records
	live atomic.Pointer[Planning]

	follow  *follower    // nil unless Config.Follow.Enabled
	waiting *waitingDays // days whose planning waits for the terminal (later.go)
}

// Planning is the part of Config a running coordinator can take anew
// (spx run and spx coordinator re-read it on SIGHUP): it applies to days
// planned and jobs queued from then on.
type Planning struct {
	Datasets  []spx.Dataset
	Roots     []string
	Interval  time.Duration
	StartDate spx.Date
	// PerExpiration sends one fetch per expiration even where the
	// endpoint takes expiration=* (thetadata.chain_requests false).
	PerExpiration bool
}

// SetPlanning replaces the planning settings; empty fields keep theirs
// (PerExpiration is always taken).
func (s *Service) SetPlanning(p Planning) {
	cur := s.planning()
	if len(p.Datasets) == 0 {
		p.Datasets = cur.Datasets
	}
	if len(p.Roots) == 0 {
		p.Roots = cur.Roots
	}
	if p.Interval <= 0 {
		p.Interval = cur.Interval
	}
	if p.StartDate.IsZero() {
		p.StartDate = cur.StartDate
	}
	s.live.Store(&p)
}

func (s *Service) planning() Planning { return *s.live.Load() }

// New returns a coordinator.
func New(nc *nats.Conn, js jetstream.JetStream, store spx.StatusStore, src Lister, man Manifester, cfg Config) *Service {
	if len(cfg.Datasets) == 0 {
		cfg.Datasets = []spx.Dataset{spx.Greeks}
	}
	if len(cfg.Roots) == 0 {
		cfg.Roots = slices.Clone(spx.DefaultRoots)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Version == "" {
		cfg.Version = "0.1.0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
		if cfg.Follow.Clock != nil {
			cfg.Now = cfg.Follow.Clock.Now
		}
	}
	if cfg.ListRetryFor <= 0 {
		cfg.ListRetryFor = 2 * time.Minute
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.MaxRefetch <= 0 {
		cfg.MaxRefetch = 3
	}
	if cfg.StagingSweep <= 0 {
		cfg.StagingSweep = 5 * time.Minute
	}
	if cfg.OrphanAge <= 0 {
		cfg.OrphanAge = 15 * time.Minute
	}
	s := &Service{nc: nc, js: js, store: store, src: src, man: man, cfg: cfg, log: cfg.Logger.With("role", "coordinator"),
		waiting: newWaitingDays()}
	s.live.Store(&Planning{Datasets: cfg.Datasets, Roots: cfg.Roots, Interval: cfg.Interval, StartDate: cfg.StartDate, PerExpiration: cfg.PerExpiration})
	if cfg.Follow.Enabled {
		s.follow = newFollower(s, cfg.Follow)
	}
	return s
}

// Run creates the topology, serves the control API, and consumes events and
// dead letters until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if err := queue.Ensure(ctx, s.js, s.cfg.Topology); err != nil {
		return err
	}
	svc, err := s.serveAPI(ctx)
	if err != nil {
		return err
	}
	defer svc.Stop()
	s.log.Info("coordinator started", "datasets", s.planning().Datasets, "roots", s.planning().Roots)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { errs <- s.consume(ctx, queue.StreamEvents, queue.ConsumerCoordinator, s.handleEventMsg) })
	wg.Go(func() { errs <- s.consume(ctx, queue.StreamDLQ, queue.ConsumerDeadLetters, s.handleDeadLetter) })
	if s.follow != nil {
		wg.Go(func() { _ = s.follow.run(ctx) })
	}
	wg.Go(func() { s.planWaiting(ctx) })
	// Beside the consumers: Reconcile waits for the events stored before
	// the start to be applied.
	wg.Go(func() { s.reconcileAtStart(ctx) })
	wg.Go(func() { s.sweepStaging(ctx) })
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// consume pulls batches from a durable consumer and handles each message in
// order; a handler error naks the message for a later retry.
func (s *Service) consume(ctx context.Context, stream, consumer string, handle func(ctx context.Context, msg jetstream.Msg) error) error {
	cons, err := s.js.Consumer(ctx, stream, consumer)
	if err != nil {
		return fmt.Errorf("opening consumer %s on %s: %w", consumer, stream, err)
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("pulling from "+stream+" failed; retrying", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		// queue.Drain returns as soon as ctx ends (shutdown no longer waits
		// out the 1 s pull).
		queue.Drain(ctx, batch.Messages(), func(msg jetstream.Msg) {
			if err := handle(ctx, msg); err != nil {
				s.log.Error("handling a message failed; will retry", "stream", stream, "err", err)
				_ = msg.NakWithDelay(time.Second)
				return
			}
			_ = msg.Ack()
		})
	}
	return nil
}

// reconcileAtStart runs Reconcile until it succeeds or ctx ends (NATS may
// be busy recovering its store right after a crash).
func (s *Service) reconcileAtStart(ctx context.Context) {
	wait := time.Second
	for ctx.Err() == nil {
		res, err := s.Reconcile(ctx)
		if err == nil {
			if len(res.Requeued)+len(res.Replanned)+res.StagedRemoved > 0 {
				s.log.Warn("recovered from an unclean stop", "jobs_requeued", len(res.Requeued),
					"days_replanned", res.Replanned, "staged_objects_removed", res.StagedRemoved)
			} else {
				s.log.Info("status store and work streams agree")
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("reconciling the status store with the work streams failed; retrying", "err", err, "in", wait)
		sleep(ctx, wait)
		wait = min(2*wait, time.Minute)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// publishLocked publishes the fetch message of a job recorded queued.
func (s *Service) publishLocked(ctx context.Context, j queue.ChainJob) error {
	dup, err := queue.PublishFetchDup(ctx, s.js, j.Key, j.Generation, s.planning().Interval)
	if err != nil && !errors.Is(err, queue.ErrAlreadyQueued) {
		return err
	}
	if !dup {
		return nil
	}
	// Published before inside the duplicate window: in flight if its fetch
	// message or the write message it led to is still there (the record
	// may lag behind the events); if both are gone (consumed, or lost in a
	// crash), only a new generation reaches the stream.
	return s.requeueIfGoneLocked(ctx, j, "enqueue: the earlier message of this generation is gone")
}

// publishChainLocked publishes one chain fetch for jobs recorded queued
// (one dataset, root and date). Published before (a duplicate), or refused
// because the day's chain subject holds another chain fetch, each job
// that has no message of its generation in the work streams is queued
// again on its own.
func (s *Service) publishChainLocked(ctx context.Context, jobs []queue.ChainJob) error {
	dup, err := queue.PublishChain(ctx, s.js, jobs, s.planning().Interval)
	if err != nil && !errors.Is(err, queue.ErrAlreadyQueued) {
		return err
	}
	if !dup && err == nil {
		s.log.Debug("chain fetch queued", "chain", jobs[0].Key.ChainKey().String(), "jobs", len(jobs))
		return nil
	}
	for _, j := range jobs {
		if err := s.requeueIfGoneLocked(ctx, j, "enqueue: not in the chain fetch already queued"); err != nil {
			return err
		}
	}
	return nil
}

// requeueIfGoneLocked queues j again with the next generation unless a
// message of its generation (or newer) waits in SPX_FETCH or SPX_WRITE.
func (s *Service) requeueIfGoneLocked(ctx context.Context, j queue.ChainJob, why string) error {
	current, err := s.hasGeneration(ctx, spx.JobRecord{Key: j.Key, Generation: j.Generation}, true, true)
	if err != nil || current {
		return err
	}
	return s.requeueLocked(ctx, j.Key, why)
}

// requeueLocked publishes a job again with the next generation, after
// removing any stale message of it from both work streams.
func (s *Service) requeueLocked(ctx context.Context, k spx.JobKey, why string) error {
	now := s.cfg.Now()
	rec, err := s.store.UpdateJob(ctx, k, func(r *spx.JobRecord) error {
		r.Generation++
		if r.Generation < 2 {
			r.Generation = 2
		}
		r.Outcome, r.UpdatedAt = spx.JobQueued, now
		if r.QueuedAt.IsZero() {
			r.QueuedAt = now
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording job %s: %w", k, err)
	}
	if err := queue.PurgeJob(ctx, s.js, queue.StreamFetch, k.FetchSubject()); err != nil {
		return err
	}
	if err := queue.PurgeJob(ctx, s.js, queue.StreamWrite, k.WriteSubject()); err != nil {
		return err
	}
	if err := queue.PublishFetch(ctx, s.js, k, rec.Generation, s.planning().Interval); err != nil {
		return err
	}
	s.log.Info("job queued again", "job", k.String(), "generation", rec.Generation, "why", why)
	return nil
}

// updateDayLocked recomputes a day's status from its jobs; when every job is
// done it writes the manifests and the day checksum.
func (s *Service) updateDayLocked(ctx context.Context, d spx.Date) error {
	jobs, err := s.store.JobsForDate(ctx, d)
	if err != nil {
		return fmt.Errorf("reading jobs of %s: %w", d, err)
	}
	if len(jobs) == 0 {
		// No job to count: the record (if any) says why (failed listing,
		// no contracts). Recomputing would make it queued with nothing
		// queued, for ever.
		return nil
	}
	var done, failed, empty int
	var rows, bytes int64
	var firstErr string
	for _, j := range jobs {
		switch {
		case j.Outcome.Done():
			done++
			if j.Outcome == spx.JobEmpty {
				empty++
			}
			rows += j.Rows
			bytes += j.Bytes
		case j.Outcome == spx.JobFailed || j.Outcome == spx.JobDead:
			failed++
			if firstErr == "" {
				firstErr = j.Key.String() + ": " + j.LastError
			}
		}
	}
	now := s.cfg.Now()
	var checksum string
	complete := len(jobs) > 0 && done == len(jobs)
	if complete && empty < len(jobs) {
		checksum, err = s.writeManifests(ctx, d, jobs)
		if err != nil {
			s.appendErrorLocked(ctx, spx.ErrorEntry{Type: "manifest", Message: err.Error(), Date: d})
			firstErr = err.Error()
		}
	}
	_, err = s.store.UpdateDay(ctx, d, func(r *spx.DayRecord) error {
		r.JobsTotal, r.JobsDone, r.RecordCount, r.FileSizeBytes, r.UpdatedAt = len(jobs), done, rows, bytes, now
		switch {
		case complete && firstErr != "":
			r.Status, r.ErrorMessage = spx.DayFailed, firstErr
		case complete && empty == len(jobs):
			r.Status, r.Checksum, r.ErrorMessage = spx.DayNoData, "", ""
		case complete:
			r.Status, r.Checksum, r.ErrorMessage = spx.DaySuccess, checksum, ""
		case done+failed == len(jobs) && failed > 0:
			r.ErrorMessage = firstErr
			if done == 0 {
				r.Status = spx.DayFailed
			} else {
				r.Status = spx.DayPartial
			}
		case done+failed > 0 || r.Status == spx.DayProcessing:
			r.Status = spx.DayProcessing
		default:
			r.Status = spx.DayQueued
		}
		if r.Status.Complete() || r.Status == spx.DayFailed || r.Status == spx.DayPartial {
			if r.CompletedAt.IsZero() {
				r.CompletedAt = now
				if !r.StartedAt.IsZero() {
					r.ProcessingDurationMs = now.Sub(r.StartedAt).Milliseconds()
				}
			}
		} else {
			r.CompletedAt = time.Time{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording day %s: %w", d, err)
	}
	return nil
}

// writeManifests writes one _manifest.json per (dataset, root) day directory
// and returns the day checksum: SHA-256 over the manifests' SHA-256s in
// directory order.
func (s *Service) writeManifests(ctx context.Context, d spx.Date, jobs []spx.JobRecord) (string, error) {
	if s.man == nil {
		return "", nil
	}
	type dir struct {
		ds   spx.Dataset
		root string
	}
	groups := map[dir][]ManifestFile{}
	for _, j := range jobs {
		k := dir{j.Key.Dataset, j.Key.Root}
		if _, ok := groups[k]; !ok {
			groups[k] = nil
		}
		if j.Outcome != spx.JobWritten {
			continue
		}
		groups[k] = append(groups[k], ManifestFile{File: path.Base(j.Key.RelPath()), Expiration: j.Key.Expiration,
			Rows: j.Rows, Bytes: j.Bytes, SHA256: j.SHA256, Source: j.SourceURL, FetchedAt: j.FetchedAt})
	}
	dirs := make([]dir, 0, len(groups))
	for k, files := range groups {
		if len(files) > 0 {
			dirs = append(dirs, k)
		}
	}
	sort.Slice(dirs, func(i, j int) bool {
		return spx.DayDir(dirs[i].ds, dirs[i].root, d) < spx.DayDir(dirs[j].ds, dirs[j].root, d)
	})
	h := sha256.New()
	for _, k := range dirs {
		dayDir := spx.DayDir(k.ds, k.root, d)
		sum, err := s.man.WriteManifest(ctx, dayDir, Manifest{Dataset: k.ds, Root: k.root, Date: d, Files: groups[k]})
		if err != nil {
			return "", fmt.Errorf("writing the manifest of %s: %w (check processing.output_dir: disk space and permissions, or the bucket and its credentials; then spx retry %s)", dayDir, err, d)
		}
		h.Write([]byte(sum))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Service) appendError(ctx context.Context, e spx.ErrorEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendErrorLocked(ctx, e)
}

func (s *Service) appendErrorLocked(ctx context.Context, e spx.ErrorEntry) {
	if e.Time.IsZero() {
		e.Time = s.cfg.Now()
	}
	if err := s.store.AppendError(ctx, e); err != nil {
		s.log.Warn("recording an error in the error log failed", "err", err, "error", e.Message)
	}
}
