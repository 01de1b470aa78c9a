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
	"sync/atomic"
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
	InProgressEvery time.Duration // InProgress heartbeat, default queue.DefaultInProgressEvery (keep well below AckWait)
	Retries         uint64        // in-process retries of a transient failure, default 3
	RetryBase       time.Duration // first in-process back-off, default 1s
	Policy          queue.Policy  // NakWithDelay back-off by delivery count
	// Ready, when set, blocks until the terminal answers (termwatch's
	// Watcher.Wait): a worker asks for its next job only then, so while the
	// terminal is down jobs wait in the queue instead of using up deliveries.
	Ready func(ctx context.Context) error
	// Room, when set, is the NATS store's room for staged objects: a
	// worker asks for its next job only while the store has room, and a
	// job in hand whose staging (or hand-on) a full store refuses waits
	// for room, kept in progress, instead of using up deliveries.
	Room   queue.Room
	Logger *slog.Logger
}

// Service runs fetch workers.
type Service struct {
	js   jetstream.JetStream
	src  Source
	cfg  Config
	host string
	log  *slog.Logger

	maxDeliver atomic.Int64 // the fetch consumer's MaxDeliver (0: unknown)
}

// chainSplitDelivery is the delivery of a chain fetch from which a
// transient failure splits it into one job per expiration instead of
// waiting for another delivery.
const chainSplitDelivery = 3

// chainDeliveries is the delivery from which a chain fetch that fails
// transiently is split: chainSplitDelivery, or the last delivery the fetch
// consumer allows if that comes first (a chain must never run out of
// deliveries and go dead for a transient error).
func (s *Service) chainDeliveries() uint64 {
	d := int64(chainSplitDelivery)
	if m := s.maxDeliver.Load(); m > 0 {
		d = min(d, m)
	}
	return uint64(d)
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
		cfg.InProgressEvery = queue.DefaultInProgressEvery
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
	if ci := cons.CachedInfo(); ci != nil {
		s.maxDeliver.Store(int64(ci.Config.MaxDeliver))
	}
	s.log.Info("fetchers started", "workers", s.cfg.Workers)
	s.waitReady(ctx, stop)
	queue.RunWorkersUntil(ctx, stop, cons, s.cfg.Workers, s.cfg.Name, s.log, func(ctx context.Context, worker string, msg jetstream.Msg) {
		s.handle(ctx, store, worker, msg)
		s.waitReady(ctx, stop) // before the next pull
	})
	return nil
}

