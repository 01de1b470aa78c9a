package thetadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

const wantGreeksRow = `{"root":"SPXW","expiration":20240315,"strike":4000,"right":"C","date":20240315,"ms_of_day":34200000,"bid":114.95,"ask":115.05,"delta":0.9988,"theta":-0.0393,"vega":0.0708,"rho":0.7094,"epsilon":-1.9697,"lambda":1.5629,"implied_vol":3.3828,"iv_error":0,"ms_of_day2":34200000,"underlying_price":5179.94}` + "\n"

func TestV3History(t *testing.T) {
	var csv bytes.Buffer
	v3GreeksCSV(&csv, 4, 391)
	quoted := `"symbol","expiration","strike","right","timestamp","bid","ask","delta","theta","vega","rho","epsilon","lambda","implied_vol","iv_error","underlying_timestamp","underlying_price"` + "\r\n" +
		`"SPXW","2024-03-15","4000.000","CALL","2024-03-15T09:30:00.000","114.95","115.05","0.9988","-0.0393","0.0708","0.7094","-1.9697","1.5629","3.3828","0","2024-03-15T09:30:00.000","5179.94"` + "\r\n"
	// Columns in another order: mapping is by name.
	reordered := "underlying_price,timestamp,symbol,strike,right,expiration,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,underlying_timestamp\n" +
		"5179.94,2024-03-15T09:30:00.000,SPXW,4000.000,C,20240315,114.95,115.05,0.9988,-0.0393,0.0708,0.7094,-1.9697,1.5629,3.3828,0,2024-03-15T09:30:00\n"
	ndjson := `{"symbol":"SPXW","expiration":"2024-03-15","strike":4000.000,"right":"CALL","timestamp":"2024-03-15T09:30:00.000","bid":114.95,"ask":115.05,"delta":0.9988,"theta":-0.0393,"vega":0.0708,"rho":0.7094,"epsilon":-1.9697,"lambda":1.5629,"implied_vol":3.3828,"iv_error":0,"underlying_timestamp":"2024-03-15T09:30:00.000","underlying_price":5179.94}` + "\n" +
		`{"underlying_price":5179.94,"symbol":"SPXW","expiration":"2024-03-15","strike":4000.000,"right":"PUT","timestamp":"2024-03-15T09:31:00.500","bid":1,"ask":2,"delta":-0.01,"theta":-0.0393,"vega":0.0708,"rho":0.7094,"epsilon":-1.9697,"lambda":1.5629,"implied_vol":3.3828,"iv_error":0,"underlying_timestamp":"2024-03-15T09:31:00.000"}` + "\n"
	tests := []struct {
		name  string
		body  string
		rows  int
		first string
	}{
		{"csv", csv.String(), 4 * 391, wantGreeksRow},
		{"quoted csv crlf", quoted, 1, wantGreeksRow},
		{"reordered columns", reordered, 1, wantGreeksRow},
		{"ndjson", ndjson, 2, wantGreeksRow},
		{"header only", v3GreeksHeader + "\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var query string
			srv := newTerminal(t, map[string]http.HandlerFunc{"/v3/option/history/greeks/first_order": func(w http.ResponseWriter, r *http.Request) {
				query = r.URL.RawQuery
				io.WriteString(w, tt.body)
			}})
			c := newClient(t, srv.URL, "v3")
			s, err := c.History(context.Background(), greeksReq())
			if err != nil {
				t.Fatal(err)
			}
			n, out, err := drain(t, s, spx.Greeks)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.rows {
				t.Errorf("rows %d, want %d", n, tt.rows)
			}
			if first, _, _ := strings.Cut(string(out), "\n"); tt.first != "" && first+"\n" != tt.first {
				t.Errorf("first row\n got %s\nwant %s", first, tt.first)
			}
			if query != "symbol=SPXW&expiration=20240315&date=20240315&interval=1m&format=csv" {
				t.Errorf("query %q", query)
			}
			info := s.Info()
			if info.Generation != "v3" || info.Pages != 1 || len(info.Header) != 17 || !strings.Contains(info.URL, "/v3/option/history/greeks/first_order?") {
				t.Errorf("info %+v", info)
			}
			if tt.name == "ndjson" {
				// The second row: a put, fractional milliseconds.
				if !strings.Contains(string(out), `"right":"P","date":20240315,"ms_of_day":34260500,"bid":1,`) {
					t.Errorf("second ndjson row wrong: %s", out)
				}
			}
		})
	}
}

