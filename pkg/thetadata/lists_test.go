package thetadata

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

func TestV2Lists(t *testing.T) {
	var queries []string
	q := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			queries = append(queries, r.URL.RawQuery)
			w.Write([]byte(body))
		}
	}
	srv := newTerminal(t, map[string]http.HandlerFunc{
		"/v2/list/expirations":        q(`{"header":{"id":0,"latency_ms":3,"error_type":"null","error_msg":"null","next_page":"null","format":["date"]},"response":[20240112,20240105,20240105]}`),
		"/v2/list/dates/option/quote": q(`{"header":{"error_type":"null","error_msg":"null","next_page":"null","format":["date"]},"response":[20240102,20240103]}`),
		"/v2/list/contracts/option/quote": q(`{"header":{"error_type":"null","error_msg":"null","next_page":"null","format":["root","expiration","strike","right"]},` +
			`"response":[["SPXW",20240105,4700000,"C"],["SPX",20240119,4702500,"P"]]}`),
	})
	c := newClient(t, srv.URL, "v2")
	ctx := context.Background()
	exps, err := c.Expirations(ctx, "SPXW")
	if err != nil || !slices.Equal(exps, []spx.Date{spx.NewDate(2024, 1, 5), spx.NewDate(2024, 1, 12)}) {
		t.Errorf("Expirations = %v, %v", exps, err)
	}
	dates, err := c.ExpirationDates(ctx, "SPXW", spx.NewDate(2024, 1, 5))
	if err != nil || !slices.Equal(dates, []spx.Date{spx.NewDate(2024, 1, 2), spx.NewDate(2024, 1, 3)}) {
		t.Errorf("ExpirationDates = %v, %v", dates, err)
	}
	cs, err := c.Contracts(ctx, spx.NewDate(2024, 1, 2), []string{"SPXW", "SPX"})
	want := []spx.Contract{{Root: "SPXW", Expiration: spx.NewDate(2024, 1, 5), Strike: 4700, Right: 'C'}, {Root: "SPX", Expiration: spx.NewDate(2024, 1, 19), Strike: 4702.5, Right: 'P'}}
	if err != nil || !slices.Equal(cs, want) {
		t.Errorf("Contracts = %v, %v", cs, err)
	}
	wantQ := []string{"root=SPXW", "root=SPXW&exp=20240105", "start_date=20240102&root=SPXW,SPX"}
	if !slices.Equal(queries, wantQ) {
		t.Errorf("queries %q, want %q", queries, wantQ)
	}
}

func TestV3Lists(t *testing.T) {
	srv := newTerminal(t, map[string]http.HandlerFunc{
		"/v3/option/list/expirations":     text(200, "symbol,expiration\nSPXW,2024-01-12\nSPXW,2024-01-05\n"),
		"/v3/option/list/dates/quote":     text(200, "date\n2024-01-02\n\"2024-01-03\"\n"),
		"/v3/option/list/contracts/quote": text(200, "symbol,expiration,strike,right\nSPXW,2024-01-05,4700.000,CALL\nSPX,2024-01-19,4702.500,PUT\n"),
	})
	c := newClient(t, srv.URL, "v3")
	ctx := context.Background()
	exps, err := c.Expirations(ctx, "SPXW")
	if err != nil || !slices.Equal(exps, []spx.Date{spx.NewDate(2024, 1, 5), spx.NewDate(2024, 1, 12)}) {
		t.Errorf("Expirations = %v, %v", exps, err)
	}
	dates, err := c.ExpirationDates(ctx, "SPXW", spx.NewDate(2024, 1, 5))
	if err != nil || !slices.Equal(dates, []spx.Date{spx.NewDate(2024, 1, 2), spx.NewDate(2024, 1, 3)}) {
		t.Errorf("ExpirationDates = %v, %v", dates, err)
	}
	cs, err := c.Contracts(ctx, spx.NewDate(2024, 1, 2), []string{"SPXW", "SPX"})
	want := []spx.Contract{{Root: "SPXW", Expiration: spx.NewDate(2024, 1, 5), Strike: 4700, Right: 'C'}, {Root: "SPX", Expiration: spx.NewDate(2024, 1, 19), Strike: 4702.5, Right: 'P'}}
	if err != nil || !slices.Equal(cs, want) {
		t.Errorf("Contracts = %v, %v", cs, err)
	}
}

func TestListFailures(t *testing.T) {
	tests := []struct {
		name, gen, body string
		class           spx.ErrorClass
	}{
		{"v2 truncated", "v2", `{"header":{"error_type":"null","format":["date"]},"response":[2024010`, spx.ClassTransient},
		{"v2 garbage", "v2", `<html>`, spx.ClassPermanent},
		{"v2 bad date", "v2", `{"header":{"error_type":"null","format":["date"]},"response":[20241301]}`, spx.ClassPermanent},
		{"v2 no data", "v2", `{"header":{"error_type":"NO_DATA","error_msg":"none","format":null},"response":[]}`, spx.ClassEmpty},
		{"v3 bad date", "v3", "symbol,expiration\nSPXW,2024-13-01\n", spx.ClassPermanent},
		{"v3 no column", "v3", "symbol,exp\nSPXW,2024-01-01\n", spx.ClassPermanent},
		{"v3 truncated", "v3", "symbol,expiration\nSPXW,2024-01", spx.ClassTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTerminal(t, map[string]http.HandlerFunc{"/": text(200, tt.body)})
			c := newClient(t, srv.URL, tt.gen)
			_, err := c.Expirations(context.Background(), "SPXW")
			if spx.ClassOf(err) != tt.class {
				t.Errorf("err %v: class %s, want %s", err, spx.ClassOf(err), tt.class)
			}
			if tt.class == spx.ClassEmpty && !errors.Is(err, spx.ErrNoData) {
				t.Errorf("err %v is not spx.ErrNoData", err)
			}
		})
	}
}
