package terminalsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// v3 interval names → milliseconds. `tick` is served at 1m (the simulator
// has no tick-level market).
var v3Intervals = map[string]int32{
	"tick": 60000, "10ms": 10, "100ms": 100, "500ms": 500, "1s": 1000, "5s": 5000, "10s": 10000,
	"15s": 15000, "30s": 30000, "1m": 60000, "5m": 300000, "10m": 600000, "15m": 900000,
	"30m": 1800000, "1h": 3600000,
}

// v3Datasets maps the history paths onto datasets.
var v3Datasets = map[string]spx.Dataset{
	"/v3" + spx.Greeks.V3Path():       spx.Greeks,
	"/v3" + spx.Quote.V3Path():        spx.Quote,
	"/v3" + spx.OHLC.V3Path():         spx.OHLC,
	"/v3" + spx.EOD.V3Path():          spx.EOD,
	"/v3" + spx.OpenInterest.V3Path(): spx.OpenInterest,
}

// v3Params are the query and path parameters the simulator reads, per
// endpoint (spec path below /v3). pkg/thetaspec's contract test fails on a
// parameter the spec lists that is neither here nor excepted with a reason.
var v3Params = map[string][]string{
	"/option/list/symbols":                  {"format"},
	"/option/list/expirations":              {"symbol", "format"},
	"/option/list/strikes":                  {"symbol", "expiration", "format"},
	"/option/list/dates/{request_type}":     {"request_type", "symbol", "expiration", "strike", "right", "format"},
	"/option/list/contracts/{request_type}": {"request_type", "symbol", "date", "max_dte", "format"},
	"/option/history/greeks/first_order": {"date", "symbol", "expiration", "strike", "right", "start_time", "end_time",
		"interval", "strike_range", "format", "start_date", "end_date"},
	"/option/history/quote": {"date", "symbol", "expiration", "strike", "right", "start_time", "end_time", "interval",
		"max_dte", "strike_range", "format", "start_date", "end_date"},
	"/option/history/ohlc": {"date", "symbol", "expiration", "strike", "right", "interval", "start_time", "end_time",
		"strike_range", "format", "start_date", "end_date"},
	"/option/history/eod": {"start_date", "end_date", "symbol", "expiration", "strike", "right", "max_dte",
		"strike_range", "format"},
	"/option/history/open_interest": {"date", "symbol", "expiration", "strike", "right", "max_dte", "strike_range",
		"format", "start_date", "end_date"},
	"/option/at_time/quote": {"symbol", "start_date", "end_date", "time_of_day", "expiration", "strike", "right",
		"max_dte", "strike_range", "format"},
	"/option/at_time/trade": {"symbol", "start_date", "end_date", "time_of_day", "expiration", "strike", "right",
		"max_dte", "strike_range", "format"},
}

// V3Handler serves the v3 protocol (base /v3), /sim/stats and /sim/faults.
func (s *Sim) V3Handler() http.Handler {
	routes := map[string]route{
		"/v3/terminal/mdds/status":        {kindHealth, s.v3Health},
		"/v3/option/list/expirations":     {kindList, s.v3ListExpirations},
		"/v3/option/list/strikes":         {kindList, s.v3ListStrikes},
		"/v3/option/list/symbols":         {kindList, s.v3ListSymbols},
		"/v3/option/list/contracts/quote": {kindList, func(w http.ResponseWriter, r *http.Request) *termError { return s.v3ListContracts(w, r, false) }},
		"/v3/option/list/contracts/trade": {kindList, func(w http.ResponseWriter, r *http.Request) *termError { return s.v3ListContracts(w, r, true) }},
		"/v3/option/list/dates/quote":     {kindList, func(w http.ResponseWriter, r *http.Request) *termError { return s.v3ListDates(w, r, false) }},
		"/v3/option/list/dates/trade":     {kindList, func(w http.ResponseWriter, r *http.Request) *termError { return s.v3ListDates(w, r, true) }},
		"/v3/option/at_time/quote":        {kindHistory, func(w http.ResponseWriter, r *http.Request) *termError { return s.v3AtTime(w, r, spx.Quote) }},
		"/v3/option/at_time/trade":        {kindHistory, func(w http.ResponseWriter, r *http.Request) *termError { return s.v3AtTime(w, r, dsTrade) }},
	}
	for p, ds := range v3Datasets {
		routes[p] = route{kindHistory, func(w http.ResponseWriter, r *http.Request) *termError { return s.v3History(w, r, ds) }}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sim/stats":
			s.serveStats(w, r)
			return
		case "/sim/faults":
			s.serveFaults(w, r)
			return
		}
		rt, ok := routes[r.URL.Path]
		path := r.URL.Path
		if ok && rt.kind != kindHealth {
			rt.h = refuseV2Params(rt.h)
		}
		if !ok {
			path = "unknown"
			rt = route{kindHealth, func(http.ResponseWriter, *http.Request) *termError {
				return errf(404, "no such endpoint %s: check the path (is this a v2 terminal?)", r.URL.Path)
			}}
		}
		s.serveRoute(w, r, path, rt, writeV3Error)
	})
}

