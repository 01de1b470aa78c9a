package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
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
// one Parquet file to out, rows sorted by (root, expiration, strike, right,
// timestamp): (strike, right, timestamp) within one expiration.
//
// If in is an io.ReaderAt and io.Seeker (an *os.File, a bytes.Reader) it is
// read in place from its current offset; any other reader is first copied
// to a spill file in o.TempDir, removed before Convert returns.
//
// When out can be rewound (a regular *os.File, or WriteFile's output) the
// input is streamed straight through, decode and encode pipelined across
// o.Parallelism workers, its order checked as it goes; an input found out
// of order is converted again from the start on the planned path. Other
// outputs take the planned path directly: one pass over the input checks
// every line's key and records each contract's runs, then the runs are
// read back by offset in sorted order. Memory stays bounded by a few
// chunks and one compressed row group, however large the input; a fully
// shuffled input also needs an index entry (about 56 bytes) per run.
//
// A malformed line is a *LineError (spx.Permanent) naming the line; an
// input without rows is ErrNoRows. After an error out holds garbage.
func Convert(ctx context.Context, ds spx.Dataset, in io.Reader, out io.Writer, o Options) (Result, error) {
	o = o.withDefaults()
	if len(ds.Columns()) == 0 {
		return Result{}, spx.Permanent(fmt.Errorf("unknown dataset %q: use one of greeks, quote, ohlc, eod, open_interest", ds))
	}
	reset := outputReset(out)
	src, size, ok, err := seekable(in)
	if err != nil {
		return Result{}, err
	}
	if r, canReopen := in.(Reopener); !ok && canReopen && reset != nil {
		// A staging object stream: stream it without a copy; if it is
		// not sorted, read it again into a spill file and plan.
		res, err := convertPlanned(ctx, ds, &streamSource{in: ctxReader{ctx, in}}, math.MaxInt64, out, o, true)
		if !errors.Is(err, errUnsorted) {
			return res, err
		}
		if err := reset(); err != nil {
			return Result{}, fmt.Errorf("rewinding output for a sorted rewrite: %w", err)
		}
		again, err := r.Reopen(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("reading the input again to sort it: %w", err)
		}
		tee, err := newTeeSource(ctx, again, o.TempDir)
		if err != nil {
			return Result{}, err
		}
		defer tee.remove()
		if size, err = tee.finish(); err != nil {
			return Result{}, err
		}
		return convertPlanned(ctx, ds, tee.f, size, out, o, false)
	}
	if !ok {
		// Not seekable (a pipe): keep a copy in a spill file while
		// streaming, so the planned path can re-read it.
		tee, err := newTeeSource(ctx, in, o.TempDir)
		if err != nil {
			return Result{}, err
		}
		defer tee.remove()
		if reset != nil {
			res, err := convertPlanned(ctx, ds, tee, math.MaxInt64, out, o, true)
			if !errors.Is(err, errUnsorted) {
				return res, err
			}
			if err := reset(); err != nil {
				return Result{}, fmt.Errorf("rewinding output for a sorted rewrite: %w", err)
			}
		}
		if size, err = tee.finish(); err != nil {
			return Result{}, err
		}
		return convertPlanned(ctx, ds, tee.f, size, out, o, false)
	}

	// Fast path: stream the input straight through, checking the order as
	// it goes. Most inputs are sorted; if this one is not, and the output
	// can be rewound, start over on the planned path.
	if reset != nil {
		res, err := convertPlanned(ctx, ds, src, size, out, o, true)
		if !errors.Is(err, errUnsorted) {
			return res, err
		}
		if err := reset(); err != nil {
			return Result{}, fmt.Errorf("rewinding output for a sorted rewrite: %w", err)
		}
	}
	return convertPlanned(ctx, ds, src, size, out, o, false)
}

// errUnsorted stops the streaming fast path at the first row out of order.
var errUnsorted = errors.New("input is not in (root, expiration, strike, right, timestamp) order")