func TestV3DatasetsAndSplit(t *testing.T) {
	eod := "symbol,expiration,strike,right,created,last_trade,open,high,low,close,volume,count,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,ask_condition\n" +
		"SPX,2024-03-15,5065.000,PUT,2024-03-14T17:15:02.123,2024-03-14T15:59:58.001,1,2,0.5,1.5,10,3,5,1,1.4,50,6,1,1.6,50\n"
	ohlc := "symbol,expiration,strike,right,timestamp,open,high,low,close,volume,count\n" +
		"SPX,2024-03-15,5065.000,PUT,2024-03-14T09:30:00.000,1,2,0.5,1.5,10,3\n"
	var got []string
	srv := newTerminal(t, map[string]http.HandlerFunc{
		"/v3/option/history/eod": func(w http.ResponseWriter, r *http.Request) {
			got = append(got, r.URL.RawQuery)
			io.WriteString(w, eod)
		},
		"/v3/option/history/ohlc": func(w http.ResponseWriter, r *http.Request) {
			got = append(got, r.URL.RawQuery)
			io.WriteString(w, ohlc)
		},
	})
	c := newClient(t, srv.URL, "v3")
	day := spx.NewDate(2024, 3, 14)
	s, err := c.History(context.Background(), spx.HistoryRequest{Dataset: spx.EOD, Root: "SPX", Date: day, Expiration: tExp, Right: 'P'})
	if err != nil {
		t.Fatal(err)
	}
	_, out, err := drain(t, s, spx.EOD)
	want := `{"root":"SPX","expiration":20240315,"strike":5065,"right":"P","date":20240314,"ms_of_day":62102123,"ms_of_day2":57598001,"open":1,"high":2,"low":0.5,"close":1.5,"volume":10,"count":3,"bid_size":5,"bid_exchange":1,"bid":1.4,"bid_condition":50,"ask_size":6,"ask_exchange":1,"ask":1.6,"ask_condition":50}` + "\n"
	if err != nil || string(out) != want {
		t.Errorf("eod: %v\n got %s\nwant %s", err, out, want)
	}
	// ohlc without the optional vwap column: vwap is null.
	s, err = c.History(context.Background(), spx.HistoryRequest{Dataset: spx.OHLC, Root: "SPX", Date: day, Expiration: tExp, Interval: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, out, err = drain(t, s, spx.OHLC)
	if err != nil || !strings.HasSuffix(string(out), `"count":3,"vwap":null}`+"\n") {
		t.Errorf("ohlc: %v %s", err, out)
	}
	wantQ := []string{
		"symbol=SPX&expiration=20240315&start_date=20240314&end_date=20240314&right=put&format=csv", // the spec's eod has no date parameter
		"symbol=SPX&expiration=20240315&date=20240314&interval=5m&format=csv",
	}
	if fmt.Sprint(got) != fmt.Sprint(wantQ) {
		t.Errorf("queries\n got %q\nwant %q", got, wantQ)
	}
}

// v2Pager serves a v2 greeks response over several pages. nextHost is the
// host written into next_page (a forwarding proxy's clients never see it).
func v2Pager(t *testing.T, pages, contractsPerPage int, csv bool, fail477 int) (*Client, *atomic.Int32) {
	var served atomic.Int32
	const stamps = 50
	page := func(w http.ResponseWriter, n int) {
		next := "null"
		if n < pages {
			next = fmt.Sprintf("http://terminal.invalid:25510/v2/page/%d", n+1)
		}
		if csv {
			w.Header().Set("Next-Page", next)
			fmt.Fprintf(w, "root,expiration,strike,right,%s\n", strings.Join(v2GreeksFormat, ","))
			for k := range contractsPerPage {
				for i := range stamps {
					fmt.Fprintf(w, "SPXW,20240315,%d,C,%d,114.95,115.05,0.9988,-0.0393,0.0708,0.7094,-1.9697,1.5629,3.3828,0,34200000,5179.94,20240315\n", (4000+5*((n-1)*contractsPerPage+k))*1000, 34200000+60000*i)
				}
			}
			return
		}
		v2Page(w, next, contractsPerPage, stamps, (n-1)*contractsPerPage)
	}
	srv := newTerminal(t, map[string]http.HandlerFunc{
		"/v2/bulk_hist/option/greeks": func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			if want := "root=SPXW&exp=20240315&start_date=20240315&end_date=20240315&ivl=60000"; !strings.HasPrefix(r.URL.RawQuery, want) {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			page(w, 1)
		},
		"/v2/page/": func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			var n int
			fmt.Sscanf(r.URL.Path, "/v2/page/%d", &n)
			if n == fail477 {
				text(477, "NO_PAGE_FOUND")(w, r)
				return
			}
			page(w, n)
		},
	})
	return newClient(t, srv.URL, "v2", func(o *Options) { o.V2CSV = csv }), &served
}

func TestV2Pagination(t *testing.T) {
	for _, csv := range []bool{false, true} {
		t.Run(fmt.Sprintf("csv=%v", csv), func(t *testing.T) {
			c, served := v2Pager(t, 3, 4, csv, 0)
			s, err := c.History(context.Background(), greeksReq())
			if err != nil {
				t.Fatal(err)
			}
			n, out, err := drain(t, s, spx.Greeks)
			if err != nil {
				t.Fatal(err)
			}
			if n != 3*4*50 || s.Info().Pages != 3 || served.Load() != 3 {
				t.Errorf("rows %d pages %d served %d, want %d rows over 3 pages", n, s.Info().Pages, served.Load(), 3*4*50)
			}
			if first, _, _ := strings.Cut(string(out), "\n"); first+"\n" != wantGreeksRow {
				t.Errorf("first row\n got %s\nwant %s", first, wantGreeksRow)
			}
		})
	}
}

func TestV2PageExpired(t *testing.T) {
	for _, csv := range []bool{false, true} {
		c, _ := v2Pager(t, 3, 2, csv, 3)
		s, err := c.History(context.Background(), greeksReq())
		if err != nil {
			t.Fatal(err)
		}
		n, _, err := drain(t, s, spx.Greeks)
		var te *Error
		if !errors.As(err, &te) || te.Code != 477 || spx.ClassOf(err) != spx.ClassTransient {
			t.Fatalf("csv=%v: err %v after %d rows, want transient 477", csv, err, n)
		}
		if n != 2*2*50 {
			t.Errorf("rows before the failure %d", n)
		}
	}
}

func TestV2ContractBeforeTicks(t *testing.T) {
	body := `{"header":{"error_type":"null","error_msg":"null","next_page":"null","format":["ms_of_day","open_interest","date"]},` +
		`"response":[{"contract":{"root":"SPX","expiration":20240315,"strike":5065000,"right":"P"},"ticks":[[23400000,1234,20240314],[23400001,1235,20240314]]},` +
		`{"ticks":[],"contract":{"root":"SPX","expiration":20240315,"strike":5070000,"right":"C"}},` +
		`{"ticks":[[23400000,7,20240314]],"contract":{"root":"SPX","expiration":20240315,"strike":5070500,"right":"C"}}], "extra": {"a":[1,2]}}` + "\n"
	srv := newTerminal(t, map[string]http.HandlerFunc{"/v2/bulk_hist/option/open_interest": text(200, body)})
	c := newClient(t, srv.URL, "v2")
	s, err := c.History(context.Background(), spx.HistoryRequest{Dataset: spx.OpenInterest, Root: "SPX", Date: spx.NewDate(2024, 3, 14), Expiration: tExp})
	if err != nil {
		t.Fatal(err)
	}
	n, out, err := drain(t, s, spx.OpenInterest)
	want := `{"root":"SPX","expiration":20240315,"strike":5065,"right":"P","date":20240314,"ms_of_day":23400000,"open_interest":1234}
{"root":"SPX","expiration":20240315,"strike":5065,"right":"P","date":20240314,"ms_of_day":23400001,"open_interest":1235}
{"root":"SPX","expiration":20240315,"strike":5070.5,"right":"C","date":20240314,"ms_of_day":23400000,"open_interest":7}
`
	if err != nil || n != 3 || string(out) != want {
		t.Errorf("n=%d err=%v\n got %s\nwant %s", n, err, out, want)
	}
}

func TestStalledBody(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stall := func(w http.ResponseWriter, r *http.Request, first string) {
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	var v2first bytes.Buffer
	v2Page(&v2first, "null", 1, 3, 0)
	srv := newTerminal(t, map[string]http.HandlerFunc{
		"/v3/": func(w http.ResponseWriter, r *http.Request) {
			stall(w, r, v3GreeksHeader+"\nSPXW,2024-03-15,4000.000,CALL,2024-03-15T09:30:00.000,1,2,0.5,0,0,0,0,0,0.2,0,2024-03-15T09:30:00.000,5000\n")
		},
		"/v2/": func(w http.ResponseWriter, r *http.Request) { stall(w, r, v2first.String()[:300]) },
	})
	for _, gen := range []string{"v3", "v2"} {
		c := newClient(t, srv.URL, gen, func(o *Options) { o.IdleTimeout = 200 * time.Millisecond })
		start := time.Now()
		s, err := c.History(context.Background(), greeksReq())
		if err != nil {
			t.Fatalf("%s: %v", gen, err)
		}
		n, _, err := drain(t, s, spx.Greeks)
		if !errors.Is(err, ErrIdleTimeout) || spx.ClassOf(err) != spx.ClassTransient {
			t.Errorf("%s: err %v after %d rows, want transient idle timeout", gen, err, n)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %v", gen, d)
		}
	}
}

func TestCutBody(t *testing.T) {
	var v3body, v2body bytes.Buffer
	v3GreeksCSV(&v3body, 2, 100)
	v2Page(&v2body, "null", 2, 100, 0)
	v3s, v2s := v3body.String(), v2body.String()
	abort := func(body string) http.HandlerFunc { // chunked encoding cut
		return func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, body)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
	}
	short := func(body string) http.HandlerFunc { // Content-Length not reached
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)+1000))
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name, gen string
		h         http.HandlerFunc
	}{
		{"v3 chunked cut", "v3", abort(v3s[:len(v3s)/2])},
		{"v3 short content-length", "v3", short(v3s[:len(v3s)/2])},
		{"v3 last line without newline", "v3", text(200, v3s[:len(v3s)-20])},
		{"v2 chunked cut", "v2", abort(v2s[:len(v2s)/2])},
		{"v2 short content-length", "v2", short(v2s[:len(v2s)/2])},
		{"v2 missing closing brackets", "v2", text(200, v2s[:len(v2s)-2])},
		{"v2 cut inside a number", "v2", text(200, v2s[:len(v2s)/2+3])},
		{"v2 cut in the header", "v2", text(200, v2s[:40])},
		{"v2 empty body", "v2", text(200, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTerminal(t, map[string]http.HandlerFunc{"/": tt.h})
			c := newClient(t, srv.URL, tt.gen)
			s, err := c.History(context.Background(), greeksReq())
			n := 0
			if err == nil {
				n, _, err = drain(t, s, spx.Greeks)
			}
			if err == nil || spx.ClassOf(err) != spx.ClassTransient || !errors.Is(err, ErrTruncated) {
				t.Errorf("err %v (class %s) after %d rows: want a transient truncation error", err, spx.ClassOf(err), n)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	row := "SPXW,2024-03-15,4000.000,CALL,2024-03-15T09:30:00.000,114.95,115.05,0.9988,-0.0393,0.0708,0.7094,-1.9697,1.5629,3.3828,0,2024-03-15T09:30:00.000,5179.94\n"
	v3 := func(h, r string) string { return h + "\n" + row + r }
	v2 := func(format, tick string) string {
		return `{"header":{"error_type":"null","error_msg":"null","next_page":"null","format":[` + format + `]},"response":[{"contract":{"root":"SPXW","expiration":20240315,"strike":4000000,"right":"C"},"ticks":[` + tick + `]}]}`
	}
	okFormat := `"` + strings.Join(v2GreeksFormat, `","`) + `"`
	okTick := "[34200000,114.95,115.05,0.9988,-0.0393,0.0708,0.7094,-1.9697,1.5629,3.3828,0,34200000,5179.94,20240315]"
	tests := []struct {
		name, gen, body string
		says            []string // the message names the problem and quotes the input
	}{
		{"v3 NaN", "v3", v3(v3GreeksHeader, strings.Replace(row, "0.9988", "NaN", 1)), []string{"delta", `"NaN"`, "row 2", "SPXW,2024-03-15"}},
		{"v3 Inf", "v3", v3(v3GreeksHeader, strings.Replace(row, "0.9988", "+Inf", 1)), []string{"delta", "+Inf"}},
		{"v3 garbage value", "v3", v3(v3GreeksHeader, strings.Replace(row, "114.95", "1x4", 1)), []string{"bid", "1x4"}},
		{"v3 bad timestamp", "v3", v3(v3GreeksHeader, strings.Replace(row, "T09:30", "T9:30", 1)), []string{"timestamp"}},
		{"v3 bad right", "v3", v3(v3GreeksHeader, strings.Replace(row, "CALL", "X", 1)), []string{"right", `"X"`}},
		{"v3 too few fields", "v3", v3(v3GreeksHeader, "SPXW,2024-03-15,4000.000\n"), []string{"3 fields", "17", "SPXW,2024-03-15,4000.000"}},
		{"v3 too many fields", "v3", v3(v3GreeksHeader, strings.TrimSuffix(row, "\n")+",1\n"), []string{"18 fields"}},
		{"v3 missing column", "v3", strings.Replace(v3GreeksHeader, ",vega", "", 1) + "\n", []string{"missing [vega]", "greeks"}},
		{"v3 unknown column", "v3", v3GreeksHeader + ",gamma\n", []string{"unexpected [gamma]"}},
		{"v3 missing value", "v3", v3(v3GreeksHeader, strings.Replace(row, ",114.95,", ",,", 1)), []string{"bid", "empty"}},
		{"v3 html", "v3", "<html><body>oops</body></html>\n", []string{"missing", "<html>"}},
		{"v3 bad ndjson", "v3", `{"symbol":"SPXW",` + "\n", []string{"flat JSON object", `{\"symbol\"`}},
		{"v2 NaN", "v2", v2(okFormat, strings.Replace(okTick, "0.9988", "NaN", 1)), []string{"delta", `"NaN"`, "[34200000,114.95,115.05,NaN"}},
		{"v2 string value", "v2", v2(okFormat, strings.Replace(okTick, "0.9988", `"0.9988"`, 1)), []string{"delta", "0.9988"}},
		{"v2 null value", "v2", v2(okFormat, strings.Replace(okTick, "0.9988", `null`, 1)), []string{"delta", "null"}},
		{"v2 too few fields", "v2", v2(okFormat, "[34200000,1]"), []string{"2 fields", "14", "[34200000,1]"}},
		{"v2 too many fields", "v2", v2(okFormat, strings.Replace(okTick, "]", ",7]", 1)), []string{"15 fields"}},
		{"v2 missing column", "v2", v2(strings.Replace(okFormat, `"vega",`, "", 1), okTick), []string{"missing [vega]"}},
		{"v2 unknown column", "v2", v2(okFormat+`,"gamma"`, okTick), []string{"unexpected [gamma]"}},
		{"v2 syntax", "v2", v2(okFormat, okTick+"}"), []string{"expected", `{\"header\"`}},
		{"v2 not json", "v2", "<html>busy</html>", []string{"<html>busy"}},
		{"v2 response before header", "v2", `{"response":[],"header":{}}`, []string{"before its header"}},
		{"v2 bad contract", "v2", strings.Replace(v2(okFormat, okTick), `"right":"C"`, `"right":"Q"`, 1), []string{"right", "Q"}},
		{"v2 trailing data", "v2", v2(okFormat, okTick) + "{}", []string{"after the JSON envelope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTerminal(t, map[string]http.HandlerFunc{"/": text(200, tt.body)})
			c := newClient(t, srv.URL, tt.gen)
			s, err := c.History(context.Background(), greeksReq())
			n := 0
			if err == nil {
				n, _, err = drain(t, s, spx.Greeks)
			}
			if err == nil || spx.ClassOf(err) != spx.ClassPermanent {
				t.Fatalf("err %v (class %s) after %d rows: want permanent", err, spx.ClassOf(err), n)
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
}
