// Package writer is the write role: workers on the shared `writers` pull
// consumer take one staged job at a time, stream the object back through
// s2 (or zstd), check its NDJSON SHA-256 while reading, and have the archive
// turn it into a Parquet file. It must not touch the status store or call the
// terminal: it reports what happened as events.
package writer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// File describes a Parquet file the archive wrote.
type File struct {
	Rows   int64
	Bytes  int64
	SHA256 string // of the Parquet file
}

// Archive converts uncompressed NDJSON into one Parquet file of the
// archive, leaving nothing partial behind on error. Names are relative to
// the archive's root (spx.JobKey.RelPath); the archive may be a local
// directory or a bucket.
type Archive interface {
	WriteFile(ctx context.Context, ds spx.Dataset, in io.Reader, name string) (File, error)
	// Remove deletes a file written from input that turned out bad.
	Remove(ctx context.Context, name string) error
	// Location is name as a person finds it, for messages.
	Location(name string) string
}

// Config tunes a write service. Zero values take the defaults.
type Config struct {
	OutputDir       string        // the archive root (processing.output_dir)
	Workers         int           // default 2
	Name            string        // worker name prefix, default "writer"
	InProgressEvery time.Duration // InProgress heartbeat, default queue.DefaultInProgressEvery (keep well below AckWait)
	// ReadTimeout bounds reading one staged object: ReadTimeout plus one
	// second per MiB of object. Without a deadline of our own the object
	// store gives a read 5 s in all (larger objects then always failed), and
	// a read whose NATS node died mid-stream would hang while InProgress
	// kept the job alive. Default 2m.
	ReadTimeout time.Duration
	// StallTimeout ends a read of a staged object that has waited this
	// long inside one Read: the consumer behind an object store Get can
	// sit on a NATS node that went away and then never deliver again. The
	// job is redelivered and the next Get starts afresh. Time the
	// converter spends between reads does not count. Default 20s.
	StallTimeout time.Duration
	Policy       queue.Policy
	// Room, when set, is the NATS store's room: an outcome a full store
	// refuses waits for room, kept in progress, instead of the job being
	// handed back and done again (writers make the room, deleting what
	// they have written).
	Room   queue.Room
	Logger *slog.Logger
}

// Service runs write workers.
type Service struct {
	js   jetstream.JetStream
	arc  Archive
	cfg  Config
	host string
	log  *slog.Logger
}

// New returns a write service.
func New(js jetstream.JetStream, arc Archive, cfg Config) *Service {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Name == "" {
		cfg.Name = "writer"
	}
	if cfg.InProgressEvery <= 0 {
		cfg.InProgressEvery = queue.DefaultInProgressEvery
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 20 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	return &Service{js: js, arc: arc, cfg: cfg, host: host, log: cfg.Logger.With("role", "writer")}
}

// Run waits for the topology, then runs the workers until ctx ends.
func (s *Service) Run(ctx context.Context) error { return s.RunUntil(ctx, nil) }

// RunUntil is Run that also returns once stop is closed and every worker
// has finished the job in hand: a graceful shutdown. A job whose work ctx
// ends first is handed back to the queue (a nak), never lost.
func (s *Service) RunUntil(ctx context.Context, stop <-chan struct{}) error {
	if s.cfg.OutputDir == "" {
		return errors.New("writer has no output directory: set processing.output_dir (--output-dir)")
	}
	if err := queue.WaitTopology(ctx, s.js); err != nil {
		return err
	}
	cons, err := s.js.Consumer(ctx, queue.StreamWrite, queue.ConsumerWriters)
	if err != nil {
		return fmt.Errorf("opening the writers consumer: %w", err)
	}
	store, err := s.js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		return fmt.Errorf("opening object store %s: %w", queue.Bucket, err)
	}
	s.log.Info("writers started", "workers", s.cfg.Workers, "output_dir", s.cfg.OutputDir)
	queue.RunWorkersUntil(ctx, stop, cons, s.cfg.Workers, s.cfg.Name, s.log, func(ctx context.Context, worker string, msg jetstream.Msg) {
		s.handle(ctx, store, worker, msg)
	})
	return nil
}

// errRefetch marks a staged object that cannot be trusted: missing, corrupt,
// or not matching the fetcher's digest or row count. The fetch is redone.
var errRefetch = errors.New("staged object is missing or corrupt")

type refetchError struct{ err error }

func (e *refetchError) Error() string { return e.err.Error() }
func (e *refetchError) Unwrap() error { return e.err }
func (e *refetchError) Is(t error) bool {
	return t == errRefetch
}

// readError is a failure reading the object store (not the data): transient.
type readError struct{ err error }