// convertPlanned writes src to out. Streaming (optimistic) goes straight
// through and fails with errUnsorted at the first row out of order;
// otherwise a planning pass finds the order first.
func convertPlanned(ctx context.Context, ds spx.Dataset, src io.ReaderAt, size int64, out io.Writer, o Options, streaming bool) (Result, error) {
	p := &plan{bytes: size, rows: -1, sorted: true, check: true, segments: []segment{{off: 0, end: size, firstLine: 1}}}
	if !streaming {
		var err error
		if p, err = planInput(ctx, ds, src, size, o.Parallelism); err != nil {
			return Result{}, err
		}
		if p.rows == 0 {
			return Result{}, ErrNoRows
		}
	}
	// The Parquet writer closes an io.Closer it writes to; out is the
	// caller's to close.
	enc, err := newEncoder(ds, struct{ io.Writer }{out}, o)
	if err != nil {
		return Result{}, err
	}
	// Decoded batches live until the encoder has consumed them, so the
	// pool is drained after the encoder is done (deferred before abort and
	// close run).
	pool := newBufPool(o.Allocator)
	defer pool.drain()
	res, err := pipeline(ctx, ds, src, p, enc, pool, o)
	if err == nil && res.Rows == 0 {
		err = ErrNoRows
	}
	if err != nil {
		enc.abort()
		return Result{}, err
	}
	if err := enc.close(ctx); err != nil {
		enc.abort()
		return Result{}, err
	}
	if !streaming {
		if enc.rows != p.rows {
			return Result{}, fmt.Errorf("converting: wrote %d rows but the input has %d (a bug in spx: report it)", enc.rows, p.rows)
		}
		res = Result{Rows: p.rows, Contracts: int64(len(p.contracts))}
	}
	return res, nil
}

// outputReset returns how to rewind out to where it started, or nil if it
// cannot be rewound.
func outputReset(out io.Writer) func() error {
	switch w := out.(type) {
	case interface{ resetOutput() error }:
		return w.resetOutput
	case *os.File:
		st, err := w.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		start, err := w.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil
		}
		return func() error {
			if err := w.Truncate(start); err != nil {
				return err
			}
			_, err := w.Seek(start, io.SeekStart)
			return err
		}
	}
	return nil
}

// seekable gives positional access to in from its current offset, if it
// supports it.
func seekable(in io.Reader) (io.ReaderAt, int64, bool, error) {
	ra, ok := in.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !ok {
		return nil, 0, false, nil
	}
	cur, err := ra.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, false, nil // e.g. a pipe behind an *os.File
	}
	end, err := ra.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, false, fmt.Errorf("sizing input: %w", err)
	}
	if _, err := ra.Seek(cur, io.SeekStart); err != nil {
		return nil, 0, false, fmt.Errorf("rewinding input: %w", err)
	}
	return io.NewSectionReader(ra, cur, end-cur), end - cur, true, nil
}

// teeSource serves positional reads of a stream as it arrives and keeps
// every byte in a spill file, so the streaming path reads the stream once
// and the planned path, if needed, re-reads the file.
type teeSource struct {
	in   io.Reader
	f    *os.File
	mu   sync.Mutex
	n    int64 // bytes received, all in f
	done bool  // in is exhausted
}

func newTeeSource(ctx context.Context, in io.Reader, tempDir string) (*teeSource, error) {
	f, err := os.CreateTemp(tempDir, "spx-convert-*.ndjson")
	if err != nil {
		return nil, fmt.Errorf("creating spill file (check the temp directory %q exists and is writable): %w", tempDir, err)
	}
	return &teeSource{in: ctxReader{ctx, in}, f: f}, nil
}

// ReadAt reads from the spill file what has arrived and from the stream
// what has not, appending it to the file. Reads past the end of the stream
// are short, with io.EOF.
func (t *teeSource) ReadAt(p []byte, off int64) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if off > t.n {
		if err := t.fill(off); err != nil {
			return 0, err
		}
	}
	total := 0
	if off < t.n {
		k, err := t.f.ReadAt(p[:min(int64(len(p)), t.n-off)], off)
		total = k
		if err != nil && err != io.EOF {
			return total, fmt.Errorf("reading spill file: %w", err)
		}
	}
	for total < len(p) && !t.done {
		k, err := t.in.Read(p[total:])
		if k > 0 {
			if _, werr := t.f.Write(p[total : total+k]); werr != nil {
				return total, fmt.Errorf("writing spill file %s (check free space in the temp directory): %w", t.f.Name(), werr)
			}
			t.n += int64(k)
			total += k
		}
		if err == io.EOF {
			t.done = true
		} else if err != nil {
			return total, fmt.Errorf("reading input: %w", err)
		}
	}
	if total < len(p) {
		return total, io.EOF
	}
	return total, nil
}

// fill copies the stream into the spill file up to offset off (or its end).
func (t *teeSource) fill(off int64) error {
	if t.done || t.n >= off {
		return nil
	}
	k, err := io.CopyN(t.f, t.in, off-t.n)
	t.n += k
	if err == io.EOF {
		t.done = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("spilling input to %s: %w", t.f.Name(), err)
	}
	return nil
}

// finish reads the rest of the stream into the spill file and returns the
// input's size.
func (t *teeSource) finish() (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.fill(math.MaxInt64); err != nil {
		return 0, err
	}
	return t.n, nil
}

