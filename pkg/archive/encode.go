package archive

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/spx-archive/spx/pkg/spx"
)

// encoder writes Arrow records into one Parquet file. Each record's columns
// are encoded in parallel into a buffered row group (a column chunk writer
// per column, so no two goroutines share one); the row group is flushed
// when it reaches RowGroupRows or RowGroupBytes, which bounds memory to one
// compressed row group.
type encoder struct {
	o        Options
	schema   *arrow.Schema
	fw       *file.Writer
	rgw      file.BufferedRowGroupWriter
	rgRows   int64
	rows     int64
	nullable []bool
	order    []int // columns, most expensive first
	arrProps pqarrow.ArrowWriterProperties
	levels   [][]int16 // per worker scratch definition levels

	// Records arrive in whatever sizes decoding produced; they are cut
	// into batches of exactly BatchRows rows so that page and row-group
	// boundaries depend only on the row sequence. The same rows in the
	// same order give the same bytes, whatever order the input had.
	pending     []arrow.RecordBatch
	pendingRows int64
}

func newEncoder(ds spx.Dataset, out io.Writer, o Options) (*encoder, error) {
	registerCodec()
	s := Schema(ds)
	props := writerProperties(ds, o)
	arrProps := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(o.Allocator))
	pqSchema, err := pqarrow.ToParquet(s, props, arrProps)
	if err != nil {
		return nil, fmt.Errorf("building parquet schema: %w", err)
	}
	meta := metadata.NewKeyValueMetadata()
	for _, kv := range fileMetadata(ds, o.Metadata) {
		if err := meta.Append(kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("adding metadata %q: %w", kv[0], err)
		}
	}
	// The Arrow schema keeps what Parquet alone cannot say (the timestamp's
	// America/New_York zone), like pqarrow.WithStoreSchema does.
	var sb bytes.Buffer
	w := ipc.NewWriter(&sb, ipc.WithSchema(s), ipc.WithAllocator(o.Allocator))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("serialising arrow schema: %w", err)
	}
	if err := meta.Append("ARROW:schema", base64.StdEncoding.EncodeToString(sb.Bytes())); err != nil {
		return nil, fmt.Errorf("adding arrow schema: %w", err)
	}
	fw, err := file.NewParquetWriterWithError(out, pqSchema.Root(), file.WithWriterProps(props), file.WithWriteMetadata(meta))
	if err != nil {
		return nil, fmt.Errorf("starting parquet file: %w", err)
	}
	e := &encoder{o: o, schema: s, fw: fw, arrProps: arrProps}
	var cheap []int
	for i, f := range s.Fields() {
		e.nullable = append(e.nullable, f.Nullable)
		if f.Type.ID() == arrow.FLOAT64 && i != 2 {
			e.order = append(e.order, i)
		} else {
			cheap = append(cheap, i)
		}
	}
	e.order = append(e.order, cheap...)
	e.levels = make([][]int16, o.Parallelism)
	return e, nil
}

// write queues rec and encodes every full batch of BatchRows rows.
func (e *encoder) write(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	rec.Retain()
	e.pending = append(e.pending, rec)
	e.pendingRows += rec.NumRows()
	for e.pendingRows >= int64(e.o.BatchRows) {
		if err := e.writeNext(ctx, int64(e.o.BatchRows)); err != nil {
			return err
		}
	}
	return nil
}

// writeNext encodes the first n pending rows as one batch.
func (e *encoder) writeNext(ctx context.Context, n int64) error {
	batch, err := e.take(n)
	if err != nil {
		return err
	}
	defer batch.Release()
	return e.writeBatch(ctx, batch)
}

// take removes the first n rows from the pending records and returns them
// as one record, copying only when they span records.
func (e *encoder) take(n int64) (arrow.RecordBatch, error) {
	first := e.pending[0]
	if first.NumRows() >= n {
		out := first.NewSlice(0, n)
		e.dropFront(n)
		return out, nil
	}
	var parts []arrow.RecordBatch
	for need := n; need > 0; {
		r := e.pending[0]
		k := min(need, r.NumRows())
		parts = append(parts, r.NewSlice(0, k))
		e.dropFront(k)
		need -= k
	}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	cols := make([]arrow.Array, e.schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		arrs := make([]arrow.Array, len(parts))
		for j, p := range parts {
			arrs[j] = p.Column(i)
		}
		c, err := array.Concatenate(arrs, e.o.Allocator)
		if err != nil {
			return nil, fmt.Errorf("joining batches: %w", err)
		}
		cols[i] = c
	}
	return array.NewRecordBatch(e.schema, cols, n), nil
}

