// Package fetcher is the fetch role: workers on the shared `fetchers` pull
// consumer take one job at a time, stream the terminal's rows as NDJSON
// arrays (spx.AppendStaged) through s2 into the spx-staging object store,
// and hand the job on to the writers. It must not touch the status store or
// the Parquet archive: it only reports what happened as events.
package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// Source is the part of the terminal client a fetcher uses.
type Source interface {
	History(ctx context.Context, req spx.HistoryRequest) (spx.RowStream, error)
}

// Config tunes a fetch service. Zero values take the defaults.
type Config struct {
	Workers         int           // worker goroutines, default 4
	Name            string        // worker name prefix in events, default "fetcher"
	Interval        time.Duration // default interval when a job carries none, default 1m
	InProgressEvery time.Duration // InProgress heartbeat, default 15s (keep below AckWait)
	Retries         uint64        // in-process retries of a transient failure, default 3
	RetryBase       time.Duration // first in-process back-off, default 1s
	Policy          queue.Policy  // NakWithDelay back-off by delivery count
	// Ready, when set, blocks until the terminal answers (termwatch's
	// Watcher.Wait): a worker asks for its next job only then, so while the
	// terminal is down jobs wait in the queue instead of using up deliveries.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
}

// Service runs fetch workers.
type Service struct {
	js   jetstream.JetStream
	src  Source
	cfg  Config
	host string
	log  *slog.Logger
}

