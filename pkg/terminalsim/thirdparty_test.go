package terminalsim

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// The behaviours that public clients of a real Theta Terminal rely on,
// checked against the simulator. Each test names the file (repository at
// the commit read) whose requests and parsing it follows; no code of theirs
// is used. docs/thetadata.md lists what each source says and where the
// simulator was changed to agree.
//
//   lumibot:    Lumiwealth/lumibot@75ccb95 lumibot/tools/thetadata_helper.py
//   trade4ticks: trade4ticks/Thetadata_Raw_SPX@193b483 lib/client.py, fetch_historical.py
//   tdsynch:    fede72bari/tdSynchManager@757c1be src/clients/ThetaDataV3Client.py, src/tdSynchManager/manager.py
//   lean:       QuantConnect/Lean.DataSource.ThetaData@d9e4e04 QuantConnect.ThetaData/ThetaDataRestApiClient.cs,
//               ThetaDataOptionChainProvider.cs, Converters/*.cs (v2)

func call(t *testing.T, base, path string, q url.Values) (int, string, []byte) {
	t.Helper()
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	code, h, body, err := httpGet(t, nil, u)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return code, h.Get("Content-Type"), body
}

// columns decodes a format=json answer, columnar or the spec's
// {"response":[…]} (rows, or contract+data), into one array per column,
// keeping number text.
func columns(t *testing.T, body []byte) map[string][]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string][]any
	if bytes.HasPrefix(body, []byte(`{"response":`)) {
		var env struct {
			Response []map[string]any `json:"response"`
		}
		if err := d.Decode(&env); err != nil {
			t.Fatalf("not {\"response\":[…]}: %v: %.200s", err, body)
		}
		m = map[string][]any{}
		add := func(row map[string]any) {
			for k, v := range row {
				m[k] = append(m[k], v)
			}
		}
		for _, el := range env.Response {
			con, ok := el["contract"].(map[string]any)
			if !ok {
				add(el)
				continue
			}
			data, _ := el["data"].([]any)
			for _, r := range data {
				row, _ := r.(map[string]any)
				for k, v := range con {
					row[k] = v
				}
				add(row)
			}
		}
	} else if err := d.Decode(&m); err != nil {
		t.Fatalf("not columnar JSON: %v: %.200s", err, body)
	}
	n := -1
	for k, v := range m {
		if n >= 0 && len(v) != n {
			t.Fatalf("column %s has %d values, another %d", k, len(v), n)
		}
		n = len(v)
	}
	return m
}

func strs(v []any) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = jsonString(x)
	}
	return out
}

// lumibot _probe_terminal_ready / READINESS_PROBES: GET
// /v3/terminal/mdds/status?format=json, ready on 200 with CONNECTED (READY,
// OK); not ready on 571 or a body saying SERVER_STARTING; then
// /v3/option/list/expirations?symbol=…&format=json answering 200.
func TestThirdPartyLumibotReadiness(t *testing.T) {
	s := small(t, nil)
	v3, _ := listen(t, s)
	code, _, body := call(t, v3, "/v3/terminal/mdds/status", url.Values{"format": {"json"}})
	if code != 200 || strings.ToUpper(strings.TrimSpace(string(body))) != "CONNECTED" {
		t.Fatalf("status: %d %q", code, body)
	}
	if code, _, body := call(t, v3, "/v3/option/list/expirations", url.Values{"symbol": {"SPXW"}, "format": {"json"}}); code != 200 {
		t.Fatalf("expirations probe: %d %s", code, body)
	}
	starting := small(t, func(c *Config) { c.Faults.StartupPhase = time.Hour })
	v3, _ = listen(t, starting)
	if _, _, body := call(t, v3, "/v3/terminal/mdds/status", url.Values{"format": {"json"}}); slices.Contains([]string{"CONNECTED", "READY", "OK"}, strings.TrimSpace(string(body))) {
		t.Fatalf("starting terminal's status says ready: %q", body)
	}
	code, _, body = call(t, v3, "/v3/option/list/expirations", url.Values{"symbol": {"SPXW"}, "format": {"json"}})
	if code != 571 || !strings.Contains(string(body), "SERVER_STARTING") {
		t.Fatalf("starting terminal: %d %q, lumibot waits on 571 or SERVER_STARTING", code, body)
	}
}