// dropFront removes the first k rows of the first pending record.
func (e *encoder) dropFront(k int64) {
	r := e.pending[0]
	e.pendingRows -= k
	if k == r.NumRows() {
		r.Release()
		e.pending[0] = nil
		e.pending = e.pending[1:]
		return
	}
	e.pending[0] = r.NewSlice(k, r.NumRows())
	r.Release()
}

// writeBatch encodes rec, splitting it across row groups as needed.
func (e *encoder) writeBatch(ctx context.Context, rec arrow.RecordBatch) error {
	n := rec.NumRows()
	for off := int64(0); off < n; {
		if e.rgw == nil {
			rgw, err := e.fw.AppendBufferedRowGroupChecked()
			if err != nil {
				return fmt.Errorf("starting row group: %w", err)
			}
			e.rgw, e.rgRows = rgw, 0
		}
		k := min(n-off, int64(e.o.RowGroupRows)-e.rgRows)
		part := rec
		if off != 0 || k != n {
			part = rec.NewSlice(off, off+k)
		}
		err := e.writeColumns(ctx, part)
		if part != rec {
			part.Release()
		}
		if err != nil {
			return err
		}
		off += k
		e.rgRows += k
		e.rows += k
		if e.rgRows >= int64(e.o.RowGroupRows) || e.rowGroupBytes() >= e.o.RowGroupBytes {
			if err := e.flushRowGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

// rowGroupBytes estimates the current row group's size: compressed pages
// so far plus the values buffered for the next page (uncompressed, so the
// estimate errs on the large side).
func (e *encoder) rowGroupBytes() int64 {
	n := e.rgw.TotalCompressedBytes()
	for i := range e.schema.NumFields() {
		cw, err := e.rgw.Column(i)
		if err != nil {
			continue
		}
		if b, ok := cw.(interface{ EstimatedBufferedValueBytes() int64 }); ok {
			n += b.EstimatedBufferedValueBytes()
		}
	}
	return n
}

func (e *encoder) flushRowGroup() error {
	if e.rgw == nil {
		return nil
	}
	err := e.rgw.Close()
	e.rgw = nil
	if err != nil {
		return fmt.Errorf("writing row group: %w", err)
	}
	return nil
}

// writeColumns encodes every column of rec into the current row group,
// Parallelism columns at a time.
func (e *encoder) writeColumns(ctx context.Context, rec arrow.RecordBatch) error {
	workers := min(e.o.Parallelism, len(e.order))
	var next atomic.Int32
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := pqarrow.NewArrowWriteContext(ctx, &e.arrProps)
			for {
				j := int(next.Add(1)) - 1
				if j >= len(e.order) || ctx.Err() != nil {
					return
				}
				col := e.order[j]
				if err := e.writeColumn(wctx, w, col, rec.Column(col)); err != nil {
					errs[w] = fmt.Errorf("encoding column %q: %w", e.schema.Field(col).Name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (e *encoder) writeColumn(ctx context.Context, worker, col int, arr arrow.Array) error {
	cw, err := e.rgw.Column(col)
	if err != nil {
		return err
	}
	var def []int16
	if e.nullable[col] {
		n := arr.Len()
		if cap(e.levels[worker]) < n {
			e.levels[worker] = make([]int16, n)
		}
		def = e.levels[worker][:n]
		for i := range def {
			if arr.IsNull(i) {
				def[i] = 0
			} else {
				def[i] = 1
			}
		}
	}
	return pqarrow.WriteArrowToColumn(ctx, cw, arr, def, nil, e.nullable[col])
}

// close encodes what is pending, flushes the last row group and writes
// the footer.
func (e *encoder) close(ctx context.Context) error {
	if e.pendingRows > 0 {
		if err := e.writeNext(ctx, e.pendingRows); err != nil {
			return err
		}
	}
	if err := e.flushRowGroup(); err != nil {
		return err
	}
	if err := e.fw.Close(); err != nil {
		return fmt.Errorf("writing parquet footer: %w", err)
	}
	return nil
}

// abort releases what an unfinished file holds. The output is garbage
// afterwards; callers discard it.
func (e *encoder) abort() {
	for _, r := range e.pending {
		r.Release()
	}
	e.pending, e.pendingRows = nil, 0
	if e.rgw != nil {
		_ = e.rgw.Close()
		e.rgw = nil
	}
	_ = e.fw.Close()
}
