package thetadata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
	"github.com/spx-archive/spx/pkg/thetaspec"
)

// What pkg/thetadata sends and parses, against spx's contract table of
// ThetaData's v3 OpenAPI file (pkg/thetaspec).

// TestContractClientRequests records every v3 request the client makes for
// everything spx asks a terminal, in every format, and checks each against
// the spec: a known endpoint, only parameters the spec lists for it, every
// value one the spec allows, and every required parameter present.
func TestContractClientRequests(t *testing.T) {
	tab, err := thetaspec.Load()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := thetaspec.LoadExceptions()
	if err != nil {
		t.Fatal(err)
	}
	sim := terminalsim.New(terminalsim.Config{Seed: 7, MaxExpirations: 2, MaxStrikes: 2})
	var mu sync.Mutex
	var seen []*url.URL
	h := sim.V3Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()
	date := spx.NewDate(2024, 3, 14)
	for _, format := range []string{"csv", "ndjson", "json"} {
		c := newClient(t, srv.URL, "v3", func(o *Options) { o.V3Format = format })
		if _, err := c.Expirations(ctx, "SPXW"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Contracts(ctx, date, []string{"SPXW", "SPX"}); err != nil {
			t.Fatal(err)
		}
		exp := sim.Expirations("SPXW", date)[0]
		if _, err := c.ExpirationDates(ctx, "SPXW", exp); err != nil {
			t.Fatal(err)
		}
		for _, ds := range spx.Datasets {
			for _, req := range []spx.HistoryRequest{
				{Dataset: ds, Root: "SPXW", Date: date, Expiration: exp},
				{Dataset: ds, Root: "SPXW", Date: date, Expiration: exp, Right: 'C', Interval: 15 * time.Minute},
				{Dataset: ds, Root: "SPX", Date: date, AllExpirations: true},
			} {
				if req.AllExpirations && (ds == spx.Greeks || ds == spx.OHLC) {
					continue // the spec offers expiration=* only for quote, eod, open_interest
				}
				s, err := c.History(ctx, req)
				if err != nil {
					t.Fatalf("%+v: %v", req, err)
				}
				for s.Next() {
				}
				if err := s.Err(); err != nil {
					t.Fatalf("%+v: %v", req, err)
				}
				s.Close()
			}
		}
	}
	if len(seen) < 30 {
		t.Fatalf("only %d requests recorded", len(seen))
	}
	for _, u := range seen {
		if u.Path == "/v3/terminal/mdds/status" {
			continue // the health probe; not among the contract's endpoints
		}
		e, vars, ok := tab.Match(strings.TrimPrefix(u.Path, "/v3"))
		if !ok {
			t.Errorf("%s: not an endpoint of the contract table", u)
			continue
		}
		q := u.Query()
		for name, v := range vars {
			q.Set(name, v)
		}
		for name, vals := range q {
			p, ok := e.Param(name)
			if !ok {
				if _, exc := thetaspec.Excepted(ex.Client, e.Path, "param:"+name); !exc {
					t.Errorf("%s: the spec does not list %s for %s", u, name, e.Path)
				}
				continue
			}
			for _, v := range vals {
				if err := thetaspec.CheckParam(p, v); err != nil {
					t.Errorf("%s: %v (%s)", u, err, p.Spec)
				}
			}
		}
		for _, p := range e.Parameters {
			if p.Required && p.Default == "" && q.Get(p.Name) == "" {
				t.Errorf("%s: the spec requires %s (%s)", u, p.Name, p.Spec)
			}
		}
	}
}

// TestContractClientReadsSpecColumns serves, for every history endpoint,
// rows whose columns are exactly the spec's (from the contract table, in
// its order, values typed as it says) in CSV and NDJSON with the keys in
// another order, and checks the client reads them.
func TestContractClientReadsSpecColumns(t *testing.T) {
	tab, err := thetaspec.Load()
	if err != nil {
		t.Fatal(err)
	}
	for i := range tab.Endpoints {
		e := &tab.Endpoints[i]
		if e.Dataset == "" {
			continue
		}
		ds, err := spx.ParseDataset(e.Dataset)
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]string, len(e.Response.Columns))
		for j, c := range e.Response.Columns {
			vals[j] = sampleCell(&c)
		}
		csvBody := strings.Join(e.ColumnNames(), ",") + "\r\n" + strings.Join(vals, ",") + "\r\n"
		var nd strings.Builder
		nd.WriteString("{")
		for j := len(vals) - 1; j >= 0; j-- { // reversed: order must not matter
			c := e.Response.Columns[j]
			v := vals[j]
			if c.Type == "string" {
				v = `"` + v + `"`
			}
			nd.WriteString(`"` + c.Name + `":` + v)
			if j > 0 {
				nd.WriteString(",")
			}
		}
		nd.WriteString("}\n")
		for format, body := range map[string]string{"csv": csvBody, "ndjson": nd.String()} {
			t.Run(e.Path+"/"+format, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v3/terminal/mdds/status" {
						_, _ = w.Write([]byte("CONNECTED"))
						return
					}
					_, _ = w.Write([]byte(body))
				}))
				defer srv.Close()
				c := newClient(t, srv.URL, "v3", func(o *Options) { o.V3Format = format })
				s, err := c.History(context.Background(), spx.HistoryRequest{Dataset: ds, Root: "SPXW", Date: spx.NewDate(2024, 11, 4), Expiration: spx.NewDate(2024, 11, 8)})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				n := 0
				for s.Next() {
					n++
					if r := s.Row(); r.Contract.Root != "SPXW" || r.Contract.Strike != 220 || r.Date != spx.NewDate(2024, 11, 4) {
						t.Errorf("row %+v", r)
					}
				}
				if err := s.Err(); err != nil || n != 1 {
					t.Fatalf("%d rows, %v", n, err)
				}
			})
		}
	}
}