// lumibot get_historical_data (option branch): symbol, date=YYYY-MM-DD,
// interval label, format=json, expiration=YYYY-MM-DD, strike from
// _format_option_strike ("%.3f" without trailing zeros), right call|put;
// the answer read as columnar (_convert_columnar_to_row_format) with a
// "timestamp" column (_extract_timestamp_series) parsed as a datetime. 472
// means no data (get_request returns None).
func TestThirdPartyLumibotOptionHistory(t *testing.T) {
	s := small(t, func(c *Config) { c.JSONShape = JSONColumnar }) // the shape this client reads
	v3, _ := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	k := dayStrikes(s, "SPXW", day0315, exp)[1]
	strike := strings.TrimRight(strings.TrimRight(string(appendFixed(nil, k, 3, false)), "0"), ".")
	q := url.Values{"symbol": {"SPXW"}, "date": {day0315.String()}, "interval": {"5m"}, "format": {"json"},
		"expiration": {exp.String()}, "strike": {strike}, "right": {"call"}}
	for _, path := range []string{"/v3/option/history/quote", "/v3/option/history/ohlc"} {
		code, ct, body := call(t, v3, path, q)
		if code != 200 || ct != "application/json" {
			t.Fatalf("%s: %d %s %.200s", path, code, ct, body)
		}
		cols := columns(t, body)
		ts := strs(cols["timestamp"])
		if len(ts) != 79 || ts[0] != "2024-03-15T09:30:00" {
			t.Fatalf("%s: %d timestamps from %v", path, len(ts), ts[:min(1, len(ts))])
		}
		for _, v := range ts {
			if _, err := time.Parse("2006-01-02T15:04:05", v); err != nil && !strings.Contains(v, ".") {
				t.Fatalf("%s: timestamp %q", path, v)
			}
		}
		if r := strs(cols["right"]); !slices.Equal(slices.Compact(r), []string{"CALL"}) {
			t.Fatalf("%s: right %v", path, slices.Compact(r))
		}
	}
	// EOD (get_historical_eod_data): start_date/end_date YYYYMMDD in windows
	// up to 364 days, the same option parameters.
	eq := url.Values{"symbol": {"SPXW"}, "format": {"json"}, "expiration": {exp.String()}, "strike": {strike}, "right": {"put"},
		"start_date": {exp.AddDays(-60).Compact()}, "end_date": {exp.Compact()}}
	code, _, body := call(t, v3, "/v3/option/history/eod", eq)
	if code != 200 {
		t.Fatalf("eod: %d %s", code, body)
	}
	if n := len(columns(t, body)["created"]); n < 1 {
		t.Fatalf("eod over a date range: %d rows", n)
	}
	q.Set("date", day0316.String()) // a Saturday
	if code, _, _ := call(t, v3, "/v3/option/history/quote", q); code != 472 {
		t.Fatalf("no data: %d, lumibot expects 472", code)
	}
}

// lumibot get_strikes / get_expirations: symbol, expiration YYYY-MM-DD,
// format=json; the "strike" and "expiration" columns read by name.
func TestThirdPartyLumibotLists(t *testing.T) {
	s := small(t, func(c *Config) { c.JSONShape = JSONColumnar }) // the shape this client reads
	v3, _ := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	code, _, body := call(t, v3, "/v3/option/list/strikes", url.Values{"symbol": {"SPXW"}, "expiration": {exp.String()}, "format": {"json"}})
	if code != 200 {
		t.Fatalf("strikes: %d %s", code, body)
	}
	ks := strs(columns(t, body)["strike"])
	if len(ks) == 0 || len(ks) != len(s.strikesOf("SPXW", exp)) {
		t.Fatalf("strikes %v", ks)
	}
	code, _, body = call(t, v3, "/v3/option/list/expirations", url.Values{"symbol": {"SPXW"}, "format": {"json"}})
	if code != 200 || !slices.Contains(strs(columns(t, body)["expiration"]), exp.String()) {
		t.Fatalf("expirations: %d, %s missing", code, exp)
	}
}