// v2Params are v2 parameter names a v3 terminal refuses with 410 and a
// migration message (captures of a real v3 terminal, 2026-01, cited by
// spx issue 22: exp= and root= on a v3 path), with their v3 names.
var v2Params = []struct{ v2, v3 string }{{"root", "symbol"}, {"exp", "expiration"}}

// refuseV2Params answers 410 to a request that carries a v2 parameter,
// before h reads anything.
func refuseV2Params(h func(http.ResponseWriter, *http.Request) *termError) func(http.ResponseWriter, *http.Request) *termError {
	return func(w http.ResponseWriter, r *http.Request) *termError {
		q := r.URL.Query()
		for _, p := range v2Params {
			if q.Has(p.v2) {
				return errf(http.StatusGone, "%s= is a v2 parameter and this is a v3 terminal: use %s= (v3 renamed root to symbol and exp to expiration; see ThetaData's v2 to v3 migration guide), or send v2 requests to a v2 terminal", p.v2, p.v3)
			}
		}
		return h(w, r)
	}
}

func writeV3Error(w http.ResponseWriter, e *termError) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(e.code)
	_, _ = w.Write([]byte(e.Error() + "\n"))
}

func (s *Sim) v3Health(w http.ResponseWriter, _ *http.Request) *termError {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(s.health()))
	return nil
}

// parseDateParam accepts YYYYMMDD or YYYY-MM-DD.
func parseDateParam(name, v string) (spx.Date, *termError) {
	var d spx.Date
	var err error
	if len(v) == 10 {
		d, err = spx.ParseDate(v)
	} else {
		d, err = spx.ParseCompactDate(v)
	}
	if err != nil {
		return 0, errf(473, "invalid %s %q: use YYYYMMDD or YYYY-MM-DD", name, v)
	}
	return d, nil
}

// parseClock accepts HH:MM:SS.SSS, HH:MM:SS or HH:MM.
func parseClock(name, v string) (int32, *termError) {
	for _, layout := range []string{"15:04:05.000", "15:04:05", "15:04"} {
		if t, err := time.Parse(layout, v); err == nil {
			return int32(t.Hour()*3600000 + t.Minute()*60000 + t.Second()*1000 + t.Nanosecond()/1e6), nil
		}
	}
	return 0, errf(473, "invalid %s %q: use HH:MM:SS.SSS", name, v)
}

func ivlName(ms int32) string {
	for name, v := range v3Intervals {
		if v == ms && name != "tick" {
			return name
		}
	}
	return strconv.Itoa(int(ms)) + "ms"
}

// rightParam reads right: call, put or both (the spec's values; C and P
// are accepted too).
func rightParam(q url.Values) (byte, *termError) {
	switch strings.ToLower(q.Get("right")) {
	case "", "both":
		return 0, nil
	case "call", "c":
		return 'C', nil
	case "put", "p":
		return 'P', nil
	}
	return 0, errf(473, "invalid right %q: use call, put or both", q.Get("right"))
}

// strikeParam reads strike in dollars (0 for * or absent).
func strikeParam(q url.Values) (float64, *termError) {
	k := q.Get("strike")
	if k == "" || k == "*" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(k, 64)
	if err != nil || v <= 0 {
		return 0, errf(473, "invalid strike %q: use dollars, e.g. 5065, or *", k)
	}
	return v, nil
}