func (t *teeSource) remove() {
	t.f.Close()
	os.Remove(t.f.Name())
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
	chunkOrder
}

// chunkOrder is what the streaming path needs to check a chunk's order.
type chunkOrder struct {
	sorted      bool
	first, last rowKey
	changes     int64 // contract changes inside the chunk
}

// pipeline reads the planned segments into chunks, decodes chunks in
// parallel and encodes the records in order.
func pipeline(ctx context.Context, ds spx.Dataset, src io.ReaderAt, p *plan, enc *encoder, pool *bufPool, o Options) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	avg := int64(64)
	if p.rows > 0 {
		avg = max(p.bytes/p.rows, avg)
	} else {
		avg = max(sampleLineLength(src, p.bytes), avg)
	}
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
				rec, ord, err := d.decodeChunk(c, s, pool, o.Allocator, p.check)
				select {
				case free <- c.data[:0]:
				default:
				}
				c.res <- chunkResult{rec: rec, err: err, chunkOrder: ord}
			}
		}()
	}

	var firstErr error
	var res Result
	var last rowKey
	for c := range ordered {
		r := <-c.res
		if firstErr == nil && r.err == nil && r.rec != nil {
			if p.check {
				switch {
				case !r.sorted:
					r.err = errUnsorted
				case res.Rows == 0:
					res.Contracts = 1 + r.changes
				default:
					cmp := r.first.contract.compare(last.contract)
					if cmp < 0 || (cmp == 0 && r.first.ts < last.ts) {
						r.err = errUnsorted
					} else if cmp > 0 {
						res.Contracts++
					}
					res.Contracts += r.changes
				}
				last = r.last
			}
			res.Rows += r.rec.NumRows()
			if r.err == nil {
				r.err = enc.write(ctx, r.rec)
			}
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
		return Result{}, firstErr
	}
	if prodErr != nil {
		return Result{}, prodErr
	}
	return res, ctx.Err()
}

// sampleLineLength estimates the average line length from the input's
// first 256 KiB.
func sampleLineLength(src io.ReaderAt, size int64) int64 {
	buf := make([]byte, max(min(size, 256<<10), 0))
	n, _ := src.ReadAt(buf, 0)
	lines := int64(bytes.Count(buf[:n], []byte{'\n'}))
	if lines == 0 {
		return int64(n)
	}
	return int64(n) / lines
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
	scratch := newBatch(memory.DefaultAllocator, memory.DefaultAllocator, d.cols, 1)
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
			k, err := src.ReadAt(c.data[start:], pos)
			if err != nil && err != io.EOF {
				return fmt.Errorf("reading input at byte %d: %w", pos, err)
			}
			// A short read is the end of the input (a streamed input's
			// size is not known in advance).
			atEnd := k < n || pos+int64(k) >= seg.end
			c.data = c.data[:start+k]
			keep := k
			if !atEnd {
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
			if lines > 0 {
				addSpan(line, lines)
			}
			line += lines
			pos += int64(keep)
			if len(c.data) >= target && !flush() {
				return ctx.Err()
			}
			if atEnd {
				break
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

// decodeChunk decodes every line of c into one record; with check it also
// reports the rows' order.
func (d *decoder) decodeChunk(c *chunk, s *arrow.Schema, pool, mem memory.Allocator, check bool) (arrow.RecordBatch, chunkOrder, error) {
	capacity := bytes.Count(c.data, []byte{'\n'})
	b := newBatch(pool, mem, d.cols, capacity)
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
			return nil, chunkOrder{}, newLineError(line, ln, reason)
		}
	}
	d.b = nil
	if b.n == 0 {
		return nil, chunkOrder{}, nil // only blank lines
	}
	var ord chunkOrder
	if check {
		ord = b.order()
	}
	return b.record(s, d.cols), ord, nil
}

// order checks that the batch's rows are in output order.
func (b *batch) order() chunkOrder {
	key := func(i int) rowKey {
		return rowKey{
			contract: contractKey{strike: b.strk[i], right: b.right[i], root: b.root[i], exp: spx.Date(b.exp[i])},
			ts:       sortTime(spx.Date(b.date[i]), b.i32[0][i]),
		}
	}
	ord := chunkOrder{sorted: true, first: key(0)}
	prev := ord.first
	for i := 1; i < b.n; i++ {
		k := key(i)
		cmp := k.contract.compare(prev.contract)
		if cmp < 0 || (cmp == 0 && k.ts < prev.ts) {
			ord.sorted = false
			return ord
		}
		if cmp > 0 {
			ord.changes++
		}
		prev = k
	}
	ord.last = prev
	return ord
}
