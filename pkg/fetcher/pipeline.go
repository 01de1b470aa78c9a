package fetcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// The staging of one job runs on three goroutines besides the object store's
// Put: the caller decodes rows into NDJSON blocks, one goroutine hashes them
// and one compresses them. Profiles of a single serial worker showed zstd at
// 34%, decoding 24% and SHA-256 16% of the CPU, all on one core; overlapped,
// a job's wall time is about that of its slowest stage. A fixed set of blocks
// circulates, so memory stays at blockCount × blockSize per job whatever the
// response's size.
const (
	blockSize  = 256 << 10
	blockCount = 4
)

var errAborted = errors.New("staging aborted")

type block struct {
	b    []byte
	refs atomic.Int32
}

// sink takes NDJSON blocks, hashes them and compresses them into w.
type sink struct {
	free   chan *block
	hashq  chan *block
	zipq   chan *block
	h      hash.Hash
	zw     compressor
	wg     sync.WaitGroup
	cancel context.CancelCauseFunc
	ctx    context.Context

	mu     sync.Mutex
	err    error // the compressor's first error
	closed bool
}

// newSink starts the hashing and compressing goroutines. ctx ends when the
// caller's ctx does or the compressor fails (context.Cause says why).
func newSink(ctx context.Context, w io.Writer) (*sink, error) {
	zw, err := newCompressor(w)
	if err != nil {
		return nil, fmt.Errorf("starting the compressor: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	s := &sink{
		free:   make(chan *block, blockCount),
		hashq:  make(chan *block, blockCount),
		zipq:   make(chan *block, blockCount),
		h:      sha256.New(),
		zw:     zw,
		ctx:    ctx,
		cancel: cancel,
	}
	for range blockCount {
		s.free <- &block{b: make([]byte, 0, blockSize+blockSize/8)}
	}
	s.wg.Go(func() {
		for b := range s.hashq {
			s.h.Write(b.b)
			s.release(b)
		}
	})
	s.wg.Go(func() {
		for b := range s.zipq {
			if s.ctx.Err() == nil {
				if _, err := s.zw.Write(b.b); err != nil {
					s.fail(err)
				}
			}
			s.release(b)
		}
	})
	return s, nil
}

func (s *sink) release(b *block) {
	if b.refs.Add(-1) == 0 {
		b.b = b.b[:0]
		s.free <- b // never blocks: there are only blockCount blocks
	}
}

func (s *sink) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cancel(err)
}

// compressErr returns the compressor's error, if it has failed.
func (s *sink) compressErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// next returns an empty block, waiting for one to come back if all are in
// flight. It fails when the compressor has failed or ctx has ended.
func (s *sink) next() (*block, error) {
	if s.ctx.Err() != nil {
		return nil, context.Cause(s.ctx)
	}
	select {
	case b := <-s.free:
		return b, nil
	case <-s.ctx.Done():
		return nil, context.Cause(s.ctx)
	}
}

// send hands a filled block to the hasher and the compressor.
func (s *sink) send(b *block) {
	if len(b.b) == 0 {
		b.b = b.b[:0]
		s.free <- b
		return
	}
	b.refs.Store(2)
	s.hashq <- b
	s.zipq <- b
}

// stop ends both goroutines and waits for them. Safe to call twice.
func (s *sink) stop() {
	if s.closed {
		return
	}
	s.closed = true
	close(s.hashq)
	close(s.zipq)
	s.wg.Wait()
	s.cancel(nil)
}

// finish waits for every block, closes the compressed stream and returns the hex
// SHA-256 of everything sent.
func (s *sink) finish() (string, error) {
	s.stop()
	if err := s.compressErr(); err != nil {
		return "", err
	}
	if err := s.zw.Close(); err != nil {
		return "", fmt.Errorf("finishing the compressed stream: %w", err)
	}
	putCompressor(s.zw)
	s.zw = nil
	return hex.EncodeToString(s.h.Sum(nil)), nil
}

// abort stops the goroutines after a failure upstream; the encoder is
// dropped, not pooled, since its stream is half-written.
func (s *sink) abort() {
	s.cancel(errAborted) // skip the blocks still queued
	s.stop()
	s.zw = nil
}

// compressor is the staged object's stream codec: *zstd.Encoder or
// *s2.Writer (the writer tells them apart by their magic bytes).
type compressor interface {
	io.WriteCloser
	Reset(io.Writer)
}

// stagingCodec is the staged objects' compression: "s2", or "zstd".
// Measured on the largest greeks response of a day (18 MB of staged
// arrays, one core, best of 5): s2 18 ms at 5.4×, zstd SpeedFastest with
// a 256 KiB window 39 ms at 9.0×. The staged object is read once by a
// writer and deleted, and on a machine that also runs the terminal the
// fetcher's CPU is what it competes for, so s2's speed wins. Writers read
// either (queue.OpenStaged). SPX_TEST_STAGING_CODEC=zstd overrides it, for
// benchmarks that compare the two.
const stagingCodec = "s2"

func codec() string {
	if c := os.Getenv("SPX_TEST_STAGING_CODEC"); c != "" {
		return c
	}
	return stagingCodec
}

// zstdEncoders and s2Writers reuse encoders: building one allocates its
// tables.
var zstdEncoders, s2Writers sync.Pool

func newCompressor(w io.Writer) (compressor, error) {
	if codec() == "zstd" {
		return newEncoder(w)
	}
	if sw, ok := s2Writers.Get().(*s2.Writer); ok {
		sw.Reset(w)
		return sw, nil
	}
	// One goroutine: the sink already runs the compressor beside the
	// decoder and the hasher; 1 MiB blocks suit the 512 KiB chunks.
	return s2.NewWriter(w, s2.WriterConcurrency(1), s2.WriterBlockSize(1<<20)), nil
}

func putCompressor(c compressor) {
	switch c := c.(type) {
	case *zstd.Encoder:
		zstdEncoders.Put(c)
	case *s2.Writer:
		s2Writers.Put(c)
	}
}

// newEncoder returns a zstd encoder writing to w. SpeedFastest: the staged
// object is read once by a writer and deleted, so time matters more than
// size. A 256 KiB window compresses NDJSON as well as the default 4 MiB
// (15.8× against 15.7× on the largest response of a day, 12% faster) and
// keeps the encoder's and every writer's decoder's memory small.
func newEncoder(w io.Writer) (*zstd.Encoder, error) {
	if zw, ok := zstdEncoders.Get().(*zstd.Encoder); ok {
		zw.Reset(w)
		return zw, nil
	}
	return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(256<<10))
}