// waitReady blocks until Config.Ready says the terminal answers and
// Config.Room that the NATS store has room, ctx ends or stop is closed (a
// shutdown while the terminal is away has no job in hand to wait for).
func (s *Service) waitReady(ctx context.Context, stop <-chan struct{}) {
	if s.cfg.Ready == nil && s.cfg.Room == nil {
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
	if s.cfg.Ready != nil {
		_ = s.cfg.Ready(ctx)
	}
	if s.cfg.Room != nil {
		_ = s.cfg.Room.WaitRoom(ctx)
	}
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
	if key.Chain() {
		s.handleChain(ctx, store, worker, msg, job, key, delivery, log)
		return
	}
	self := queue.ChainJob{Key: key, Generation: int(job.GetGeneration())}
	ev := func(kind spxv1.EventKind) *spxv1.Event { return s.event(kind, self, worker, delivery) }
	if delivery > 1 && len(s.notHandedOn(ctx, []queue.ChainJob{self}, log)) == 0 {
		// Handed on by an earlier delivery whose ack was lost: a writer
		// may be reading the object, which must not be staged again.
		if err := msg.Ack(); err != nil {
			log.Warn("acking a job already handed on failed", "err", err)
		}
		return
	}
	queue.Report(ctx, s.js, log, ev(spxv1.EventKind_EVENT_KIND_FETCHING))

	stop := queue.KeepInProgress(ctx, msg, s.cfg.InProgressEvery)
	interval := s.interval(job)
	started := time.Now()
	var res staged
	err = queue.RetryTransient(ctx, s.cfg.Retries, s.cfg.RetryBase, func(ctx context.Context) error {
		return queue.StageWithRoom(ctx, s.cfg.Room, log, func(ctx context.Context) error {
			var err error
			res, err = s.stageSplitting(ctx, store, key, interval)
			return err
		})
	})
	if err == nil {
		err = queue.WithRoom(ctx, s.cfg.Room, log, func(ctx context.Context) error { return s.publishWrite(ctx, res.writeJob(self, started)) })
	}
	stop()
	if err == nil {
		queue.Report(ctx, s.js, log, res.stagedEvent(ev(spxv1.EventKind_EVENT_KIND_STAGED), started))
		if err := msg.Ack(); err != nil {
			log.Warn("acking a staged job failed; it may be fetched again", "err", err)
		}
		log.Info("staged", "rows", res.rows, "took", time.Since(started).Round(time.Millisecond))
		return
	}

	// Nothing partial stays behind.
	if derr := queue.DeleteStaged(context.WithoutCancel(ctx), s.js, key.ObjectName()); derr != nil && !errors.Is(derr, jetstream.ErrObjectNotFound) {
		log.Warn("deleting a partial staging object failed; its TTL removes it", "err", derr)
	}
	if ctx.Err() != nil {
		queue.HandBack(msg, log) // for the next fetcher
		return
	}
	d := queue.Decide(err, delivery, s.cfg.Policy)
	switch d.Outcome {
	case spx.JobEmpty:
		if !queue.ReportWaiting(ctx, s.js, log, s.cfg.Room, msg, s.cfg.InProgressEvery, ev(spxv1.EventKind_EVENT_KIND_EMPTY)) {
			queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
			return
		}
		log.Info("no data")
	case spx.JobFailed:
		e := ev(spxv1.EventKind_EVENT_KIND_FAILED)
		e.ErrorClass, e.ErrorMessage, e.ErrorDetail = string(d.Class), err.Error(), spx.DetailOf(err)
		if !queue.ReportWaiting(ctx, s.js, log, s.cfg.Room, msg, s.cfg.InProgressEvery, e) {
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

// notHandedOn drops the jobs whose write of their generation (or newer)
// already waits (a redelivery after a lost ack, or a chain cut short after
// handing some jobs on). A job whose write cannot be looked up stays (staging it
// again is the old behaviour, not a loss).
func (s *Service) notHandedOn(ctx context.Context, jobs []queue.ChainJob, log *slog.Logger) []queue.ChainJob {
	out := jobs[:0:0]
	for _, j := range jobs {
		gen, waiting, err := queue.JobMessage(ctx, s.js, queue.StreamWrite, j.Key)
		if err == nil && waiting && gen >= j.Generation {
			log.Info("job already handed on to the writers by an earlier delivery; not staged again", "job", j.Key.String())
			continue
		}
		out = append(out, j)
	}
	return out
}

// publishWrite hands a staged job on to the writers. A write of the job
// already waiting reads the object just replaced, unless it is of an older
// generation: that one is replaced (queue.PublishWriteNewest).
func (s *Service) publishWrite(ctx context.Context, wj *spxv1.WriteJob) error {
	if err := queue.PublishWriteNewest(ctx, s.js, wj); err != nil {
		return spx.Transient(err)
	}
	return nil
}

// handleChain runs a chain fetch: one expiration=* request for the jobs of
// one (dataset, root, date), each expiration staged, handed on and
// reported as its own job would be. Whatever it does not stage (the
// request failed after the in-process retries, NO_DATA, or an expiration
// missing from the answer) is split off: each such job is queued on its
// own with its generation, and gets its own request, retries and
// outcome. A chain is an optimisation, never the only way a job can be
// fetched.
func (s *Service) handleChain(ctx context.Context, store jetstream.ObjectStore, worker string, msg jetstream.Msg, job *spxv1.FetchJob, chain spx.JobKey, delivery uint64, log *slog.Logger) {
	jobs, err := queue.ChainJobs(job, chain)
	if err != nil {
		log.Error("dropping an unreadable chain fetch", "err", err)
		_ = msg.TermWithReason("unreadable chain: " + err.Error())
		return
	}
	ev := func(kind spxv1.EventKind, j queue.ChainJob) *spxv1.Event { return s.event(kind, j, worker, delivery) }
	// From here: looking up a chain's jobs and reporting them takes a
	// request or two per job, which must not outlast the AckWait.
	stop := queue.KeepInProgress(ctx, msg, s.cfg.InProgressEvery)
	defer stop()
	if delivery > 1 {
		// An earlier delivery may have handed some jobs on before it was
		// cut short: their objects are being read by writers and must not
		// be staged again under them.
		jobs = s.notHandedOn(ctx, jobs, log)
		if len(jobs) == 0 {
			if err := msg.Ack(); err != nil {
				log.Warn("acking a chain fetch failed; it may be fetched again", "err", err)
			}
			return
		}
	}
	want := make(map[spx.Date]bool, len(jobs))
	for _, j := range jobs {
		want[j.Key.Expiration] = true
		queue.Report(ctx, s.js, log, ev(spxv1.EventKind_EVENT_KIND_FETCHING, j))
	}
	interval := s.interval(job)
	started := time.Now()
	var res map[spx.Date]staged
	err = queue.RetryTransient(ctx, s.cfg.Retries, s.cfg.RetryBase, func(ctx context.Context) error {
		return queue.StageWithRoom(ctx, s.cfg.Room, log, func(ctx context.Context) error {
			var err error
			res, err = s.stageChain(ctx, store, chain, want, interval)
			return err
		})
	})
	if err != nil && ctx.Err() != nil {
		queue.HandBack(msg, log)
		return
	}
	if spx.ClassOf(err) == spx.ClassTransient && delivery < s.chainDeliveries() {
		// The terminal is having a bad moment (it may be restarting):
		// the chain waits its back-off like any job, rather than turning
		// into a request per expiration at once.
		d := queue.Decide(err, delivery, s.cfg.Policy)
		for _, j := range jobs {
			e := ev(spxv1.EventKind_EVENT_KIND_FETCHING, j)
			e.ErrorClass, e.ErrorMessage = string(d.Class), err.Error()
			queue.Report(ctx, s.js, log, e)
		}
		log.Warn("chain fetch failed; will be redelivered", "err", err, "delay", d.Delay)
		if err := d.Apply(msg, err.Error()); err != nil {
			log.Warn("settling a chain fetch failed", "action", d.Action, "err", err)
		}
		return
	}
	// A chain only ever stages. Every job it did not stage (all of them
	// if it failed; an expiration the answer lacked; all on NO_DATA,
	// although the day's listing named them) is queued on its own, so its
	// own request decides: a job is never recorded empty or failed on the
	// strength of an expiration=* answer.
	var split []queue.ChainJob
	var rows int64
	// Handing on is retried in process: redelivering the chain would
	// stage again objects whose writes are already queued.
	retry := func(fn func(ctx context.Context) error) error {
		return queue.RetryTransient(ctx, s.cfg.Retries, s.cfg.RetryBase, func(ctx context.Context) error {
			return queue.WithRoom(ctx, s.cfg.Room, log, fn)
		})
	}
	switch {
	case spx.ClassOf(err) == spx.ClassPermanent:
		log.Warn("the terminal refused an expiration=* request; queueing its jobs one expiration each "+
			"(if every chain fails so, set thetadata.chain_requests false to save a request per day and root)",
			"jobs", len(jobs), "err", err)
		split = jobs
	case err != nil:
		log.Warn("chain fetch failed; queueing its jobs one expiration each", "jobs", len(jobs), "class", spx.ClassOf(err), "err", err)
		split = jobs
	default:
		for _, j := range jobs {
			r, ok := res[j.Key.Expiration]
			if !ok {
				split = append(split, j)
				continue
			}
			if err := retry(func(ctx context.Context) error { return s.publishWrite(ctx, r.writeJob(j, started)) }); err != nil {
				log.Warn("handing a staged job of the chain to the writers failed; the chain will be fetched again", "job", j.Key.String(), "err", err)
				queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
				return
			}
			queue.Report(ctx, s.js, log, r.stagedEvent(ev(spxv1.EventKind_EVENT_KIND_STAGED, j), started))
			rows += r.rows
		}
		if len(split) > 0 {
			log.Info("chain answer lacks planned expirations; queueing each on its own", "missing", len(split))
		}
	}
	for _, j := range split {
		err := retry(func(ctx context.Context) error {
			if err := queue.PublishFetchNewest(ctx, s.js, j.Key, j.Generation, interval); err != nil {
				return spx.Transient(err)
			}
			return nil
		})
		if err != nil {
			log.Warn("queueing a job of the chain on its own failed; the chain will be fetched again", "job", j.Key.String(), "err", err)
			queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
			return
		}
	}
	stop()
	if err := msg.Ack(); err != nil {
		log.Warn("acking a chain fetch failed; it may be fetched again", "err", err)
	}
	if len(res) == 0 {
		return
	}
	log.Info("chain staged", "jobs", len(jobs), "staged", len(res), "rows", rows, "took", time.Since(started).Round(time.Millisecond))
}

type staged struct {
	rows, contracts int64
	sha, url        string
	latency         time.Duration
}

// writeJob is the write job of j, staged as r from a fetch started then.
func (r staged) writeJob(j queue.ChainJob, started time.Time) *spxv1.WriteJob {
	return &spxv1.WriteJob{Key: queue.KeyToProto(j.Key), Generation: int32(j.Generation), Object: j.Key.ObjectName(), Rows: r.rows,
		Contracts: r.contracts, NdjsonSha256: r.sha, SourceUrl: r.url, LatencyMs: r.latency.Milliseconds(),
		FetchedAt: timestamppb.New(started)}
}

// stagedEvent fills a STAGED event e with r and returns it.
func (r staged) stagedEvent(e *spxv1.Event, started time.Time) *spxv1.Event {
	e.Rows, e.Contracts, e.Sha256, e.SourceUrl, e.LatencyMs = r.rows, r.contracts, r.sha, r.url, r.latency.Milliseconds()
	e.FetchedAt = timestamppb.New(started)
	return e
}

// event is an event of j from this fetcher's worker, at delivery.
func (s *Service) event(kind spxv1.EventKind, j queue.ChainJob, worker string, delivery uint64) *spxv1.Event {
	return &spxv1.Event{Kind: kind, Key: queue.KeyToProto(j.Key), Generation: int32(j.Generation), Worker: worker, Host: s.host,
		Delivery: int32(delivery), Stage: "fetch", Time: timestamppb.Now(), Pid: int32(os.Getpid())}
}

// interval is the bar interval a fetch job asks for (the configured one
// when it names none).
func (s *Service) interval(job *spxv1.FetchJob) time.Duration {
	if d := time.Duration(job.GetIntervalMs()) * time.Millisecond; d > 0 {
		return d
	}
	return s.cfg.Interval
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
	obj, err := openObject(ctx, s.js, store, key)
	if err != nil {
		return staged{}, err
	}
	var info spx.StreamInfo
	if err := s.produce(obj.ctx, obj.rowsOut, key, interval, rights, &info); err != nil {
		return staged{}, obj.abort(err)
	}
	res, err := obj.commit(info)
	if err == nil && res.rows == 0 {
		// A 200 with no rows is the same as NO_DATA for the archive.
		err = spx.ErrNoData
	}
	return res, err
}

// produce streams the rows of each right in turn into out.
func (s *Service) produce(ctx context.Context, out *rowsOut, key spx.JobKey, interval time.Duration, rights []byte, info *spx.StreamInfo) error {
	for _, right := range rights {
		req := spx.HistoryRequest{Dataset: key.Dataset, Root: key.Root, Date: key.Date, Expiration: key.Expiration, Right: right}
		if key.Dataset.Intraday() {
			req.Interval = interval
		}
		rs, err := s.src.History(ctx, req)
		if err != nil {
			return err
		}
		// A StagedStream writes the line itself, reusing what repeats from
		// row to row: this loop bounds how fast a response is staged.
		ss, isStaged := rs.(spx.StagedStream)
		for {
			var ok bool
			if isStaged {
				out.blk.b, ok = ss.NextStaged(out.blk.b)
			} else if ok = rs.Next(); ok {
				out.blk.b = spx.AppendStaged(out.blk.b, key.Dataset, rs.Row())
			}
			if !ok {
				break
			}
			if err := out.added(rs.Row()); err != nil {
				rs.Close()
				return err
			}
		}
		err = rs.Err()
		if info.URL == "" {
			*info = rs.Info()
		}
		rs.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// errUnsorted is an expiration=* answer whose rows of one expiration do
// not come together: each expiration's object is finished when the next
// begins, so the chain is fetched again one expiration at a time.
var errUnsorted = errors.New("the terminal's expiration=* answer did not keep each expiration's rows together")

// stageChain stages the jobs of a chain fetch (want: their expirations)
// from one expiration=* request. Rows come expiration by expiration
// (ThetaData's order, and the simulator's); each expiration's rows go into
// the object its own job would have staged, so writers cannot tell the
// difference. An expiration with no rows has no object and no entry in the
// result; rows of an expiration not in want are skipped. On an error no
// object of the chain is kept.
func (s *Service) stageChain(ctx context.Context, store jetstream.ObjectStore, chain spx.JobKey, want map[spx.Date]bool, interval time.Duration) (map[spx.Date]staged, error) {
	req := spx.HistoryRequest{Dataset: chain.Dataset, Root: chain.Root, Date: chain.Date, AllExpirations: true}
	if chain.Dataset.Intraday() {
		req.Interval = interval
	}
	out := map[spx.Date]staged{}
	var cur *object
	fail := func(err error) (map[spx.Date]staged, error) {
		if cur != nil {
			err = cur.abort(err)
		}
		for exp := range out {
			k := chain
			k.Expiration = exp
			if derr := queue.DeleteStaged(context.WithoutCancel(ctx), s.js, k.ObjectName()); derr != nil && !errors.Is(derr, jetstream.ErrObjectNotFound) {
				s.log.Warn("deleting a staged object of a failed chain fetch failed; its TTL removes it", "object", k.ObjectName(), "err", derr)
			}
		}
		return nil, err
	}
	rs, err := s.src.History(ctx, req)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	// commit finishes the current expiration's object, if any.
	commit := func() error {
		if cur == nil {
			return nil
		}
		exp := cur.key.Expiration
		res, err := cur.commit(rs.Info())
		cur = nil
		if err == nil {
			out[exp] = res
		}
		return err
	}
	ss, isStaged := rs.(spx.StagedStream)
	var line []byte
	skipped := map[spx.Date]int64{}
	for {
		var ok bool
		if isStaged {
			line, ok = ss.NextStaged(line[:0])
		} else if ok = rs.Next(); ok {
			line = spx.AppendStaged(line[:0], chain.Dataset, rs.Row())
		}
		if !ok {
			break
		}
		r := rs.Row()
		exp := r.Contract.Expiration
		if !want[exp] {
			skipped[exp]++
			continue
		}
		if cur == nil || cur.key.Expiration != exp {
			if _, done := out[exp]; done {
				return fail(spx.WithClass(spx.ClassSplit, fmt.Errorf("%w (%s came back after %s)", errUnsorted, exp, cur.key.Expiration)))
			}
			if err := commit(); err != nil {
				return fail(err)
			}
			k := chain
			k.Expiration = exp
			if cur, err = openObject(ctx, s.js, store, k); err != nil {
				return fail(err)
			}
		}
		cur.blk.b = append(cur.blk.b, line...)
		if err := cur.added(r); err != nil {
			return fail(err)
		}
	}
	if err := rs.Err(); err != nil {
		return fail(err)
	}
	if err := commit(); err != nil {
		return fail(err)
	}
	if len(skipped) > 0 {
		s.log.Info("chain fetch: skipped rows of expirations not planned for the day", "chain", chain.String(), "expirations", len(skipped))
	}
	return out, nil
}

// contract is one option contract of a staged object, for counting.
type contract struct {
	exp    spx.Date
	strike float64
	right  byte
}

// rowsOut is a staged object's content on its way out: staged lines are
// appended to blk, and added hands full blocks to the sink (hash and
// compress) and counts rows and contracts.
type rowsOut struct {
	out  *sink
	blk  *block
	rows int64
	// Rows of a contract come together, so the set is only touched when
	// the contract changes (calls then puts of one strike may repeat a
	// contract across requests; the set still counts it once).
	seen     map[contract]struct{}
	last     contract
	haveLast bool
}

func newRowsOut(ctx context.Context, w io.Writer) (*rowsOut, error) {
	out, err := newSink(ctx, w)
	if err != nil {
		return nil, err
	}
	o := &rowsOut{out: out, seen: map[contract]struct{}{}}
	if o.blk, err = out.next(); err != nil {
		out.abort()
		return nil, spx.Transient(fmt.Errorf("staging rows: %w", err))
	}
	return o, nil
}

// added counts r, whose staged line was just appended to blk, and sends
// blk on once it is full.
func (o *rowsOut) added(r *spx.Row) error {
	if len(o.blk.b) >= blockSize {
		o.out.send(o.blk)
		var err error
		if o.blk, err = o.out.next(); err != nil {
			return spx.Transient(fmt.Errorf("staging rows: %w", err))
		}
	}
	o.rows++
	if o.rows == 1000 {
		spx.PauseForTest("fetcher.mid_stream")
	}
	if c := (contract{r.Contract.Expiration, r.Contract.Strike, r.Contract.Right}); !o.haveLast || c != o.last {
		o.seen[c] = struct{}{}
		o.last, o.haveLast = c, true
	}
	return nil
}

// finish sends the last block and returns the SHA-256 of every line.
func (o *rowsOut) finish() (string, error) {
	o.out.send(o.blk)
	o.blk = nil
	sum, err := o.out.finish()
	if err != nil {
		return "", spx.Transient(fmt.Errorf("staging rows: %w", err))
	}
	return sum, nil
}

// object is one staging object being written: a rowsOut whose compressed
// stream goes through an io.Pipe into ObjectStore.Put.
type object struct {
	*rowsOut
	key    spx.JobKey
	js     jetstream.JetStream
	store  jetstream.ObjectStore
	job    context.Context // the caller's, ended by commit and abort
	ctx    context.Context // ends when the caller's does, or the object fails
	cancel context.CancelFunc
	pw     *io.PipeWriter
	put    chan error
}

// openObject starts the Put of key's staging object (replacing any).
func openObject(ctx context.Context, js jetstream.JetStream, store jetstream.ObjectStore, key spx.JobKey) (*object, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	out, err := newRowsOut(ctx, pw)
	if err != nil {
		cancel()
		return nil, err
	}
	o := &object{rowsOut: out, key: key, js: js, store: store, job: ctx, ctx: out.out.ctx, cancel: cancel, pw: pw, put: make(chan error, 1)}
	go func() {
		meta := jetstream.ObjectMeta{Name: key.ObjectName(), Opts: &jetstream.ObjectMetaOptions{ChunkSize: 512 << 10}}
		_, err := store.Put(ctx, meta, pr)
		if err != nil {
			pr.CloseWithError(err) // unblock the compressor
		}
		o.put <- err
	}()
	return o, nil
}

// abort gives the object up after err: no object, or a partial one the
// caller deletes. It returns the error to report: err, unless staging
// failed because the object store did.
func (o *object) abort(err error) error {
	defer o.cancel()
	o.out.abort()
	o.pw.CloseWithError(err)
	putErr := <-o.put
	if cerr := o.out.compressErr(); cerr != nil && putErr != nil {
		return spx.Transient(fmt.Errorf("staging %s in the object store: %w", o.key.ObjectName(), putErr))
	}
	return err
}

// commit finishes the object and records its metadata; info is the
// response it came from.
func (o *object) commit(info spx.StreamInfo) (staged, error) {
	defer o.cancel()
	res := staged{rows: o.rows, contracts: int64(len(o.seen)), url: info.URL, latency: info.Latency}
	sum, err := o.finish()
	o.pw.CloseWithError(err)
	putErr := <-o.put
	if err != nil {
		return res, err
	}
	if putErr != nil {
		return res, spx.Transient(fmt.Errorf("staging %s in the object store: %w", o.key.ObjectName(), putErr))
	}
	res.sha = sum
	meta := jetstream.ObjectMeta{Name: o.key.ObjectName(), Metadata: map[string]string{
		"rows":       strconv.FormatInt(res.rows, 10),
		"contracts":  strconv.FormatInt(res.contracts, 10),
		"sha256":     res.sha,
		"source_url": res.url,
		"latency_ms": strconv.FormatInt(res.latency.Milliseconds(), 10),
		// The lines are spx.AppendStaged's arrays; these name their values.
		"format":  "ndjson-array",
		"columns": strings.Join(spx.StagedColumns(o.key.Dataset), ","),
	}}
	// A deadline of its own: the job's context has none while InProgress
	// keeps the job alive, so a call stuck on a lost NATS node would stall it.
	mctx, cancel := context.WithTimeout(o.job, 30*time.Second)
	defer cancel()
	if err := o.store.UpdateMeta(mctx, o.key.ObjectName(), meta); err != nil {
		if derr := queue.DeleteStaged(context.WithoutCancel(o.job), o.js, o.key.ObjectName()); derr != nil && !errors.Is(derr, jetstream.ErrObjectNotFound) {
			slog.Debug("deleting a staged object without metadata failed; its TTL removes it", "object", o.key.ObjectName(), "err", derr)
		}
		return res, spx.Transient(fmt.Errorf("recording metadata of %s: %w", o.key.ObjectName(), err))
	}
	return res, nil
}
