package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spx-archive/spx/pkg/spx"
)

// BenchmarkConvertGreeks converts about 1M rows of realistic greeks NDJSON
// (one large expiration: 2560 contracts × 391 minutes) from memory into a
// Parquet file on disk.
func BenchmarkConvertGreeks(b *testing.B) {
	date, exp := spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15)
	data := ndjson(genGreeks("SPXW", date, exp, 1280, 391, 1))
	nrows := bytes.Count(data, []byte{'\n'})
	runtime.GC() // the generator's garbage is not the converter's
	out := filepath.Join(b.TempDir(), "out.parquet")
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuSeconds()
	var size int64
	for b.Loop() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		res, err := Convert(context.Background(), spx.Greeks, bytes.NewReader(data), f, Options{})
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		size = st.Size()
		f.Close()
		if res.Rows != int64(nrows) {
			b.Fatalf("rows %d, want %d", res.Rows, nrows)
		}
	}
	b.StopTimer()
	// CPU time says more than wall time on a shared machine (0 where
	// getrusage is not available).
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(nrows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/float64(len(data))*100, "%size")
	b.Logf("%d rows, %d MB NDJSON -> %d MB parquet, GOMAXPROCS=%d", nrows, len(data)>>20, size>>20, runtime.GOMAXPROCS(0))
}

// BenchmarkDecodeGreeks measures the NDJSON scanner alone (no Parquet).
func BenchmarkDecodeGreeks(b *testing.B) {
	data := ndjson(genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 100, 391, 1))
	lines := bytes.Count(data, []byte{'\n'})
	d := newDecoder(spx.Greeks)
	mem := newBufPool(memory.DefaultAllocator)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		bt := newBatch(mem, memory.DefaultAllocator, d.cols, lines)
		d.b = bt
		for rest := data; len(rest) > 0; {
			nl := bytes.IndexByte(rest, '\n')
			if reason := d.decodeLine(rest[:nl]); reason != "" {
				b.Fatal(reason)
			}
			rest = rest[nl+1:]
		}
		bt.release()
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
