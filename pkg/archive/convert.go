package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spx-archive/spx/pkg/spx"
)

// Options tunes a conversion. The zero value is usable.
type Options struct {
	TempDir       string            // where spill files go if needed ("" = os.TempDir())
	RowGroupRows  int               // default 1<<20
	RowGroupBytes int64             // default 128 MiB (compressed bytes of a row group)
	BatchRows     int               // Arrow record batch size, default 64Ki
	Metadata      map[string]string // extra Parquet key/value metadata (e.g. "source")
	Allocator     memory.Allocator  // default memory.DefaultAllocator
	Parallelism   int               // decode/encode workers, default GOMAXPROCS

	dataPageSize int64 // tests: small pages without large inputs
	noSync       bool  // tests: skip fsync (the protocol is the same otherwise)
}

func (o Options) withDefaults() Options {
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = 1 << 20
	}
	if o.RowGroupBytes <= 0 {
		o.RowGroupBytes = 128 << 20
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 64 << 10
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	return o
}

// Result describes a finished conversion.
type Result struct {
	Rows, Contracts int64
}

// Convert reads uncompressed staged NDJSON of dataset ds from in and writes
// one Parquet file to out, rows sorted by (strike, right, timestamp).
//
// If in is an io.ReaderAt and io.Seeker (an *os.File, a bytes.Reader) it is
// read in place from its current offset; any other reader is first copied
// to a spill file in o.TempDir, removed before Convert returns. The input is
// read once to check every line and plan the order, then decoded and
// encoded in a pipeline; memory stays bounded by a few batches and one
// compressed row group, however large the input.
//
// A malformed line is a *LineError (spx.Permanent) naming the line; an
// input without rows is ErrNoRows. After an error out holds garbage.
func Convert(ctx context.Context, ds spx.Dataset, in io.Reader, out io.Writer, o Options) (Result, error) {
	o = o.withDefaults()
	if len(ds.Columns()) == 0 {
		return Result{}, spx.Permanent(fmt.Errorf("unknown dataset %q: use one of greeks, quote, ohlc, eod, open_interest", ds))
	}
	src, size, cleanup, err := randomAccess(ctx, in, o.TempDir)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()

	p, err := planInput(ctx, ds, src, size, o.Parallelism)
	if err != nil {
		return Result{}, err
	}
	if p.rows == 0 {
		return Result{}, ErrNoRows
	}
	// The Parquet writer closes an io.Closer it writes to; out is the
	// caller's to close.
	enc, err := newEncoder(ds, struct{ io.Writer }{out}, o)
	if err != nil {
		return Result{}, err
	}
	if err := pipeline(ctx, ds, src, p, enc, o); err != nil {
		enc.abort()
		return Result{}, err
	}
	if err := enc.close(ctx); err != nil {
		enc.abort()
		return Result{}, err
	}
	if enc.rows != p.rows {
		return Result{}, fmt.Errorf("converting: wrote %d rows but the input has %d (a bug in spx: report it)", enc.rows, p.rows)
	}
	return Result{Rows: p.rows, Contracts: int64(len(p.contracts))}, nil
}

// randomAccess gives positional access to in, spilling it to a temp file if
// it cannot be read by offset.
func randomAccess(ctx context.Context, in io.Reader, tempDir string) (io.ReaderAt, int64, func(), error) {
	if ra, ok := in.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		cur, err := ra.Seek(0, io.SeekCurrent)
		if err == nil {
			end, err2 := ra.Seek(0, io.SeekEnd)
			if err2 != nil {
				return nil, 0, nil, fmt.Errorf("sizing input: %w", err2)
			}
			if _, err := ra.Seek(cur, io.SeekStart); err != nil {
				return nil, 0, nil, fmt.Errorf("rewinding input: %w", err)
			}
			return io.NewSectionReader(ra, cur, end-cur), end - cur, func() {}, nil
		}
	}
	f, err := os.CreateTemp(tempDir, "spx-convert-*.ndjson")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("creating spill file (check the temp directory %q exists and is writable): %w", tempDir, err)
	}
	cleanup := func() {
		f.Close()
		os.Remove(f.Name())
	}
	n, err := io.Copy(f, ctxReader{ctx, in})
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("spilling input to %s: %w", f.Name(), err)
	}
	return f, n, cleanup, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// maxChunk bounds the raw bytes of one decode chunk.
const maxChunk = 4 << 20

// span numbers physical lines: n lines starting at line first.
type span struct{ first, n int64 }

// chunk is a run of complete lines (each ending in '\n') in output order.
type chunk struct {
	data  []byte
	spans []span
	res   chan chunkResult
}

type chunkResult struct {
	rec arrow.RecordBatch
	err error
}