// trade4ticks list_expirations: symbol=SPXW,SPX in one request, format=json;
// rows' symbol and expiration (first 10 characters, YYYY-MM-DD) read by
// name. list_active_expirations: eod with expiration=*,
// start_date=end_date=YYYYMMDD per root gives that day's expirations; 472
// means none.
func TestThirdPartyTrade4ticksExpirations(t *testing.T) {
	s := small(t, func(c *Config) { c.JSONShape = JSONColumnar }) // the shape this client reads
	v3, _ := listen(t, s)
	code, _, body := call(t, v3, "/v3/option/list/expirations", url.Values{"symbol": {"SPXW,SPX"}, "format": {"json"}})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	cols := columns(t, body)
	syms := slices.Compact(slices.Sorted(slices.Values(strs(cols["symbol"]))))
	if !slices.Equal(syms, []string{"SPX", "SPXW"}) {
		t.Fatalf("symbols %v", syms)
	}
	for _, root := range []string{"SPXW", "SPX"} {
		code, _, body := call(t, v3, "/v3/option/history/eod", url.Values{"symbol": {root}, "expiration": {"*"},
			"start_date": {day0315.Compact()}, "end_date": {day0315.Compact()}, "format": {"json"}})
		if code != 200 {
			t.Fatalf("%s eod *: %d %s", root, code, body)
		}
		var got []string
		for _, e := range strs(columns(t, body)["expiration"]) {
			if !slices.Contains(got, e[:10]) {
				got = append(got, e[:10])
			}
		}
		var want []string
		for _, e := range s.Expirations(root, day0315) {
			want = append(want, e.String())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s active expirations %v, the sim lists %v", root, got, want)
		}
	}
	if code, _, _ := call(t, v3, "/v3/option/history/eod", url.Values{"symbol": {"SPXW"}, "expiration": {"*"},
		"start_date": {day0316.Compact()}, "end_date": {day0316.Compact()}, "format": {"json"}}); code != 472 {
		t.Fatalf("a Saturday: %d, want 472", code)
	}
}

// trade4ticks fetch_greeks_history: expiration YYYYMMDD, strike=*,
// right=both, interval=5m over start_date..end_date (several days),
// start_time=09:35:00, end_time=16:00:00, format=json; reads timestamp (ISO,
// with a T), strike, right, bid, ask, delta, theta, vega, rho, implied_vol,
// underlying_price by name. On 570 it halves the date range and retries.
func TestThirdPartyTrade4ticksGreeks(t *testing.T) {
	s := small(t, func(c *Config) { c.MaxStrikes = 2; c.JSONShape = JSONColumnar }) // the shape trade4ticks reads
	v3, _ := listen(t, s)
	exp := s.Expirations("SPXW", spx.NewDate(2024, 3, 11))[2]
	q := url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()}, "strike": {"*"}, "right": {"both"}, "interval": {"5m"},
		"start_date": {"20240311"}, "end_date": {"20240313"}, "start_time": {"09:35:00"}, "end_time": {"16:00:00"}, "format": {"json"}}
	code, _, body := call(t, v3, "/v3/option/history/greeks/first_order", q)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	cols := columns(t, body)
	for _, name := range []string{"timestamp", "strike", "right", "bid", "ask", "delta", "theta", "vega", "rho", "implied_vol", "underlying_price"} {
		if len(cols[name]) == 0 {
			t.Errorf("no %s column", name)
		}
	}
	ts := strs(cols["timestamp"])
	days := map[string]bool{}
	for _, v := range ts {
		if !strings.Contains(v, "T") || v[11:19] < "09:35:00" {
			t.Fatalf("timestamp %q", v)
		}
		days[v[:10]] = true
	}
	if len(days) != 3 {
		t.Fatalf("days %v", days)
	}
	// 570 on a request too large, then the halves succeed.
	big := small(t, func(c *Config) { c.MaxStrikes = 2; c.LargeRequestRows = len(ts) - 1 })
	v3, _ = listen(t, big)
	if code, _, body := call(t, v3, "/v3/option/history/greeks/first_order", q); code != 570 {
		t.Fatalf("too large: %d %s, trade4ticks halves on 570", code, body)
	}
	q.Set("end_date", "20240311")
	if code, _, body := call(t, v3, "/v3/option/history/greeks/first_order", q); code != 200 {
		t.Fatalf("half: %d %s", code, body)
	}
}