func (e *readError) Error() string              { return "reading the staged object: " + e.err.Error() }
func (e *readError) Unwrap() error              { return e.err }
func (e *readError) ErrorClass() spx.ErrorClass { return spx.ClassTransient }

func (s *Service) handle(ctx context.Context, store jetstream.ObjectStore, worker string, msg jetstream.Msg) {
	job, key, err := queue.DecodeWriteJob(msg.Data())
	if err != nil {
		s.log.Error("dropping an unreadable write job", "subject", msg.Subject(), "err", err)
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
			Delivery: int32(delivery), Stage: "write", Time: timestamppb.Now(), SourceUrl: job.GetSourceUrl(),
			LatencyMs: job.GetLatencyMs(), FetchedAt: job.GetFetchedAt(), Contracts: job.GetContracts(), Pid: int32(os.Getpid())}
	}
	stop := queue.KeepInProgress(ctx, msg, s.cfg.InProgressEvery)
	started := time.Now()
	file, err := s.write(ctx, store, key, job)
	stop()

	switch {
	case err == nil:
		spx.PauseForTest("writer.before_ack")
		e := ev(spxv1.EventKind_EVENT_KIND_WRITTEN)
		e.Rows, e.Bytes, e.Sha256, e.File = file.Rows, file.Bytes, file.SHA256, key.RelPath()
		if !queue.ReportWaiting(ctx, s.js, log, s.cfg.Room, msg, s.cfg.InProgressEvery, e) {
			// Acking now would lose the job: the coordinator would never
			// hear it was written. Write it again (same bytes) later.
			queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
			return
		}
		if err := msg.Ack(); err != nil {
			log.Warn("acking a written job failed; it may be written again (same bytes)", "err", err)
		}
		if err := queue.DeleteStaged(context.WithoutCancel(ctx), s.js, objectName(key, job)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			log.Warn("deleting the staged object failed; the coordinator's sweep removes it", "err", err)
		}
		log.Info("written", "rows", file.Rows, "bytes", file.Bytes, "took", time.Since(started).Round(time.Millisecond))
	case ctx.Err() != nil:
		// Stopping before the file was complete: nothing partial is kept.
		queue.HandBack(msg, log, "err", err)
	case errors.Is(err, errRefetch):
		e := ev(spxv1.EventKind_EVENT_KIND_REFETCH)
		e.ErrorClass, e.ErrorMessage = string(spx.ClassTransient), err.Error()
		if !queue.ReportWaiting(ctx, s.js, log, s.cfg.Room, msg, s.cfg.InProgressEvery, e) {
			queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
			return
		}
		log.Warn("staged object unusable; asking for a new fetch", "err", err)
		_ = msg.TermWithReason("refetch: " + truncate(err.Error(), 150))
		if err := queue.DeleteStaged(context.WithoutCancel(ctx), s.js, objectName(key, job)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			log.Warn("deleting a corrupt staged object failed", "err", err)
		}
	default:
		d := queue.Decide(err, delivery, s.cfg.Policy)
		if d.Outcome == spx.JobFailed {
			e := ev(spxv1.EventKind_EVENT_KIND_FAILED)
			e.ErrorClass, e.ErrorMessage, e.ErrorDetail = string(d.Class), err.Error(), spx.DetailOf(err)
			if !queue.ReportWaiting(ctx, s.js, log, s.cfg.Room, msg, s.cfg.InProgressEvery, e) {
				queue.Redeliver(msg, s.cfg.Policy.NakDelay(delivery), log)
				return
			}
			log.Error("write failed", "class", d.Class, "err", err)
		} else {
			log.Warn("write failed; will be redelivered", "err", err, "delay", d.Delay)
		}
		if err := d.Apply(msg, err.Error()); err != nil {
			log.Warn("settling a job message failed", "action", d.Action, "err", err)
		}
	}
}