// pipeline reads the planned segments into chunks, decodes chunks in
// parallel and encodes the records in order.
func pipeline(ctx context.Context, ds spx.Dataset, src io.ReaderAt, p *plan, enc *encoder, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	avg := max(p.bytes/max(p.rows, 1), 64)
	// A chunk is about BatchRows lines, but at most maxChunk bytes: raw
	// text is the largest thing in flight, and Parallelism+2 chunks are.
	target := min(max(int(avg)*o.BatchRows, 2*maxLine), maxChunk)
	work := make(chan *chunk)
	ordered := make(chan *chunk, o.Parallelism)
	free := make(chan []byte, o.Parallelism+2)

	var prodErr error
	go func() {
		defer close(ordered)
		defer close(work)
		prodErr = produce(ctx, ds, src, p, target, free, func(c *chunk) bool {
			c.res = make(chan chunkResult, 1)
			select {
			case ordered <- c:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- c:
				return true
			case <-ctx.Done():
				c.res <- chunkResult{err: ctx.Err()}
				return false
			}
		})
	}()

	var wg sync.WaitGroup
	s := Schema(ds)
	for range o.Parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDecoder(ds)
			for c := range work {
				if err := ctx.Err(); err != nil {
					c.res <- chunkResult{err: err}
					continue
				}
				rec, err := d.decodeChunk(c, s, o.Allocator)
				select {
				case free <- c.data[:0]:
				default:
				}
				c.res <- chunkResult{rec: rec, err: err}
			}
		}()
	}

	var firstErr error
	for c := range ordered {
		r := <-c.res
		if firstErr == nil && r.err == nil && r.rec != nil {
			r.err = enc.write(ctx, r.rec)
		}
		if r.rec != nil {
			r.rec.Release()
		}
		if r.err != nil && firstErr == nil {
			firstErr = r.err
			cancel()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if prodErr != nil {
		return prodErr
	}
	return ctx.Err()
}

// produce cuts the planned segments into chunks of about target bytes and
// hands each to emit; it stops when emit returns false.
func produce(ctx context.Context, ds spx.Dataset, src io.ReaderAt, p *plan, target int, free chan []byte, emit func(*chunk) bool) error {
	newChunk := func() *chunk {
		select {
		case b := <-free:
			return &chunk{data: b}
		default:
			return &chunk{data: make([]byte, 0, min(int64(target), p.bytes)+64<<10)}
		}
	}
	c := newChunk()
	flush := func() bool {
		if len(c.data) == 0 {
			return true
		}
		ok := emit(c)
		c = newChunk()
		return ok
	}
	addSpan := func(first, n int64) {
		if k := len(c.spans); k > 0 && c.spans[k-1].first+c.spans[k-1].n == first {
			c.spans[k-1].n += n
			return
		}
		c.spans = append(c.spans, span{first, n})
	}
	d := newDecoder(ds)
	scratch := newBatch(memory.NewGoAllocator(), d.cols, 1)
	defer scratch.release()
	for _, seg := range p.segments {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seg.gather != nil {
			lines, err := gatherLines(d, scratch, src, seg.gather)
			if err != nil {
				return err
			}
			for _, l := range lines {
				c.data = append(c.data, l.text...)
				c.data = append(c.data, '\n')
				addSpan(l.line, 1)
			}
			if len(c.data) >= target && !flush() {
				return ctx.Err()
			}
			continue
		}
		pos, line := seg.off, seg.firstLine
		for pos < seg.end {
			room := target - len(c.data)
			if room < maxLine {
				if !flush() {
					return ctx.Err()
				}
				room = target
			}
			n := int(min(int64(room), seg.end-pos))
			start := len(c.data)
			c.data = slices.Grow(c.data, n+1)[:start+n]
			if _, err := src.ReadAt(c.data[start:], pos); err != nil && err != io.EOF {
				return fmt.Errorf("reading input at byte %d: %w", pos, err)
			}
			keep := n
			if pos+int64(n) < seg.end {
				nl := bytes.LastIndexByte(c.data[start:], '\n')
				if nl < 0 {
					return newLineError(line, c.data[start:], "line longer than 1 MiB")
				}
				keep = nl + 1
			}
			c.data = c.data[:start+keep]
			lines := int64(bytes.Count(c.data[start:], []byte{'\n'}))
			if keep > 0 && c.data[start+keep-1] != '\n' {
				c.data = append(c.data, '\n') // last line of the input without a newline
				lines++
			}
			addSpan(line, lines)
			line += lines
			pos += int64(keep)
			if len(c.data) >= target && !flush() {
				return ctx.Err()
			}
		}
	}
	if !flush() {
		return ctx.Err()
	}
	return nil
}

type numberedLine struct {
	text []byte
	line int64
	ts   int64
}

// gatherLines reads the runs of one contract whose times interleave and
// returns their lines in time order (input order among equal times).
func gatherLines(d *decoder, scratch *batch, src io.ReaderAt, runs []run) ([]numberedLine, error) {
	var out []numberedLine
	for _, r := range runs {
		buf := make([]byte, r.end-r.off)
		if _, err := src.ReadAt(buf, r.off); err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading input at byte %d: %w", r.off, err)
		}
		line := r.firstLine
		for len(buf) > 0 {
			ln := buf
			if nl := bytes.IndexByte(buf, '\n'); nl >= 0 {
				ln, buf = buf[:nl], buf[nl+1:]
			} else {
				buf = nil
			}
			if !isBlank(ln) {
				k, reason := d.key(ln, scratch)
				if reason != "" {
					return nil, newLineError(line, ln, reason)
				}
				out = append(out, numberedLine{text: ln, line: line, ts: k.ts})
			}
			line++
		}
	}
	slices.SortStableFunc(out, func(a, b numberedLine) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		case a.line < b.line:
			return -1
		case a.line > b.line:
			return 1
		}
		return 0
	})
	return out, nil
}

// decodeChunk decodes every line of c into one record.
func (d *decoder) decodeChunk(c *chunk, s *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	capacity := bytes.Count(c.data, []byte{'\n'})
	b := newBatch(mem, d.cols, capacity)
	defer b.release()
	d.b = b
	data := c.data
	si, inSpan := 0, int64(0)
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		ln := data[:nl]
		data = data[nl+1:]
		line := c.spans[si].first + inSpan
		if inSpan++; inSpan == c.spans[si].n && si+1 < len(c.spans) {
			si, inSpan = si+1, 0
		}
		if isBlank(ln) {
			continue
		}
		if reason := d.decodeLine(ln); reason != "" {
			return nil, newLineError(line, ln, reason)
		}
	}
	d.b = nil
	if b.n == 0 {
		return nil, nil // only blank lines
	}
	return b.record(s, d.cols), nil
}