// sampleCell is a value of column c's type and format.
func sampleCell(c *thetaspec.Column) string {
	switch {
	case c.Name == "symbol":
		return "SPXW"
	case c.Name == "right":
		return "CALL"
	case c.Name == "strike":
		return "220.000"
	case c.Name == "expiration":
		return "2024-11-08"
	case c.Format == "date-time":
		return "2024-11-04T09:30:00"
	case c.Format == "date":
		return "2024-11-04"
	case c.Type == "integer":
		return "42"
	case c.Type == "number":
		return "4.55"
	}
	return "x"
}

// TestSpecExamples feeds the spec's own example bodies (read from the spec
// at hand, never stored) to the client's list and history readers, in
// every format the spec shows. Skipped without the spec (make
// contract-spec says how to provide it).
func TestSpecExamples(t *testing.T) {
	raw, _, err := thetaspec.FindSpec()
	if errors.Is(err, thetaspec.ErrNoSpec) {
		t.Skipf("the spec's examples were not decoded: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	exs, err := thetaspec.Examples(raw)
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := thetaspec.Load()
	if len(exs) < 3*len(thetaspec.Covered)-3 {
		t.Fatalf("only %d examples", len(exs))
	}
	ctx := context.Background()
	for _, ex := range exs {
		if e, _ := tab.Endpoint(ex.Endpoint); e.SPX == "" {
			continue // spx does not read it (strikes, symbols, at_time: the deep check compares them raw)
		}
		t.Run(ex.Endpoint+"/"+ex.Format, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v3/terminal/mdds/status" {
					_, _ = w.Write([]byte("CONNECTED"))
					return
				}
				_, _ = w.Write(ex.Body)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, "v3", func(o *Options) { o.V3Format = ex.Format })
			e, _ := tab.Endpoint(ex.Endpoint)
			var n int
			var err error
			switch ex.Endpoint {
			case "/option/list/expirations":
				var d []spx.Date
				d, err = c.Expirations(ctx, "AAPL")
				n = len(d)
			case "/option/list/dates/{request_type}":
				var d []spx.Date
				d, err = c.ExpirationDates(ctx, "AAPL", spx.NewDate(2024, 11, 8))
				n = len(d)
			case "/option/list/contracts/{request_type}":
				var k []spx.Contract
				k, err = c.Contracts(ctx, spx.NewDate(2024, 11, 4), []string{"AAPL"})
				n = len(k)
			default:
				ds, _ := spx.ParseDataset(e.Dataset)
				var s spx.RowStream
				s, err = c.History(ctx, spx.HistoryRequest{Dataset: ds, Root: "AAPL", Date: spx.NewDate(2024, 11, 4), Expiration: spx.NewDate(2024, 11, 8)})
				if err == nil {
					for s.Next() {
						n++
					}
					err = s.Err()
					s.Close()
				}
			}
			if err != nil || n == 0 {
				t.Fatalf("the spec's %s example of %s: %d rows, %v", ex.Format, ex.Endpoint, n, err)
			}
		})
	}
}