// trade4ticks _STATUS_EXCEPTIONS: 429 (back off), 472 (no data), 474
// (terminal lost its backend, retry), 570 (too large, split): the simulator
// answers each in that situation.
func TestThirdPartyTrade4ticksStatusCodes(t *testing.T) {
	exp := firstExp(t, small(t, nil), "SPXW", day0315)
	q := url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()}, "date": {day0315.Compact()}, "interval": {"1h"}, "format": {"json"}}
	down := small(t, func(c *Config) { c.Faults.Disconnect = time.Hour })
	v3, _ := listen(t, down)
	if code, _, _ := call(t, v3, "/v3/option/history/quote", q); code != 474 {
		t.Errorf("disconnected: %d, want 474", code)
	}
	slow := small(t, func(c *Config) {
		c.Concurrency, c.QueueSize = 1, 1
		c.Latency.FirstByte = 300 * time.Millisecond
	})
	v3, _ = listen(t, slow)
	codes := make(chan int, 4)
	for range 4 {
		go func() {
			code, _, _, _ := httpGet(t, nil, v3+"/v3/option/history/quote?"+q.Encode())
			codes <- code
		}()
	}
	var got []int
	for range 4 {
		got = append(got, <-codes)
	}
	if !slices.Contains(got, 429) || !slices.Contains(got, 200) {
		t.Errorf("4 requests at concurrency 1 with a queue of 1: %v, want some 429 and some 200", got)
	}
}

// tdSynchManager (manager.py, the EOD pass): option_history_eod with
// expiration=*, start_date=end_date, strike=*, right=both, format=csv, read
// with pandas by column name: expiration, strike, right, symbol (root as a
// fallback), volume; ThetaDataV3Client._make_request parses the body as
// JSON only when Content-Type contains application/json.
func TestThirdPartyTdSynchEODChain(t *testing.T) {
	s := small(t, nil)
	v3, _ := listen(t, s)
	code, ct, body := call(t, v3, "/v3/option/history/eod", url.Values{"symbol": {"SPXW"}, "expiration": {"*"}, "start_date": {"20240315"},
		"end_date": {"20240315"}, "strike": {"*"}, "right": {"both"}, "format": {"csv"}})
	if code != 200 || strings.Contains(ct, "application/json") {
		t.Fatalf("%d %s", code, ct)
	}
	r := csv.NewReader(bytes.NewReader(body))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	idx := map[string]int{}
	for i, h := range recs[0] {
		idx[h] = i
	}
	for _, name := range []string{"expiration", "strike", "right", "symbol", "volume"} {
		if _, ok := idx[name]; !ok {
			t.Fatalf("no %s column: %v", name, recs[0])
		}
	}
	var want int64
	for _, e := range s.Expirations("SPXW", day0315) {
		want += s.ExpectedRows(spx.EOD, "SPXW", day0315, e)
	}
	if int64(len(recs)-1) != want {
		t.Fatalf("%d rows, want %d", len(recs)-1, want)
	}
	for _, rec := range recs[1:] {
		if _, err := strconv.ParseFloat(rec[idx["strike"]], 64); err != nil || (rec[idx["right"]] != "CALL" && rec[idx["right"]] != "PUT") {
			t.Fatalf("row %v", rec)
		}
	}
	code, ct, _ = call(t, v3, "/v3/option/history/eod", url.Values{"symbol": {"SPXW"}, "expiration": {"*"}, "start_date": {"20240315"},
		"end_date": {"20240315"}, "format": {"json"}})
	if code != 200 || !strings.Contains(ct, "application/json") {
		t.Fatalf("json: %d %s", code, ct)
	}
}