// New returns a fetch service reading jobs from js and rows from src.
func New(js jetstream.JetStream, src Source, cfg Config) *Service {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Name == "" {
		cfg.Name = "fetcher"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.InProgressEvery <= 0 {
		cfg.InProgressEvery = 15 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	return &Service{js: js, src: src, cfg: cfg, host: host, log: cfg.Logger.With("role", "fetcher")}
}

// Run waits for the topology, then runs the workers until ctx ends.
func (s *Service) Run(ctx context.Context) error { return s.RunUntil(ctx, nil) }

// RunUntil is Run that also returns once stop is closed and every worker
// has finished the job in hand: a graceful shutdown. A job whose work ctx
// ends first is handed back to the queue (a nak), never lost.
func (s *Service) RunUntil(ctx context.Context, stop <-chan struct{}) error {
	if err := queue.WaitTopology(ctx, s.js); err != nil {
		return err
	}
	cons, err := s.js.Consumer(ctx, queue.StreamFetch, queue.ConsumerFetchers)
	if err != nil {
		return fmt.Errorf("opening the fetchers consumer: %w", err)
	}
	store, err := s.js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		return fmt.Errorf("opening object store %s: %w", queue.Bucket, err)
	}
	s.log.Info("fetchers started", "workers", s.cfg.Workers)
	s.waitReady(ctx, stop)
	queue.RunWorkersUntil(ctx, stop, cons, s.cfg.Workers, s.cfg.Name, s.log, func(ctx context.Context, worker string, msg jetstream.Msg) {
		s.handle(ctx, store, worker, msg)
		s.waitReady(ctx, stop) // before the next pull
	})
	return nil
}

// waitReady blocks until Config.Ready says the terminal answers, ctx ends
// or stop is closed (a shutdown while the terminal is away has no job in
// hand to wait for).
func (s *Service) waitReady(ctx context.Context, stop <-chan struct{}) {
	if s.cfg.Ready == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if stop != nil {
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	_ = s.cfg.Ready(ctx)
}

func (s *Service) handle(ctx context.Context, store jetstream.ObjectStore, worker string, msg jetstream.Msg) {
	job, key, err := queue.DecodeFetchJob(msg.Data())
	if err != nil {
		s.log.Error("dropping an unreadable fetch job", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("unreadable job: " + err.Error())
		return
	}
	var delivery uint64 = 1
	if md, err := msg.Metadata(); err == nil {
		delivery = md.NumDelivered
	}
	log := s.log.With("job", key.String(), "worker", worker, "delivery", delivery)
	ev := func(kind spxv1.EventKind) *spxv1.Event {
		return &spxv1.Event{Kind: kind, Key: job.GetKey(), Generation: job.GetGeneration(), Worker: worker, Host: s.host,
			Delivery: int32(delivery), Stage: "fetch", Time: timestamppb.Now()}
	}
	queue.Report(ctx, s.js, log, ev(spxv1.EventKind_EVENT_KIND_FETCHING))

	stop := queue.KeepInProgress(ctx, msg, s.cfg.InProgressEvery)
	interval := time.Duration(job.GetIntervalMs()) * time.Millisecond
	if interval <= 0 {
		interval = s.cfg.Interval
	}
	started := time.Now()
	var res staged
	err = queue.RetryTransient(ctx, s.cfg.Retries, s.cfg.RetryBase, func(ctx context.Context) error {
		var err error
		res, err = s.stageSplitting(ctx, store, key, interval)
		return err
	})
	if err == nil {
		wj := &spxv1.WriteJob{Key: job.GetKey(), Generation: job.GetGeneration(), Object: key.ObjectName(), Rows: res.rows,
			Contracts: res.contracts, NdjsonSha256: res.sha, SourceUrl: res.url, LatencyMs: res.latency.Milliseconds(),
			FetchedAt: timestamppb.New(started)}
		if err = queue.PublishWrite(ctx, s.js, wj); errors.Is(err, queue.ErrAlreadyQueued) {
			err = nil // a write of this job is already waiting; it reads the object we just replaced
		} else if err != nil {
			err = spx.Transient(err)
		}
	}
	stop()
	if err == nil {
		e := ev(spxv1.EventKind_EVENT_KIND_STAGED)
		e.Rows, e.Contracts, e.Sha256, e.SourceUrl, e.LatencyMs = res.rows, res.contracts, res.sha, res.url, res.latency.Milliseconds()
		e.FetchedAt = timestamppb.New(started)
		queue.Report(ctx, s.js, log, e)
		if err := msg.Ack(); err != nil {
			log.Warn("acking a staged job failed; it may be fetched again", "err", err)
		}
		log.Info("staged", "rows", res.rows, "took", time.Since(started).Round(time.Millisecond))
		return
	}

	// Nothing partial stays behind.
	if derr := store.Delete(context.WithoutCancel(ctx), key.ObjectName()); derr != nil && !errors.Is(derr, jetstream.ErrObjectNotFound) {
		log.Warn("deleting a partial staging object failed; its TTL removes it", "err", derr)
	}
	if ctx.Err() != nil {
		queue.HandBack(msg, log) // for the next fetcher
		return
	}
	d := queue.Decide(err, delivery, s.cfg.Policy)
	switch d.Outcome {
	case spx.JobEmpty:
		if !queue.Report(ctx, s.js, log, ev(spxv1.EventKind_EVENT_KIND_EMPTY)) {
			queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
			return
		}
		log.Info("no data")
	case spx.JobFailed:
		e := ev(spxv1.EventKind_EVENT_KIND_FAILED)
		e.ErrorClass, e.ErrorMessage, e.ErrorDetail = string(d.Class), err.Error(), spx.DetailOf(err)
		if !queue.Report(ctx, s.js, log, e) {
			queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
			return
		}
		log.Error("fetch failed", "class", d.Class, "err", err)
	default:
		// Transient: tell the coordinator the last error (kept if the job
		// later goes dead) without changing its outcome.
		e := ev(spxv1.EventKind_EVENT_KIND_FETCHING)
		e.ErrorClass, e.ErrorMessage = string(d.Class), err.Error()
		queue.Report(ctx, s.js, log, e)
		log.Warn("fetch failed; will be redelivered", "err", err, "delay", d.Delay)
	}
	if err := d.Apply(msg, err.Error()); err != nil {
		log.Warn("settling a job message failed", "action", d.Action, "err", err)
	}
}

type staged struct {
	rows, contracts int64
	sha, url        string
	latency         time.Duration
}

// stageSplitting stages the job; if the terminal calls the request too large
// it stages calls then puts into the same object, once.
func (s *Service) stageSplitting(ctx context.Context, store jetstream.ObjectStore, key spx.JobKey, interval time.Duration) (staged, error) {
	res, err := s.stage(ctx, store, key, interval, []byte{0})
	if spx.ClassOf(err) != spx.ClassSplit {
		return res, err
	}
	s.log.Info("request too large; splitting by right", "job", key.String())
	res, err = s.stage(ctx, store, key, interval, []byte{'C', 'P'})
	if spx.ClassOf(err) == spx.ClassSplit {
		return res, spx.Permanent(fmt.Errorf("the terminal calls the request too large even split into calls and puts (use a coarser processing.interval): %w", err))
	}
	return res, err
}

// stage streams the rows of each right in turn into one object: rows →
// NDJSON arrays (spx.AppendStaged) → SHA-256 and s2 → io.Pipe →
// ObjectStore.Put. Memory stays flat whatever the size of the expiration.
func (s *Service) stage(ctx context.Context, store jetstream.ObjectStore, key spx.JobKey, interval time.Duration, rights []byte) (staged, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	var res staged
	produced := make(chan error, 1)
	go func() {
		err := s.produce(ctx, pw, key, interval, rights, &res)
		pw.CloseWithError(err)
		produced <- err
	}()
	meta := jetstream.ObjectMeta{Name: key.ObjectName(), Opts: &jetstream.ObjectMetaOptions{ChunkSize: 512 << 10}}
	_, putErr := store.Put(ctx, meta, pr)
	if putErr != nil {
		pr.CloseWithError(putErr) // unblock the producer
	}
	prodErr := <-produced
	if prodErr != nil {
		return res, prodErr // the terminal's error carries the class
	}
	if putErr != nil {
		return res, spx.Transient(fmt.Errorf("staging %s in the object store: %w", key.ObjectName(), putErr))
	}
	meta.Metadata = map[string]string{
		"rows":       strconv.FormatInt(res.rows, 10),
		"contracts":  strconv.FormatInt(res.contracts, 10),
		"sha256":     res.sha,
		"source_url": res.url,
		"latency_ms": strconv.FormatInt(res.latency.Milliseconds(), 10),
		// The lines are spx.AppendStaged's arrays; these name their values.
		"format":  "ndjson-array",
		"columns": strings.Join(spx.StagedColumns(key.Dataset), ","),
	}
	meta.Opts = nil
	// A deadline of its own: the job's context has none while InProgress
	// keeps the job alive, so a call stuck on a lost NATS node would stall it.
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := store.UpdateMeta(mctx, key.ObjectName(), meta); err != nil {
		return res, spx.Transient(fmt.Errorf("recording metadata of %s: %w", key.ObjectName(), err))
	}
	if res.rows == 0 {
		// A 200 with no rows is the same as NO_DATA for the archive.
		return res, spx.ErrNoData
	}
	return res, nil
}

func (s *Service) produce(ctx context.Context, w io.Writer, key spx.JobKey, interval time.Duration, rights []byte, res *staged) error {
	out, err := newSink(ctx, w)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			out.abort()
		}
	}()
	ctx = out.ctx // ends early if compressing fails
	type contract struct {
		exp    spx.Date
		strike float64
		right  byte
	}
	// Rows of a contract come together, so the set is only touched when the
	// contract changes (calls then puts of one strike may repeat a contract
	// across requests; the set still counts it once).
	seen := map[contract]struct{}{}
	var last contract
	haveLast := false
	blk, err := out.next()
	if err != nil {
		return spx.Transient(fmt.Errorf("staging rows: %w", err))
	}
	for _, right := range rights {
		req := spx.HistoryRequest{Dataset: key.Dataset, Root: key.Root, Date: key.Date, Expiration: key.Expiration, Right: right}
		if key.Dataset.Intraday() {
			req.Interval = interval
		}
		rs, err := s.src.History(ctx, req)
		if err != nil {
			if cerr := out.compressErr(); cerr != nil {
				return spx.Transient(fmt.Errorf("staging rows: %w", cerr))
			}
			return err
		}
		// A StagedStream writes the line itself, reusing what repeats from
		// row to row: this loop bounds how fast a response is staged.
		ss, staged := rs.(spx.StagedStream)
		for {
			var ok bool
			if staged {
				blk.b, ok = ss.NextStaged(blk.b)
			} else if ok = rs.Next(); ok {
				blk.b = spx.AppendStaged(blk.b, key.Dataset, rs.Row())
			}
			if !ok {
				break
			}
			r := rs.Row()
			if len(blk.b) >= blockSize {
				out.send(blk)
				if blk, err = out.next(); err != nil {
					rs.Close()
					return spx.Transient(fmt.Errorf("staging rows: %w", err))
				}
			}
			res.rows++
			if res.rows == 1000 {
				spx.PauseForTest("fetcher.mid_stream")
			}
			if c := (contract{r.Contract.Expiration, r.Contract.Strike, r.Contract.Right}); !haveLast || c != last {
				seen[c] = struct{}{}
				last, haveLast = c, true
			}
		}
		err = rs.Err()
		info := rs.Info()
		rs.Close()
		if err != nil {
			if cerr := out.compressErr(); cerr != nil {
				return spx.Transient(fmt.Errorf("staging rows: %w", cerr))
			}
			return err
		}
		if res.url == "" {
			res.url, res.latency = info.URL, info.Latency
		}
	}
	out.send(blk)
	ok = true
	sum, err := out.finish()
	if err != nil {
		return spx.Transient(fmt.Errorf("staging rows: %w", err))
	}
	res.contracts = int64(len(seen))
	res.sha = sum
	return nil
}
