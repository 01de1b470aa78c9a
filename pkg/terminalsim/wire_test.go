package terminalsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// The column lists below are copied verbatim from THETADATA.md.
var (
	docV3Columns = map[spx.Dataset]string{
		spx.Greeks:       "symbol,expiration,strike,right,timestamp,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,underlying_timestamp,underlying_price",
		spx.Quote:        "symbol,expiration,strike,right,timestamp,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,ask_condition",
		spx.OHLC:         "symbol,expiration,strike,right,timestamp,open,high,low,close,volume,count,vwap",
		spx.EOD:          "symbol,expiration,strike,right,created,last_trade,open,high,low,close,volume,count,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,ask_condition",
		spx.OpenInterest: "symbol,expiration,strike,right,timestamp,open_interest",
	}
	docV2Format = map[spx.Dataset]string{
		spx.Greeks:       "ms_of_day,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,ms_of_day2,underlying_price,date",
		spx.Quote:        "ms_of_day,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,ask_condition,date",
		spx.OHLC:         "ms_of_day,open,high,low,close,volume,count,date",
		spx.EOD:          "ms_of_day,ms_of_day2,open,high,low,close,volume,count,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,ask_condition,date",
		spx.OpenInterest: "ms_of_day,open_interest,date",
	}
	reISO    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?$`)
	reDate   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	reStrike = regexp.MustCompile(`^\d+\.\d{3}$`)
	timeCols = map[string]bool{"timestamp": true, "underlying_timestamp": true, "created": true, "last_trade": true}
)

func TestV3CSVMatchesDoc(t *testing.T) {
	s := small(t, nil)
	exp := firstExp(t, s, "SPXW", day0315)
	for _, ds := range spx.Datasets {
		t.Run(string(ds), func(t *testing.T) {
			code, h, body := get(t, s.V3Handler(), "/v3"+ds.V3Path()+"?symbol=SPXW&expiration="+exp.Compact()+"&date="+day0315.Compact()+"&interval=1m")
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if ct := h.Get("Content-Type"); ct != "text/csv" {
				t.Errorf("Content-Type %q, want text/csv", ct)
			}
			header, rows := readCSV(t, body)
			if got := strings.Join(header, ","); got != docV3Columns[ds] {
				t.Fatalf("header\n got %s\nwant %s", got, docV3Columns[ds])
			}
			if int64(len(rows)) != s.ExpectedRows(ds, "SPXW", day0315, exp) {
				t.Errorf("%d rows, ExpectedRows says %d", len(rows), s.ExpectedRows(ds, "SPXW", day0315, exp))
			}
			for _, row := range rows {
				if row[0] != "SPXW" || row[1] != exp.String() || !reDate.MatchString(row[1]) || !reStrike.MatchString(row[2]) || (row[3] != "CALL" && row[3] != "PUT") {
					t.Fatalf("bad contract fields %v", row[:4])
				}
				for j := 4; j < len(row); j++ {
					if timeCols[header[j]] {
						if !reISO.MatchString(row[j]) || !strings.HasPrefix(row[j], day0315.String()) {
							t.Fatalf("%s = %q is not a New York ISO timestamp of the trade date", header[j], row[j])
						}
						continue
					}
					if _, err := strconv.ParseFloat(row[j], 64); err != nil {
						t.Fatalf("%s = %q is not a number", header[j], row[j])
					}
				}
			}
		})
	}
}

func TestV3NDJSONAndJSONSameValues(t *testing.T) {
	s := small(t, nil)
	columnar := small(t, func(c *Config) { c.JSONShape = JSONColumnar })
	exp := firstExp(t, s, "SPXW", day0315)
	base := "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=" + exp.String() + "&date=" + day0315.Compact() + "&interval=5m"
	_, _, csvBody := get(t, s.V3Handler(), base)
	header, rows := readCSV(t, csvBody)
	code, _, nd := get(t, s.V3Handler(), base+"&format=ndjson")
	if code != 200 {
		t.Fatalf("ndjson status %d", code)
	}
	sc := bufio.NewScanner(bytes.NewReader(nd))
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		var obj map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&obj); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if len(obj) != len(header) {
			t.Fatalf("line %d has %d keys, want %d", i, len(obj), len(header))
		}
		for j, name := range header {
			if got := jsonString(obj[name]); got != rows[i][j] {
				t.Fatalf("line %d %s: ndjson %q, csv %q", i, name, got, rows[i][j])
			}
		}
		i++
	}
	if i != len(rows) {
		t.Fatalf("%d ndjson lines, %d csv rows", i, len(rows))
	}
	_, _, js := get(t, s.V3Handler(), base+"&format=json")
	// format=json groups rows by contract (the spec's application/json
	// examples): {"response":[{"contract":{…},"data":[{…},…]},…]}.
	var env struct {
		Response []struct {
			Contract map[string]any   `json:"contract"`
			Data     []map[string]any `json:"data"`
		}
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("json: %v", err)
	}
	i = 0
	for _, el := range env.Response {
		for _, row := range el.Data {
			for j, name := range header {
				v, ok := row[name]
				if j < 4 {
					v, ok = el.Contract[name]
				}
				if got := jsonString(v); !ok || got != rows[i][j] {
					t.Fatalf("json row %d %s: %q (present %v), csv %q", i, name, got, ok, rows[i][j])
				}
			}
			i++
		}
	}
	if i != len(rows) {
		t.Fatalf("json: %d rows want %d", i, len(rows))
	}
	// The columnar shape: one array per column, in row order.
	_, _, js = get(t, columnar.V3Handler(), base+"&format=json")
	var cols map[string][]any
	d = json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&cols); err != nil || len(cols) != len(header) {
		t.Fatalf("columnar json: %v, %d arrays", err, len(cols))
	}
	for j, name := range header {
		if len(cols[name]) != len(rows) {
			t.Fatalf("columnar %s: %d values want %d", name, len(cols[name]), len(rows))
		}
		for i := range rows {
			if got := jsonString(cols[name][i]); got != rows[i][j] {
				t.Fatalf("columnar row %d %s: %q, csv %q", i, name, got, rows[i][j])
			}
		}
	}
}

func jsonString(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestV2EnvelopeMatchesDoc(t *testing.T) {
	s := small(t, nil)
	exp := firstExp(t, s, "SPXW", day0315)
	for _, ds := range spx.Datasets {
		t.Run(string(ds), func(t *testing.T) {
			code, _, body := get(t, s.V2Handler(), "/v2"+ds.V2Path()+"?root=SPXW&exp="+exp.Compact()+"&start_date="+day0315.Compact()+"&end_date="+day0315.Compact())
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			format := `"` + strings.ReplaceAll(docV2Format[ds], ",", `","`) + `"`
			prefix := `{"header":{"id":0,"latency_ms":0,"error_type":"null","error_msg":"null","next_page":"null","format":[` + format + `]},"response":[{"ticks":[[`
			if !bytes.HasPrefix(body, []byte(prefix)) {
				t.Fatalf("envelope head\n got %.400s\nwant %s", body, prefix)
			}
			env := decodeV2(t, body)
			if strings.Join(env.Header.Format, ",") != docV2Format[ds] {
				t.Fatalf("format %v", env.Header.Format)
			}
			var rows int64
			for _, c := range env.Response {
				if c.Contract.Root != "SPXW" || c.Contract.Expiration != exp.Int() || c.Contract.Strike%5000 != 0 || (c.Contract.Right != "C" && c.Contract.Right != "P") {
					t.Fatalf("bad contract %+v", c.Contract)
				}
				for _, tick := range c.Ticks {
					if len(tick) != len(env.Header.Format) {
						t.Fatalf("tick has %d values, format %d", len(tick), len(env.Header.Format))
					}
					if tick[len(tick)-1].String() != strconv.Itoa(day0315.Int()) {
						t.Fatalf("date column %s", tick[len(tick)-1])
					}
					if _, err := strconv.ParseInt(tick[0].String(), 10, 32); err != nil {
						t.Fatalf("ms_of_day %s is not an int", tick[0])
					}
					rows++
				}
			}
			if want := s.ExpectedRows(ds, "SPXW", day0315, exp); rows != want {
				t.Errorf("%d ticks, want %d", rows, want)
			}
		})
	}
}

func TestV2CSV(t *testing.T) {
	s := small(t, nil)
	exp := firstExp(t, s, "SPXW", day0315)
	code, h, body := get(t, s.V2Handler(), "/v2/bulk_hist/option/quote?root=SPXW&exp="+exp.Compact()+"&start_date="+day0315.Compact()+"&end_date="+day0315.Compact()+"&ivl=60000&use_csv=true")
	if code != 200 || h.Get("Next-Page") != "null" {
		t.Fatalf("status %d Next-Page %q", code, h.Get("Next-Page"))
	}
	header, rows := readCSV(t, body)
	if got, want := strings.Join(header, ","), "root,expiration,strike,right,"+docV2Format[spx.Quote]; got != want {
		t.Fatalf("header %s want %s", got, want)
	}
	if int64(len(rows)) != s.ExpectedRows(spx.Quote, "SPXW", day0315, exp) {
		t.Fatalf("%d rows", len(rows))
	}
	if rows[0][0] != "SPXW" || rows[0][1] != exp.Compact() || (rows[0][3] != "C" && rows[0][3] != "P") {
		t.Fatalf("bad row %v", rows[0])
	}
}

func TestErrorShapes(t *testing.T) {
	s := small(t, nil)
	exp := firstExp(t, s, "SPXW", day0315)
	tests := []struct {
		name   string
		v2     bool
		target string
		code   int
	}{
		{"v3 unknown path", false, "/v3/option/history/trade", 404},
		{"v3 missing symbol", false, "/v3/option/history/quote?expiration=" + exp.Compact() + "&date=20240315", 473},
		{"v3 bad interval", false, "/v3/option/history/quote?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315&interval=2m", 473},
		{"v3 star on greeks", false, "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=*&date=20240315", 473},
		{"v3 bad right", false, "/v3/option/history/quote?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315&right=x", 473},
		{"v3 two months intraday", false, "/v3/option/history/quote?symbol=SPXW&expiration=" + exp.Compact() + "&start_date=20240101&end_date=20240315&interval=1m", 570},
		{"v3 10ms over a whole day", false, "/v3/option/history/quote?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315&interval=10ms", 570},
		{"v3 greeks before 2020", false, "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=20190118&date=20190115", 472},
		{"v2 unknown path", true, "/v2/bulk_hist/option/trade?root=SPXW", 404},
		{"v2 bad exp", true, "/v2/bulk_hist/option/quote?root=SPXW&exp=2024&start_date=20240315", 473},
		{"v2 weekend", true, "/v2/bulk_hist/option/quote?root=SPXW&exp=" + exp.Compact() + "&start_date=20240316&end_date=20240316", 472},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := s.V3Handler()
			if tc.v2 {
				h = s.V2Handler()
			}
			code, hdr, body := get(t, h, tc.target)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			if !tc.v2 {
				if !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || !strings.HasPrefix(string(body), statusName(tc.code)+": ") {
					t.Fatalf("v3 error body %q (%s)", body, hdr.Get("Content-Type"))
				}
				return
			}
			env := decodeV2(t, body)
			if env.Header.ErrorType != statusName(tc.code) || env.Header.ErrorMsg == "null" || env.Header.ErrorMsg == "" || env.Header.NextPage != "null" {
				t.Fatalf("v2 error header %+v", env.Header)
			}
		})
	}
}

func TestNoDataOnClosedDaysAndDeadExpirations(t *testing.T) {
	s := small(t, nil)
	exp := firstExp(t, s, "SPXW", day0315)
	dead := spx.NewDate(2024, 3, 14) // expired the day before
	tests := []struct {
		name      string
		date, exp spx.Date
	}{
		{"saturday", day0316, exp},
		{"expired", day0315, dead},
		{"not an expiration", day0315, spx.NewDate(2024, 3, 17)},
		{"before the market", spx.NewDate(2010, 3, 15), spx.NewDate(2010, 3, 19)},
	}
	if !isSession(spx.NewDate(2024, 12, 25)) {
		tests = append(tests, struct {
			name      string
			date, exp spx.Date
		}{"christmas", spx.NewDate(2024, 12, 25), spx.NewDate(2024, 12, 27)})
	} else {
		t.Log("calendar has no holidays yet: holiday case skipped")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, ds := range spx.Datasets {
				if n := s.ExpectedRows(ds, "SPXW", tc.date, tc.exp); n != 0 {
					t.Fatalf("%s: ExpectedRows %d, want 0", ds, n)
				}
				code, _, body := get(t, s.V3Handler(), "/v3"+ds.V3Path()+"?symbol=SPXW&expiration="+tc.exp.Compact()+"&date="+tc.date.Compact())
				if code != 472 {
					t.Fatalf("v3 %s: status %d, want 472: %s", ds, code, body)
				}
				code, _, body = get(t, s.V2Handler(), "/v2"+ds.V2Path()+"?root=SPXW&exp="+tc.exp.Compact()+"&start_date="+tc.date.Compact()+"&end_date="+tc.date.Compact())
				if code != 472 || decodeV2(t, body).Header.ErrorType != "NO_DATA" {
					t.Fatalf("v2 %s: status %d: %s", ds, code, body)
				}
			}
		})
	}
}

func TestListEndpoints(t *testing.T) {
	s := small(t, nil)
	wantExps := append(s.Expirations("SPXW", day0315), s.Expirations("SPX", day0315)...)

	code, _, body := get(t, s.V3Handler(), "/v3/option/list/contracts/quote?date=20240315&symbol=SPXW,SPX")
	if code != 200 {
		t.Fatalf("v3 contracts: %d %s", code, body)
	}
	header, rows := readCSV(t, body)
	if strings.Join(header, ",") != "symbol,expiration,strike,right" {
		t.Fatalf("header %v", header)
	}
	var seen []spx.Date
	for _, r := range rows {
		e, err := spx.ParseDate(r[1])
		if err != nil || !reStrike.MatchString(r[2]) || (r[3] != "CALL" && r[3] != "PUT") {
			t.Fatalf("bad contract row %v", r)
		}
		if !slices.Contains(seen, e) {
			seen = append(seen, e)
		}
	}
	if !slices.Equal(seen, wantExps) {
		t.Fatalf("contract expirations %v, want %v", seen, wantExps)
	}
	if len(rows) != len(wantExps)*4*2 {
		t.Fatalf("%d contracts, want %d", len(rows), len(wantExps)*8)
	}

	code, _, body = get(t, s.V2Handler(), "/v2/list/contracts/option/quote?start_date=20240315&root=SPXW,SPX")
	var env struct {
		Header   struct{ Format []string }
		Response [][]any
	}
	if err := json.Unmarshal(body, &env); err != nil || code != 200 {
		t.Fatalf("v2 contracts: %d %v", code, err)
	}
	if strings.Join(env.Header.Format, ",") != "root,expiration,strike,right" || len(env.Response) != len(rows) {
		t.Fatalf("v2 contracts: format %v, %d rows", env.Header.Format, len(env.Response))
	}
	if r := env.Response[0]; r[0] != "SPXW" || r[1].(float64) != float64(wantExps[0].Int()) || r[3] != "C" {
		t.Fatalf("v2 contract %v", r)
	}

	exp := wantExps[0]
	_, _, body = get(t, s.V3Handler(), "/v3/option/list/expirations?symbol=SPXW")
	header, rows = readCSV(t, body)
	if strings.Join(header, ",") != "symbol,expiration" || !slices.ContainsFunc(rows, func(r []string) bool { return r[1] == exp.String() }) {
		t.Fatalf("v3 expirations: header %v, %d rows, %s missing", header, len(rows), exp)
	}
	_, _, body = get(t, s.V3Handler(), "/v3/option/list/dates/quote?symbol=SPXW&expiration="+exp.Compact())
	header, rows = readCSV(t, body)
	if strings.Join(header, ",") != "date" || !slices.ContainsFunc(rows, func(r []string) bool { return r[0] == day0315.String() }) {
		t.Fatalf("v3 dates: %v %v", header, rows)
	}
	for _, target := range []string{"/v2/list/expirations?root=SPXW", "/v2/list/dates/option/quote?root=SPXW&exp=" + exp.Compact(), "/v2/list/strikes?root=SPXW&exp=" + exp.Compact()} {
		_, _, body = get(t, s.V2Handler(), target)
		var e struct {
			Header   struct{ Format []string }
			Response []int64
		}
		if err := json.Unmarshal(body, &e); err != nil || len(e.Response) == 0 || len(e.Header.Format) != 1 {
			t.Fatalf("%s: %v %.200s", target, err, body)
		}
	}
}

func TestIntervalsAndWindows(t *testing.T) {
	s := small(t, func(c *Config) { c.MaxStrikes = 1 })
	exp := firstExp(t, s, "SPXW", day0315)
	base := "/v3/option/history/quote?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315&right=call"
	tests := []struct {
		query      string
		rows       int
		first, end string
	}{
		{"", 23401, "T09:30:00", "T16:00:00"}, // the spec's default interval, 1s
		{"&interval=1m", 391, "T09:30:00", "T16:00:00"},
		{"&interval=5m", 79, "T09:30:00", "T16:00:00"},
		{"&interval=1h", 7, "T09:30:00", "T15:30:00"},
		{"&interval=1s&start_time=10:00:00.000&end_time=10:00:09.000", 10, "T10:00:00", "T10:00:09"},
		{"&interval=100ms&start_time=10:00:00&end_time=10:00:01", 11, "T10:00:00", "T10:00:01"},
		{"&interval=1m&start_time=15:00:00.000", 61, "T15:00:00", "T16:00:00"},
	}
	for _, tc := range tests {
		code, _, body := get(t, s.V3Handler(), base+tc.query)
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.query, code, body)
		}
		_, rows := readCSV(t, body)
		if len(rows) != tc.rows || !strings.HasSuffix(rows[0][4], tc.first) || !strings.HasSuffix(rows[len(rows)-1][4], tc.end) {
			t.Fatalf("%s: %d rows from %s to %s, want %d from %s to %s", tc.query, len(rows), rows[0][4], rows[len(rows)-1][4], tc.rows, tc.first, tc.end)
		}
	}
	// v2: ivl in ms and right=P.
	_, _, body := get(t, s.V2Handler(), "/v2/bulk_hist/option/quote?root=SPXW&exp="+exp.Compact()+"&start_date=20240315&end_date=20240315&ivl=300000&right=P")
	env := decodeV2(t, body)
	if len(env.Response) != 1 || env.Response[0].Contract.Right != "P" || len(env.Response[0].Ticks) != 79 {
		t.Fatalf("v2 ivl=300000 right=P: %d contracts", len(env.Response))
	}
}

func TestSubMinuteIntervalsOneDayOnly(t *testing.T) {
	s := small(t, nil)
	exp := s.Expirations("SPXW", spx.NewDate(2024, 3, 11))[2]
	// components.parameters.interval: intervals under 1m only for
	// single-day requests; the default interval is 1s.
	for _, q := range []string{"", "&interval=30s"} {
		code, _, body := get(t, s.V3Handler(), "/v3/option/history/quote?symbol=SPXW&expiration="+exp.Compact()+"&start_date=20240311&end_date=20240312"+q)
		if code != 473 || !strings.Contains(string(body), "single-day") {
			t.Errorf("%q: %d %s", q, code, body)
		}
	}
	if code, _, body := get(t, s.V3Handler(), "/v3/option/history/quote?symbol=SPXW&expiration="+exp.Compact()+"&date=20240311&end_time=09:30:05"); code != 200 || !bytes.Contains(body, []byte("T09:30:01,")) || bytes.Contains(body, []byte("T09:30:06")) {
		t.Errorf("default 1s: %d %s", code, body)
	}
}

func TestAllExpirationsAndDateRanges(t *testing.T) {
	s := small(t, nil)
	var want int64
	for _, e := range s.Expirations("SPXW", day0315) {
		want += s.ExpectedRows(spx.EOD, "SPXW", day0315, e)
	}
	_, _, body := get(t, s.V3Handler(), "/v3/option/history/eod?symbol=SPXW&expiration=*&date=2024-03-15")
	if _, rows := readCSV(t, body); int64(len(rows)) != want {
		t.Fatalf("eod *: %d rows, want %d", len(rows), want)
	}
	_, _, body = get(t, s.V2Handler(), "/v2/bulk_hist/option/open_interest?root=SPXW&exp=0&start_date=20240315&end_date=20240315")
	if n := int64(len(flatTicks(decodeV2(t, body)))); n != want {
		t.Fatalf("v2 oi exp=0: %d rows, want %d", n, want)
	}

	// A week of one expiration: only the sessions it is quoted on.
	exp := s.Expirations("SPXW", spx.NewDate(2024, 3, 11))[2]
	want = 0
	for d := spx.NewDate(2024, 3, 9); d <= spx.NewDate(2024, 3, 17); d++ {
		want += s.ExpectedRows(spx.Quote, "SPXW", d, exp)
	}
	_, _, body = get(t, s.V3Handler(), "/v3/option/history/quote?symbol=SPXW&expiration="+exp.Compact()+"&start_date=20240309&end_date=20240317&interval=1m")
	_, rows := readCSV(t, body)
	if int64(len(rows)) != want || want == 0 {
		t.Fatalf("range: %d rows, want %d", len(rows), want)
	}
}

// TestMaxDTEAndStrikeRange: the spec's max_dte keeps expirations at most n
// calendar days out; strike_range keeps n strikes each side of the spot
// (components.parameters.max_dte, .strike_range).
func TestMaxDTEAndStrikeRange(t *testing.T) {
	s := small(t, func(c *Config) { c.MaxStrikes = 0 })
	exps := s.Expirations("SPXW", day0315)
	base := "/v3/option/history/open_interest?symbol=SPXW&expiration=*&date=20240315"
	_, _, body := get(t, s.V3Handler(), base+"&max_dte=0")
	_, rows := readCSV(t, body)
	if len(rows) == 0 {
		t.Fatal("max_dte=0: no rows")
	}
	for _, r := range rows {
		if r[1] != day0315.String() {
			t.Fatalf("max_dte=0 served expiration %s", r[1])
		}
	}
	_, _, body = get(t, s.V3Handler(), base)
	_, all := readCSV(t, body)
	if len(all) <= len(rows) || len(exps) < 2 {
		t.Fatalf("without max_dte: %d rows, with max_dte=0 %d (%d expirations)", len(all), len(rows), len(exps))
	}
	_, _, body = get(t, s.V3Handler(), base+"&strike_range=2")
	_, rows = readCSV(t, body)
	perExp := map[string]map[string]bool{}
	for _, r := range rows {
		if perExp[r[1]] == nil {
			perExp[r[1]] = map[string]bool{}
		}
		perExp[r[1]][r[2]] = true
	}
	for e, ks := range perExp {
		if len(ks) != 4 && len(ks) != 5 {
			t.Errorf("strike_range=2, expiration %s: %d strikes, want 4 or 5", e, len(ks))
		}
	}
	if code, _, _ := get(t, s.V3Handler(), base+"&strike_range=0"); code != 473 {
		t.Errorf("strike_range=0: %d, the spec's minimum is 1", code)
	}
}