func (s *Service) write(ctx context.Context, store jetstream.ObjectStore, key spx.JobKey, job *spxv1.WriteJob) (File, error) {
	in := &stagedInput{store: store, key: key, job: job, timeout: s.cfg.ReadTimeout, stall: s.cfg.StallTimeout}
	defer in.close()
	if err := in.open(ctx); err != nil {
		return File{}, err
	}

	name := key.RelPath()
	path := s.arc.Location(name)
	file, err := s.arc.WriteFile(ctx, key.Dataset, in, name)
	// The input was read to the end or it failed; a file written from it
	// is removed on the way out (a cleanup that must not be cancelled).
	remove := func() { _ = s.arc.Remove(context.WithoutCancel(ctx), name) }
	vr := in.cur
	if vr.err != nil {
		// The input was at fault, whatever the archive made of it.
		if file.Rows > 0 {
			remove()
		}
		return File{}, vr.err
	}
	if err != nil {
		if spx.ClassOf(err) == spx.ClassTransient || errors.Is(err, errRefetch) {
			return File{}, err
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return File{}, spx.Permanent(fmt.Errorf("the output disk is full: nothing was kept of %s (%w); free space under processing.output_dir (processing.temp_dir for an s3:// archive, whose uploads are spooled there), then run spx retry --all-failed", path, err))
		}
		return File{}, spx.Permanent(fmt.Errorf("writing %s: %w", path, err))
	}
	if !vr.eof {
		// The archive stopped early: read the rest so both digests are checked.
		if _, err := io.Copy(io.Discard, vr); err != nil || vr.err != nil {
			remove()
			if vr.err != nil {
				return File{}, vr.err
			}
			return File{}, &readError{err}
		}
	}
	if in.wantRows > 0 && file.Rows != in.wantRows {
		remove()
		return File{}, &refetchError{fmt.Errorf("staged object %s has %d rows, the fetcher staged %d", objectName(key, job), file.Rows, in.wantRows)}
	}
	return file, nil
}

// stagedInput is the staged object as the archive reads it: decompressed
// and verified. It can be reopened (the object is still in the store), so
// the archive streams it without keeping a spill copy and reads it again
// only if it is not in output order.
type stagedInput struct {
	store    jetstream.ObjectStore
	key      spx.JobKey
	job      *spxv1.WriteJob
	wantRows int64
	timeout  time.Duration // base of the read deadline (see Config.ReadTimeout)
	stall    time.Duration // see Config.StallTimeout
	stalled  *stallWatch   // the current object's reader

	obj    jetstream.ObjectResult
	cancel context.CancelFunc
	zr     func() // releases the decompressor
	cur    *verifyingReader
}

func (in *stagedInput) Read(p []byte) (int, error) { return in.cur.Read(p) }

// Reopen starts reading the object again from its start.
func (in *stagedInput) Reopen(ctx context.Context) (io.Reader, error) {
	in.close()
	if err := in.open(ctx); err != nil {
		return nil, err
	}
	return in.cur, nil
}

// objectName is the staged object of a write job: the name the fetcher
// put in it (a fetcher of an older spx staged .ndjson.zst objects), else
// the key's.
func objectName(key spx.JobKey, job *spxv1.WriteJob) string {
	return cmp.Or(job.GetObject(), key.ObjectName())
}

func (in *stagedInput) open(ctx context.Context) error {
	name := objectName(in.key, in.job)
	meta, err := in.store.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return &refetchError{fmt.Errorf("staged object %s not found (deleted or expired)", name)}
	}
	if err != nil {
		return &readError{err}
	}
	// The whole read shares one deadline (the object store fixes it at Get).
	limit := in.timeout + time.Duration(meta.Size>>20)*time.Second
	base, cancelBase := context.WithCancelCause(ctx)
	rctx, cancelRead := context.WithTimeoutCause(base, limit, fmt.Errorf("reading %s took longer than %v", name, limit))
	cancel := func() { cancelRead(); cancelBase(nil) }
	// Get creates the object's consumer, a JetStream API request whose
	// answer can be lost while the cluster replaces a node that went away
	// (the consumer then delivers, but Get waits for the reply until the
	// whole read's deadline). Opening gets the stall timeout; the job is
	// retried with a fresh Get.
	openStalled := fmt.Errorf("the object store did not answer opening %s for %v (a NATS node may have gone away); the job is retried", name, in.stall)
	watch := time.AfterFunc(in.stall, func() { cancelBase(openStalled) })
	obj, err := in.store.Get(rctx, name)
	if !watch.Stop() {
		if err == nil {
			in.closeObj(obj)
		}
		cancel()
		return &readError{openStalled}
	}
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		cancel()
		return &refetchError{fmt.Errorf("staged object %s not found (deleted or expired)", name)}
	}
	if err != nil {
		cancel()
		return &readError{err}
	}
	in.cancel = cancel
	info, err := obj.Info()
	if err != nil {
		obj.Close()
		cancel()
		return &readError{err}
	}
	wantSHA, wantRows := in.job.GetNdjsonSha256(), in.job.GetRows()
	if v := info.Metadata["sha256"]; v != "" {
		wantSHA = v
	}
	if v, err := strconv.ParseInt(info.Metadata["rows"], 10, 64); err == nil {
		wantRows = v
	}
	sw := &stallWatch{r: obj, d: in.stall,
		err: &readError{fmt.Errorf("no data from the object store for %v reading %s (a NATS node may have gone away); the job is retried", in.stall, name)}}
	in.stalled = sw
	zr, closeZR, err := queue.OpenStaged(sw)
	if err != nil {
		in.closeObj(obj)
		cancel()
		if errors.Is(err, queue.ErrUnknownCodec) {
			return &refetchError{fmt.Errorf("staged object %s: %w", name, err)}
		}
		return &readError{withCause(rctx, err)}
	}
	in.obj, in.zr, in.wantRows = obj, closeZR, wantRows
	in.cur = &verifyingReader{r: zr, raw: sw, ctx: rctx, h: sha256.New(), want: wantSHA, name: name}
	return nil
}

