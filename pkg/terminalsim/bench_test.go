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

// BenchmarkGreeks measures rows generated and written in each wire
// format for one realistic near-term expiration (reported as rows/s).
func BenchmarkGreeks(b *testing.B) {
	for _, f := range []struct {
		name   string
		format rowFormat
	}{{"v3csv", fmtV3CSV}, {"v3ndjson", fmtV3NDJSON}, {"v2json", fmtV2JSON}, {"v2csv", fmtV2CSV}} {
		b.Run(f.name, func(b *testing.B) { benchFormat(b, spx.Greeks, f.format) })
	}
	b.Run("quote-v3csv", func(b *testing.B) { benchFormat(b, spx.Quote, fmtV3CSV) })
}

func benchFormat(b *testing.B, ds spx.Dataset, format rowFormat) {
	s := New(Config{Seed: 1})
	d := spx.NewDate(2024, 3, 15)
	exp := s.Expirations("SPXW", d)[3]
	req := &histReq{ds: ds, root: "SPXW", from: d, to: d, exp: exp, ivl: msMinute, startMs: msOpen, endMs: 16 * 3600 * 1000}
	segs := s.market.segmentsFor(req)
	total := totalRows(segs)
	hr, _ := http.NewRequest("GET", "/", nil)
	b.ResetTimer()
	for b.Loop() {
		s.stream(&discardWriter{h: http.Header{}}, hr, newGen(ds, segs), format, total, nil, "text/csv")
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkHTTPV3CSV measures a whole response over loopback HTTP, read
// by a client that discards it.
func BenchmarkHTTPV3CSV(b *testing.B) {
	s := New(Config{Seed: 1})
	v3, _, stop, err := s.Listen("127.0.0.1:0", "")
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	d := spx.NewDate(2024, 3, 15)
	exp := s.Expirations("SPXW", d)[3]
	rows := s.ExpectedRows(spx.Greeks, "SPXW", d, exp)
	url := v3 + "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=" + exp.Compact() + "&date=" + d.Compact()
	var bytes int64
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%d %v", resp.StatusCode, err)
		}
		bytes += n
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/op")
}
