package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/spx"
)

// StagingStream is the stream behind the staging object store.
const StagingStream = "OBJ_" + Bucket

// Room is the NATS store's room for staged objects as a worker sees it
// (a StoreWatch). A fetcher takes no job while the store is full, and a
// job in hand whose staging the full store refuses waits for room, kept in
// progress, instead of being handed back: a nak would use a delivery.
type Room interface {
	// WaitRoom returns once the store has room, or when ctx ends.
	WaitRoom(ctx context.Context) error
	// Full reports whether err means the store is full, and notes it.
	Full(ctx context.Context, err error) bool
	// Reserve is called before staging: for a while after the store was
	// found full it lets one staging at a time go on in this process, so
	// that workers waiting for room do not all start again at once, each
	// fill part of the room and all be refused. done ends the staging.
	Reserve(ctx context.Context) (done func(), err error)
}

// StoreWatchConfig configures a StoreWatch. Zero values take the defaults.
type StoreWatchConfig struct {
	// Server is the embedded server when this process runs it. The watch
	// then measures its disk, raises its store limit as the disk allows
	// (a limit the server fixed at start made freeing space useless) and
	// keeps the staging bucket's limit to the room there is, so the server
	// refuses a staged object before the disk or the limit is reached and
	// the queues, events and deletes always have room. Without a server
	// the watch reads the bucket's limit that process keeps, and notes the
	// store-full errors its workers meet.
	Server *Server
	Every  time.Duration // between checks, default 3s
	// Hold is how long a noted store-full error keeps the store full,
	// default 15s; with a staging limit to watch, less if the bucket has
	// more room than right after the error (a writer deleted what it
	// wrote, or other stagings refused with it let go of theirs). For 20
	// Holds after the error, stagings here go one at a time (Reserve).
	Hold time.Duration
	// Margin is the staging room below which the store counts as full,
	// default 512 KiB (one object store chunk).
	Margin int64
	// DiskReserve and LimitReserve override DiskReserve(total) and
	// LimitReserve(limit) (tests with a small simulated disk).
	DiskReserve, LimitReserve int64
	Logger                    *slog.Logger
	Now                       func() time.Time
}

// StoreWatch tracks whether the NATS store has room for staged objects and
// gates fetching on it. It is safe for concurrent use.
type StoreWatch struct {
	js  jetstream.JetStream
	cfg StoreWatchConfig
	log *slog.Logger

	checkMu sync.Mutex // one check at a time

	mu      sync.Mutex
	st      spx.NATSStore
	errAt   time.Time // last store-full error noted (zero: none in force)
	errWhy  string
	errRoom int64         // staging room when it was noted (-1: unknown)
	changed chan struct{} // closed and replaced when Full changes
	careful time.Time     // until then Reserve lets one staging at a time go on
	slot    chan struct{} // that one staging's token
}

var _ Room = (*StoreWatch)(nil)