// tdSynchManager ThetaDataV3Client: option_list_contracts (date=YYYYMMDD,
// symbol comma-joined), option_list_dates (strike "*" or "%.2f",
// right=both, expiration YYYY-MM-DD or YYYYMMDD), option_history_quote and
// _open_interest (date=YYYY-MM-DD, expiration may be *, strike=*,
// right=both), option_history_greeks_first_order (rate_type=sofr, accepted).
func TestThirdPartyTdSynchRequests(t *testing.T) {
	s := small(t, nil)
	v3, _ := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	k := fmtStrike2(dayStrikes(s, "SPXW", day0315, exp)[0])
	tests := []struct {
		path string
		q    url.Values
	}{
		{"/v3/option/list/contracts/quote", url.Values{"date": {"20240315"}, "symbol": {"SPXW,SPX"}, "format": {"json"}}},
		{"/v3/option/list/dates/quote", url.Values{"symbol": {"SPXW"}, "expiration": {exp.String()}, "strike": {"*"}, "right": {"both"}, "format": {"json"}}},
		{"/v3/option/list/dates/quote", url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()}, "strike": {k}, "right": {"both"}, "format": {"json"}}},
		{"/v3/option/history/quote", url.Values{"symbol": {"SPXW"}, "expiration": {"*"}, "date": {day0315.String()}, "interval": {"1h"}, "strike": {"*"}, "right": {"both"}, "format": {"json"}}},
		{"/v3/option/history/open_interest", url.Values{"symbol": {"SPXW"}, "expiration": {exp.String()}, "date": {day0315.String()}, "strike": {"*"}, "right": {"both"}, "format": {"json"}}},
		{"/v3/option/history/greeks/first_order", url.Values{"symbol": {"SPXW"}, "expiration": {exp.String()}, "date": {"20240315"}, "interval": {"1h"}, "strike": {"*"}, "right": {"call"}, "rate_type": {"sofr"}, "format": {"json"}}},
	}
	for _, tt := range tests {
		code, ct, body := call(t, v3, tt.path, tt.q)
		if code != 200 || ct != "application/json" {
			t.Errorf("%s?%s: %d %s %.200s", tt.path, tt.q.Encode(), code, ct, body)
			continue
		}
		if len(columns(t, body)) == 0 {
			t.Errorf("%s: no columns", tt.path)
		}
	}
}

// dayStrikes lists the strikes (tenths of a cent) of exp quoted on date.
func dayStrikes(s *Sim, root string, date, exp spx.Date) []int64 {
	var out []int64
	s.eachContract([]string{root}, date, func(_ string, e spx.Date, tenths int64, right byte) {
		if e == exp && right == 'C' {
			out = append(out, tenths)
		}
	})
	return out
}

func fmtStrike2(tenths int64) string { return strconv.FormatFloat(float64(tenths)/1000, 'f', 2, 64) }

// Lean ThetaDataOptionChainProvider + ThetaDataQuoteListContractConverter
// (v2): list/contracts/option/quote with start_date and root; each row an
// array of exactly 4: root, expiration (yyyyMMdd), strike, right "C"/"P".
// ThetaDataRestApiClient: header.next_page is the string "null" on the last
// page (ThetaDataNullStringConverter), else an absolute URL whose path and
// query are requested next; 472 ends the iteration. Converters: quote ticks
// have 10 values, open_interest 3, eod 17, in header.format's order with
// the trailing date yyyyMMdd.
func TestThirdPartyLeanV2(t *testing.T) {
	s := small(t, func(c *Config) { c.TickLimit = 500 })
	_, v2 := listen(t, s)
	code, _, body := call(t, v2, "/v2/list/contracts/option/quote", url.Values{"start_date": {"20240315"}, "root": {"SPXW"}})
	if code != 200 {
		t.Fatalf("contracts: %d %s", code, body)
	}
	var env struct {
		Header struct {
			NextPage string `json:"next_page"`
		} `json:"header"`
		Response [][]json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Response) == 0 || env.Header.NextPage != "null" {
		t.Fatalf("contracts envelope: %v, %d rows, next_page %q", err, len(env.Response), env.Header.NextPage)
	}
	for _, row := range env.Response {
		var root, right string
		var exp, strike json.Number
		if len(row) != 4 || json.Unmarshal(row[0], &root) != nil || json.Unmarshal(row[1], &exp) != nil ||
			json.Unmarshal(row[2], &strike) != nil || json.Unmarshal(row[3], &right) != nil || (right != "C" && right != "P") {
			t.Fatalf("contract row %s", row)
		}
		if _, err := time.Parse("20060102", exp.String()); err != nil {
			t.Fatalf("expiration %s is not yyyyMMdd", exp)
		}
	}

	exp := firstExp(t, s, "SPXW", day0315)
	for ds, n := range map[spx.Dataset]int{spx.Quote: 10, spx.OpenInterest: 3, spx.EOD: 17} {
		next := v2 + "/v2" + ds.V2Path() + "?" + url.Values{"root": {"SPXW"}, "exp": {exp.Compact()}, "start_date": {"20240315"}, "end_date": {"20240315"}, "ivl": {"60000"}}.Encode()
		pages, ticks := 0, 0
		for next != "null" {
			u, err := url.Parse(next)
			if err != nil || !u.IsAbs() {
				t.Fatalf("%s: next_page %q is not an absolute URL", ds, next)
			}
			code, _, body, err := httpGet(t, nil, next)
			if err != nil || code != 200 {
				t.Fatalf("%s page %d: %d %v", ds, pages, code, err)
			}
			e := decodeV2(t, body)
			if len(e.Header.Format) != n || e.Header.Format[n-1] != "date" {
				t.Fatalf("%s: format %v, Lean reads %d values ending with date", ds, e.Header.Format, n)
			}
			for _, c := range e.Response {
				for _, tk := range c.Ticks {
					if len(tk) != n {
						t.Fatalf("%s: tick of %d values", ds, len(tk))
					}
					ticks++
				}
			}
			pages++
			next = e.Header.NextPage
		}
		if int64(ticks) != s.ExpectedRows(ds, "SPXW", day0315, exp) || (ds == spx.Quote && pages < 2) {
			t.Fatalf("%s: %d ticks over %d pages, want %d", ds, ticks, pages, s.ExpectedRows(ds, "SPXW", day0315, exp))
		}
	}
	if code, _, _ := call(t, v2, "/v2/bulk_hist/option/quote", url.Values{"root": {"SPXW"}, "exp": {exp.Compact()}, "start_date": {"20240316"}, "end_date": {"20240316"}}); code != 472 {
		t.Fatalf("no data: %d, Lean stops on 472", code)
	}
}