// parseV3History reads a v3 history request's parameters.
func parseV3History(q url.Values, ds spx.Dataset) (*histReq, rowFormat, *termError) {
	// interval defaults to 1s, start_time/end_time to the session (the
	// spec's defaults).
	req := &histReq{ds: ds, ivl: 1000, startMs: msOpen, endMs: 16 * 3600 * 1000}
	var e *termError
	if req.root, e = symbolParam(q); e != nil {
		return nil, 0, e
	}
	switch exp := q.Get("expiration"); exp {
	case "":
		return nil, 0, errf(473, "missing expiration: add expiration=YYYYMMDD")
	case "*":
		if !ds.AllExpirations() {
			return nil, 0, errf(473, "expiration=* is not allowed on this endpoint: request one expiration at a time")
		}
		req.allExp = true
	default:
		if req.exp, e = parseDateParam("expiration", exp); e != nil {
			return nil, 0, e
		}
	}
	if d := q.Get("date"); d != "" {
		if req.from, e = parseDateParam("date", d); e != nil {
			return nil, 0, e
		}
		req.to = req.from
	} else {
		sd, ed := q.Get("start_date"), q.Get("end_date")
		if sd == "" || ed == "" {
			return nil, 0, errf(473, "missing date: add date=YYYYMMDD or start_date and end_date")
		}
		if req.from, e = parseDateParam("start_date", sd); e != nil {
			return nil, 0, e
		}
		if req.to, e = parseDateParam("end_date", ed); e != nil {
			return nil, 0, e
		}
		if req.to < req.from {
			return nil, 0, errf(473, "end_date %s is before start_date %s", req.to, req.from)
		}
	}
	if iv := q.Get("interval"); iv != "" {
		ms, ok := v3Intervals[iv]
		if !ok {
			return nil, 0, errf(473, "invalid interval %q: use tick, 10ms, 100ms, 500ms, 1s, 5s, 10s, 15s, 30s, 1m, 5m, 10m, 15m, 30m or 1h", iv)
		}
		req.ivl = ms
	}
	if e = contractParams(q, req); e != nil {
		return nil, 0, e
	}
	if v := q.Get("start_time"); v != "" {
		if req.startMs, e = parseClock("start_time", v); e != nil {
			return nil, 0, e
		}
	}
	if v := q.Get("end_time"); v != "" {
		if req.endMs, e = parseClock("end_time", v); e != nil {
			return nil, 0, e
		}
	}
	format, e := formatParam(q)
	if e != nil {
		return nil, 0, e
	}
	if ds.Intraday() && req.to > req.from && req.ivl < msMinute {
		return nil, 0, errf(473, "interval %s is under 1m, which is for single-day requests only: use date=, or interval=1m or longer", ivlName(req.ivl))
	}
	if ds.Intraday() && req.to-req.from > 31 {
		return nil, 0, errf(570, "intraday history is limited to one month per request: split %s..%s", req.from, req.to)
	}
	return req, format, nil
}

// contractParams reads the parameters that pick contracts: right, strike,
// max_dte and strike_range.
func contractParams(q url.Values, req *histReq) *termError {
	var e *termError
	if req.right, e = rightParam(q); e != nil {
		return e
	}
	if req.strike, e = strikeParam(q); e != nil {
		return e
	}
	if req.maxDTE, req.hasMaxDTE, e = maxDTEParam(q); e != nil {
		return e
	}
	if v := q.Get("strike_range"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errf(473, "invalid strike_range %q: use a whole number of strikes, 1 or more", v)
		}
		req.strikeRange = n
	}
	return nil
}

// formatParam reads format (csv by default).
func formatParam(q url.Values) (rowFormat, *termError) {
	switch f := q.Get("format"); f {
	case "", "csv":
		return fmtV3CSV, nil
	case "ndjson":
		return fmtV3NDJSON, nil
	case "json":
		return fmtV3JSON, nil
	default:
		return 0, errf(473, "invalid format %q: use csv, ndjson or json", f)
	}
}

func (s *Sim) v3History(w http.ResponseWriter, r *http.Request, ds spx.Dataset) *termError {
	req, format, e := parseV3History(r.URL.Query(), ds)
	if e != nil {
		return e
	}
	return s.serveV3History(w, r, req, format)
}

// serveV3History answers a parsed history (or at_time) request.
func (s *Sim) serveV3History(w http.ResponseWriter, r *http.Request, req *histReq, format rowFormat) *termError {
	ds := req.ds
	segs, total, e := s.prepare(req)
	if e != nil {
		return e
	}
	var head []byte
	ct := "text/csv"
	switch format {
	case fmtV3CSV:
		head = append([]byte(strings.Join(V3Columns(ds), ",")), '\r', '\n')
	case fmtV3NDJSON:
		ct = "application/x-ndjson"
	case fmtV3JSON:
		ct = "application/json"
		head = []byte(`{"response":[`)
	}
	var res streamed
	switch {
	case format == fmtV3JSON && s.cfg.JSONShape == JSONColumnar:
		res = s.streamColumnar(w, r, ds, segs, total)
	case format == fmtV3JSON:
		res = s.stream(w, r, newGenByContract(ds, segs), format, total, head, ct)
	default:
		res = s.stream(w, r, newGen(ds, segs), format, total, head, ct)
	}
	if res.complete {
		s.completed(req, segs, res.rows)
	}
	return nil
}