// NewStoreWatch returns a watch that says the store has room until a check
// or an error says otherwise; Run checks it.
func NewStoreWatch(js jetstream.JetStream, cfg StoreWatchConfig) *StoreWatch {
	if cfg.Every <= 0 {
		cfg.Every = 3 * time.Second
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 15 * time.Second
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 512 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &StoreWatch{js: js, cfg: cfg, log: cfg.Logger.With("component", "nats-store"), changed: make(chan struct{}), errRoom: -1,
		slot: make(chan struct{}, 1), st: spx.NATSStore{Since: cfg.Now()}}
}

// Run checks the store every Config.Every until ctx ends.
func (w *StoreWatch) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Every)
	defer t.Stop()
	for {
		w.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Status returns what the watch last learned.
func (w *StoreWatch) Status() spx.NATSStore {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

// WaitRoom implements Room.
func (w *StoreWatch) WaitRoom(ctx context.Context) error {
	for {
		w.mu.Lock()
		full, ch := w.st.Full, w.changed
		w.mu.Unlock()
		if !full {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for room in the NATS store: %w", context.Cause(ctx))
		}
	}
}

// Reserve implements Room.
func (w *StoreWatch) Reserve(ctx context.Context) (func(), error) {
	w.mu.Lock()
	careful := w.cfg.Now().Before(w.careful)
	w.mu.Unlock()
	if !careful {
		return func() {}, nil
	}
	select {
	case w.slot <- struct{}{}:
		return func() { <-w.slot }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting to stage in a nearly full NATS store: %w", context.Cause(ctx))
	}
}

// Full implements Room. A timeout is store-full only if a check now finds
// the store full (a disk that fills under the server stops its answers
// rather than refusing).
func (w *StoreWatch) Full(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if IsStoreFull(err) {
		w.note(ctx, err)
		return true
	}
	if errors.Is(err, jetstream.ErrAsyncPublishTimeout) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return ctx.Err() == nil && w.Check(ctx).Full
	}
	return false
}

// IsStoreFull reports whether err is JetStream refusing to store for want
// of room: the server's or the account's storage limit, a stream's byte
// limit (the staging bucket's), or a full disk.
func IsStoreFull(err error) bool {
	if err == nil {
		return false
	}
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode {
		case 10023, // insufficient resources (the server's limit)
			10002, // resource limits exceeded for account
			10047, // insufficient storage resources available
			10028: // insufficient memory resources (memory storage)
			return true
		}
	}
	msg := err.Error()
	for _, s := range []string{"maximum bytes exceeded", "no space left on device", "insufficient resources", "resource limits exceeded"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// note marks the store full after a store-full error, with the staging
// room left right after it: the puts of other workers are in it, the
// refused one's chunks are gone.
func (w *StoreWatch) note(ctx context.Context, err error) {
	room := int64(-1)
	if info, ierr := w.staging(ctx); ierr == nil && info.Config.MaxBytes > 0 {
		room = max(info.Config.MaxBytes-int64(info.State.Bytes), 0)
	}
	why := err.Error()
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.Description != "" {
		why = ae.Description
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errAt, w.errWhy, w.errRoom = w.cfg.Now(), "the NATS server refused to store a staged object ("+why+")", room
	if room >= 0 {
		w.errWhy = fmt.Sprintf("a staged object did not fit in the %s of room staging had (%s)", bytesText(room), why)
	}
	w.careful = w.errAt.Add(20 * w.cfg.Hold)
	if !w.st.Full {
		st := w.st
		st.Reason = w.errWhy
		w.setLocked(st, true)
	}
}

// Check measures the store now, adjusts the limits (with a server) and
// returns the new state.
func (w *StoreWatch) Check(ctx context.Context) spx.NATSStore {
	w.checkMu.Lock()
	defer w.checkMu.Unlock()
	st := w.Status()
	st.Checked = w.cfg.Now()
	var why string
	if srv := w.cfg.Server; srv != nil {
		why = w.measureServer(ctx, srv, &st)
	} else if info, err := w.staging(ctx); err == nil {
		st.Staged, st.StagedLimit = int64(info.State.Bytes), max(info.Config.MaxBytes, 0)
	} else if ctx.Err() == nil {
		w.log.Debug("reading the staging bucket failed", "err", err)
	}
	room := int64(-1)
	if st.StagedLimit > 0 {
		room = max(st.StagedLimit-st.Staged, 0)
	}
	full := room >= 0 && room < w.cfg.Margin
	if full && why == "" {
		why = fmt.Sprintf("the staging bucket holds %s of its %s limit", bytesText(st.Staged), bytesText(st.StagedLimit))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.errAt.IsZero() {
		// A store-full error holds for Hold, or until the staging room
		// grew past what was left right after it (the job refused did
		// not fit in that).
		since := st.Checked.Sub(w.errAt)
		grew := room >= 0 && w.errRoom >= 0 && room > w.errRoom+w.cfg.Margin/2
		if since < w.cfg.Hold && !grew {
			if !full {
				full, why = true, w.errWhy
			}
		} else {
			w.errAt = time.Time{}
		}
	}
	if full {
		st.Reason = why
	}
	w.setLocked(st, full)
	return w.st
}

// measureServer reads the embedded server's store and disk into st, raises
// the store's limit when the disk has more room, and sets the staging
// bucket's limit to the room there is. It returns why the store is full
// ("" if staging has room or it cannot tell).
func (w *StoreWatch) measureServer(ctx context.Context, srv *Server, st *spx.NATSStore) string {
	sp, err := srv.StoreSpace()
	if err != nil {
		w.log.Warn("reading the NATS store's usage failed", "err", err)
		return ""
	}
	st.Used, st.Limit, st.DiskFree = sp.Used, sp.Limit, 0
	diskKnown := sp.DiskErr == nil
	if diskKnown {
		st.DiskFree = sp.DiskFree
		if want := StoreLimitFor(sp.Used, sp.DiskFree); want > sp.Limit+step(sp.Limit) {
			raised, err := srv.RaiseStoreLimit(want)
			switch {
			case raised:
				w.log.Info("NATS store limit raised: its disk has more room", "was", sp.Limit, "limit", want, "disk_free", sp.DiskFree)
				st.Limit = want
			case err != nil && !errors.Is(err, errLimitFixed):
				w.log.Warn("raising the NATS store limit failed; it stays", "limit", sp.Limit, "err", err)
			}
		}
	}
	info, err := w.staging(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("reading the staging bucket failed", "err", err)
		}
		return ""
	}
	st.Staged = int64(info.State.Bytes)
	if st.Limit <= 0 {
		st.StagedLimit = max(info.Config.MaxBytes, 0)
		return ""
	}
	limitReserve := cmpOr(w.cfg.LimitReserve, LimitReserve(st.Limit))
	room := st.Limit - limitReserve - st.Used
	why := fmt.Sprintf("the NATS store holds %s of its %s limit (%s kept for the queues and events)", bytesText(st.Used), bytesText(st.Limit), bytesText(limitReserve))
	if diskKnown {
		// The file store keeps deleted chunks on disk until it removes
		// or compacts their block (blocks hold chunks of several
		// objects), so staging may hold at most half of what the disk
		// has beyond the reserve: the other half takes what was deleted
		// and is not given back yet, and what is staged between checks.
		reserve := cmpOr(w.cfg.DiskReserve, DiskReserve(sp.DiskTotal))
		if r := (st.DiskFree - reserve - st.Staged) / 2; r < room {
			room = r
			why = fmt.Sprintf("only %s free on the disk of nats.store_dir (%s kept free)", bytesText(st.DiskFree), bytesText(reserve))
		}
	}
	room = max(room, 0)
	// The bucket may hold what it holds plus the room; JetStream reserves
	// a stream's limit out of the store's, so it stays within that too.
	want := min(st.Staged+room, st.Limit-limitReserve)
	if cur := info.Config.MaxBytes; cur <= 0 || abs(want-cur) > step(cur) {
		cfg := info.Config
		cfg.MaxBytes = max(want, 1)
		if _, err := w.js.UpdateStream(ctx, cfg); err != nil {
			if ctx.Err() == nil {
				w.log.Warn("setting the staging bucket's limit failed", "limit", want, "err", err)
			}
			st.StagedLimit = max(cur, 0)
			return ""
		}
		st.StagedLimit = cfg.MaxBytes
	} else {
		st.StagedLimit = cur
	}
	if room < w.cfg.Margin {
		return why
	}
	return ""
}

func (w *StoreWatch) staging(ctx context.Context) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := w.js.Stream(ctx, StagingStream)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// setLocked records st with Full set to full.
func (w *StoreWatch) setLocked(st spx.NATSStore, full bool) {
	prev := w.st
	st.Full = full
	if full != prev.Full {
		st.Since = w.cfg.Now()
		if full {
			w.log.Warn("NATS store full: fetchers take no new job and a job in hand waits for room (no delivery is used); writers make room as they finish",
				"why", st.Reason, "staged", st.Staged, "staged_limit", st.StagedLimit, "used", st.Used, "limit", st.Limit, "disk_free", st.DiskFree)
		} else {
			w.log.Info("NATS store has room again; fetching resumes", "full_for", st.Since.Sub(prev.Since).Round(time.Second),
				"staged", st.Staged, "staged_limit", st.StagedLimit)
		}
		close(w.changed)
		w.changed = make(chan struct{})
	}
	w.st = st
}

// StageWithRoom is WithRoom for staging: each run of fn is one staging,
// which Room.Reserve may make wait its turn.
func StageWithRoom(ctx context.Context, room Room, log *slog.Logger, fn func(ctx context.Context) error) error {
	if room == nil {
		return fn(ctx)
	}
	return WithRoom(ctx, room, log, func(ctx context.Context) error {
		done, err := room.Reserve(ctx)
		if err != nil {
			return err
		}
		defer done()
		return fn(ctx)
	})
}

// WithRoom runs fn and, while it fails because the NATS store is full,
// waits for room and runs it again (room nil: fn runs once). It returns
// fn's last error, or fn's store-full error if ctx ends while waiting.
func WithRoom(ctx context.Context, room Room, log *slog.Logger, fn func(ctx context.Context) error) error {
	for {
		err := fn(ctx)
		if err == nil || room == nil || ctx.Err() != nil || !room.Full(ctx, err) {
			return err
		}
		log.Warn("the NATS store is full; the job waits in hand for room (no delivery is used)", "err", err)
		if room.WaitRoom(ctx) != nil {
			return err
		}
		log.Info("the NATS store has room; going on with the job")
	}
}

// step is the change of a limit worth acting on.
func step(n int64) int64 { return max(n/50, 64<<10) }

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func cmpOr(a, b int64) int64 {
	if a > 0 {
		return a
	}
	return b
}

// bytesText is n bytes for a person: 15.0 MiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	d, e := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		d *= unit
		e++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(d), "KMGTPE"[e])
}