// Lean ThetaDataHistoryProvider (GetSymbolHistoryQueryParametersBySymbol,
// GetResourceUrlHistoryData): per-contract v2 history, hist/option/{quote,
// ohlc,eod,open_interest} with root, exp, strike, right, start_date,
// end_date (and ivl); the envelope's response is an array of tick arrays
// (its converters read token[0…n-1]), paged by header.next_page. The
// simulator did not serve these endpoints before.
func TestThirdPartyLeanV2ContractHistory(t *testing.T) {
	s := small(t, func(c *Config) { c.TickLimit = 100 })
	_, v2 := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	k := dayStrikes(s, "SPXW", day0315, exp)[0]
	for ds, n := range map[spx.Dataset]int{spx.Quote: 10, spx.OpenInterest: 3, spx.EOD: 17, spx.OHLC: 8} {
		q := url.Values{"root": {"SPXW"}, "exp": {exp.Compact()}, "strike": {strconv.FormatInt(k, 10)}, "right": {"C"},
			"start_date": {"20240315"}, "end_date": {"20240315"}, "ivl": {"60000"}}
		next := v2 + "/v2/hist/option/" + string(ds) + "?" + q.Encode()
		ticks, pages := 0, 0
		for next != "null" {
			code, _, body, err := httpGet(t, nil, next)
			if err != nil || code != 200 {
				t.Fatalf("%s: %d %v %s", ds, code, err, body)
			}
			var env struct {
				Header struct {
					NextPage string   `json:"next_page"`
					Format   []string `json:"format"`
				} `json:"header"`
				Response [][]json.Number `json:"response"`
			}
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("%s: %v %.200s", ds, err, body)
			}
			for _, tk := range env.Response {
				if len(tk) != n || len(env.Header.Format) != n {
					t.Fatalf("%s: a tick of %d values, format %v; Lean reads %d", ds, len(tk), env.Header.Format, n)
				}
			}
			ticks += len(env.Response)
			pages++
			next = env.Header.NextPage
		}
		// The contract's ticks are the bulk answer's for that contract (one
		// page: the same market at the default tick limit).
		_, _, body := get(t, small(t, nil).V2Handler(), "/v2"+ds.V2Path()+"?"+url.Values{"root": {"SPXW"}, "exp": {exp.Compact()}, "start_date": {"20240315"},
			"end_date": {"20240315"}, "ivl": {"60000"}, "right": {"C"}, "strike": {strconv.FormatInt(k, 10)}}.Encode())
		want := len(flatTicks(decodeV2(t, body)))
		if ticks != want || want == 0 || (ds == spx.Quote && pages < 2) {
			t.Fatalf("%s: %d ticks over %d pages, bulk has %d", ds, ticks, pages, want)
		}
	}
	if code, _, _ := call(t, v2, "/v2/hist/option/quote", url.Values{"root": {"SPXW"}, "exp": {exp.Compact()}, "start_date": {"20240315"}}); code != 473 {
		t.Fatalf("without strike and right: %d, want 473", code)
	}
}
