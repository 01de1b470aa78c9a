package fetcher

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/thetadata"
)

// v3GreeksBody is a v3 greeks CSV response shaped like a 0DTE SPXW day:
// contracts × 391 one-minute rows, contract by contract, with prices and
// greeks that vary from row to row.
func v3GreeksBody(contracts int) []byte {
	rnd := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString("symbol,expiration,strike,right,timestamp,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,underlying_timestamp,underlying_price\n")
	for k := range contracts {
		strike := 2800 + 5*(k/2)
		right := "CALL"
		if k%2 == 1 {
			right = "PUT"
		}
		for i := range 391 {
			ms := 34200000 + 60000*i
			ts := fmt.Sprintf("2024-03-15T%02d:%02d:%02d.000", ms/3600000, ms/60000%60, ms/1000%60)
			bid := float64(rnd.IntN(300000)) / 100
			fmt.Fprintf(&b, "SPXW,2024-03-15,%d.000,%s,%s,%.2f,%.1f,%.4f,%.4f,%d,%.4f,%.4f,%.4f,%.4f,0,%s,%.2f\n",
				strike, right, ts, bid, bid+rnd.Float64()*20, rnd.Float64(), -rnd.Float64(), rnd.IntN(3),
				rnd.Float64(), -rnd.Float64()*3, rnd.Float64()*5, rnd.Float64()*2, ts, 4900+rnd.Float64()*100)
		}
	}
	return b.Bytes()
}

// BenchmarkProduce is the fetcher's producer goroutine, the critical path of
// staging a response: an httptest terminal serves a 0DTE-sized greeks body
// and produce turns it into staged lines, hashed and compressed into
// io.Discard.
func BenchmarkProduce(b *testing.B) {
	body := v3GreeksBody(430)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()
	client, err := thetadata.New(ctx, thetadata.Options{BaseURL: srv.URL, API: "v3"})
	if err != nil {
		b.Fatal(err)
	}
	s := New(nil, client, Config{})
	d := spx.NewDate(2024, 3, 15)
	key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: d, Expiration: d}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var rows int64
	for b.Loop() {
		out, err := newRowsOut(ctx, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		var info spx.StreamInfo
		if err := s.produce(ctx, out, key, time.Minute, []byte{0}, &info); err != nil {
			b.Fatal(err)
		}
		if _, err := out.finish(); err != nil {
			b.Fatal(err)
		}
		rows += out.rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
