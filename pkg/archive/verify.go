package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/spx-archive/spx/pkg/spx"
)

// ErrCorrupt marks a file that does not match what was recorded for it.
// It is permanent: the file must be rewritten (spx retry) or restored.
var ErrCorrupt = errors.New("parquet file is corrupt or changed")

// VerifyFile re-reads a finished file: the SHA-256 of its bytes must be
// wantSHA (skipped if empty), the footer's row count must be wantRows
// (skipped if negative), and every column of every row group must decode.
// A mismatch wraps ErrCorrupt and is spx.Permanent.
func VerifyFile(ctx context.Context, path string, wantRows int64, wantSHA string) error {
	return Verify(ctx, NewDir(filepath.Dir(path)), filepath.Base(path), wantRows, wantSHA)
}

// Verify is VerifyFile for the file name of st. A file that cannot be
// opened is not ErrCorrupt: the error says why (missing, no access).
func Verify(ctx context.Context, st spx.ArchiveStore, name string, wantRows int64, wantSHA string) error {
	loc := st.Location(name)
	corrupt := func(format string, a ...any) error {
		return spx.Permanent(fmt.Errorf("%w: %s: %s (rewrite it with 'spx retry' for its day)", ErrCorrupt, loc, fmt.Sprintf(format, a...)))
	}
	f, err := st.Open(ctx, name)
	if err != nil {
		return fmt.Errorf("opening %s to verify it: %w", loc, err)
	}
	defer f.Close()
	if wantSHA != "" {
		sum, _, err := hashReader(f, loc)
		if err != nil {
			return err
		}
		if sum != wantSHA {
			return corrupt("SHA-256 is %s, recorded %s", sum, wantSHA)
		}
	}
	registerCodec() // before any reader looks codecs up
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		return corrupt("unreadable footer: %v", err)
	}
	defer rdr.Close()
	if n := rdr.NumRows(); wantRows >= 0 && n != wantRows {
		return corrupt("footer says %d rows, recorded %d", n, wantRows)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return corrupt("unreadable schema: %v", err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return corrupt("cannot read columns: %v", err)
	}
	defer rr.Release()
	var rows int64
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows += rr.RecordBatch().NumRows()
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return corrupt("decoding data: %v", err)
	}
	if rows != rdr.NumRows() {
		return corrupt("decoded %d rows, footer says %d", rows, rdr.NumRows())
	}
	return nil
}