// closeObj closes an object result; after a stall in the background, since
// Close waits for the Read still stuck inside it.
func (in *stagedInput) closeObj(obj jetstream.ObjectResult) {
	if in.stalled != nil && in.stalled.isStalled() {
		go obj.Close()
		return
	}
	obj.Close()
}

func (in *stagedInput) close() {
	if in.zr != nil {
		in.zr()
		in.zr = nil
	}
	if in.obj != nil {
		in.closeObj(in.obj)
		in.obj = nil
	}
	if in.cancel != nil {
		in.cancel()
		in.cancel = nil
	}
}

// verifyingReader decompresses the object and, at EOF, checks the NDJSON's
// SHA-256. A mismatch, a corrupt zstd frame or the object store's own digest
// check failing is returned instead of EOF, so the archive never renames a
// file built from bad input into place.
type verifyingReader struct {
	ctx  context.Context // the read's: its cause explains a cancelled read
	r    io.Reader
	raw  io.Reader
	h    hash.Hash
	want string
	name string
	eof  bool
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	switch {
	case err == io.EOF:
		v.eof = true
		if got := hex.EncodeToString(v.h.Sum(nil)); v.want != "" && got != v.want {
			v.err = &refetchError{fmt.Errorf("staged object %s: NDJSON SHA-256 %s does not match the fetcher's %s", v.name, got, v.want)}
			return n, v.err
		}
		return n, io.EOF
	case err != nil:
		if errors.Is(err, jetstream.ErrDigestMismatch) || isCodecError(err) {
			v.err = &refetchError{fmt.Errorf("staged object %s is corrupt: %w", v.name, err)}
		} else {
			v.err = &readError{withCause(v.ctx, err)}
		}
		return n, v.err
	}
	return n, nil
}

func isCodecError(err error) bool {
	return errors.Is(err, s2.ErrCorrupt) || errors.Is(err, s2.ErrCRC) || errors.Is(err, s2.ErrUnsupported) || errors.Is(err, zstd.ErrMagicMismatch) || errors.Is(err, zstd.ErrCRCMismatch) || errors.Is(err, zstd.ErrBlockTooSmall) ||
		errors.Is(err, zstd.ErrReservedBlockType) || errors.Is(err, zstd.ErrUnknownDictionary) || errors.Is(err, io.ErrUnexpectedEOF)
}

// withCause adds why ctx ended (the read deadline) to err, the
// object store's bare "context canceled".
func withCause(ctx context.Context, err error) error {
	if ctx != nil && ctx.Err() != nil {
		if c := context.Cause(ctx); c != nil && c != ctx.Err() {
			return fmt.Errorf("%w: %w", c, err)
		}
	}
	return err
}

// stallWatch passes reads through, but gives up on one that waits longer
// than d: it returns err at once and leaves the stuck Read to finish in the
// background. The object store's Read blocks on a pipe whose deadline is
// the whole read's (see Config.ReadTimeout) and cancelling its context does
// not wake it, so waiting out a consumer stuck on a lost NATS node would
// hold the job for minutes. The background Read reads into the watch's own
// buffer, never the caller's.
type stallWatch struct {
	r       io.Reader
	d       time.Duration
	err     error // returned from the stall on
	buf     []byte
	timer   *time.Timer
	stalled bool
}

type readResult struct {
	n   int
	err error
}

func (w *stallWatch) Read(p []byte) (int, error) {
	if w.stalled {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if cap(w.buf) < len(p) {
		w.buf = make([]byte, len(p))
	}
	buf := w.buf[:len(p)]
	done := make(chan readResult, 1)
	go func() {
		n, err := w.r.Read(buf)
		done <- readResult{n, err}
	}()
	if w.timer == nil {
		w.timer = time.NewTimer(w.d)
	} else {
		w.timer.Reset(w.d)
	}
	select {
	case res := <-done:
		w.timer.Stop()
		return copy(p, buf[:res.n]), res.err // buf is p's size: it all fits
	case <-w.timer.C:
		w.stalled = true
		w.buf = nil // the background Read still owns it
		return 0, w.err
	}
}

func (w *stallWatch) isStalled() bool { return w.stalled }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
