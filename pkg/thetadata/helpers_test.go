package thetadata

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

var (
	tDate = spx.NewDate(2024, 3, 15)
	tExp  = spx.NewDate(2024, 3, 15)
)

func greeksReq() spx.HistoryRequest {
	return spx.HistoryRequest{Dataset: spx.Greeks, Root: "SPXW", Date: tDate, Expiration: tExp}
}

// newTerminal starts an httptest server with the given handlers by path.
func newTerminal(t testing.TB, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t testing.TB, base, api string, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{BaseURL: base, API: api, IdleTimeout: 2 * time.Second, Timeout: 20 * time.Second}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

const v3GreeksHeader = "symbol,expiration,strike,right,timestamp,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,underlying_timestamp,underlying_price"

var v2GreeksFormat = []string{"ms_of_day", "bid", "ask", "delta", "theta", "vega", "rho", "epsilon", "lambda", "implied_vol", "iv_error", "ms_of_day2", "underlying_price", "date"}

// v3GreeksCSV writes contracts × stamps rows of v3 greeks CSV.
func v3GreeksCSV(w io.Writer, contracts, stamps int) {
	fmt.Fprintln(w, v3GreeksHeader)
	for k := range contracts {
		strike := 4000 + 5*(k/2)
		right := "CALL"
		if k%2 == 1 {
			right = "PUT"
		}
		for i := range stamps {
			ms := 34200000 + 60000*i
			ts := fmt.Sprintf("2024-03-15T%02d:%02d:%02d.000", ms/3600000, ms/60000%60, ms/1000%60)
			fmt.Fprintf(w, "SPXW,2024-03-15,%d.000,%s,%s,114.95,115.05,0.9988,-0.0393,0.0708,0.7094,-1.9697,1.5629,3.3828,0,%s,5179.94\n", strike, right, ts, ts)
		}
	}
}

// v2Page writes one v2 greeks JSON envelope with contracts × stamps ticks.
func v2Page(w io.Writer, next string, contracts, stamps, first int) {
	fmt.Fprintf(w, `{"header":{"id":0,"latency_ms":12,"error_type":"null","error_msg":"null","next_page":"%s","format":["%s"]},"response":[`,
		next, strings.Join(v2GreeksFormat, `","`))
	for k := range contracts {
		if k > 0 {
			w.Write([]byte(","))
		}
		w.Write([]byte(`{"ticks":[`))
		for i := range stamps {
			if i > 0 {
				w.Write([]byte(","))
			}
			fmt.Fprintf(w, "[%d,114.95,115.05,0.9988,-0.0393,0.0708,0.7094,-1.9697,1.5629,3.3828,0,%d,5179.94,20240315]", 34200000+60000*i, 34200000+60000*i)
		}
		right := "C"
		if (first+k)%2 == 1 {
			right = "P"
		}
		fmt.Fprintf(w, `],"contract":{"root":"SPXW","expiration":20240315,"strike":%d,"right":"%s"}}`, (4000+5*((first+k)/2))*1000, right)
	}
	w.Write([]byte("]}"))
}

// drain reads a stream to its end and returns the rows' NDJSON and count.
func drain(t testing.TB, s spx.RowStream, ds spx.Dataset) (int, []byte, error) {
	t.Helper()
	defer s.Close()
	var out []byte
	n := 0
	for s.Next() {
		n++
		if n <= 3 {
			out = spx.AppendNDJSON(out, ds, s.Row())
		}
	}
	return n, out, s.Err()
}

func text(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// logBuffer returns a logger writing text into buf.
func logBuffer(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}
