package terminalsim

import (
	"io"
	"net/http"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkV3CSVGreeks measures rows generated and written as v3 CSV for
// one realistic near-term expiration (reported as rows/s).
func BenchmarkV3CSVGreeks(b *testing.B) {
	s := New(Config{Seed: 1})
	d := spx.NewDate(2024, 3, 15)
	exp := s.Expirations("SPXW", d)[3]
	req := &histReq{ds: spx.Greeks, root: "SPXW", from: d, to: d, exp: exp, ivl: msMinute, startMs: msOpen, endMs: 16 * 3600 * 1000}
	segs := s.market.segmentsFor(req)
	total := totalRows(segs)
	hr, _ := http.NewRequest("GET", "/", nil)
	b.ResetTimer()
	for b.Loop() {
		s.stream(&discardWriter{h: http.Header{}}, hr, newGen(spx.Greeks, segs), fmtV3CSV, total, nil, "text/csv")
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

var _ = io.Discard
