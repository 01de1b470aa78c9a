package terminalsim

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// V2Handler serves the v2 protocol (base /v2) and /sim/stats.
func (s *Sim) V2Handler() http.Handler {
	routes := map[string]route{
		"/v2/system/mdds/status":          {kindHealth, s.v2Health},
		"/v2/list/expirations":            {kindList, s.v2ListExpirations},
		"/v2/list/strikes":                {kindList, s.v2ListStrikes},
		"/v2/list/dates/option/quote":     {kindList, s.v2ListDates},
		"/v2/list/contracts/option/quote": {kindList, s.v2ListContracts},
	}
	for _, ds := range spx.Datasets {
		routes["/v2"+ds.V2Path()] = route{kindHistory, func(w http.ResponseWriter, r *http.Request) *termError { return s.v2History(w, r, ds, false) }}
		routes["/v2"+strings.Replace(ds.V2Path(), "/bulk_hist/", "/hist/", 1)] = route{kindHistory, func(w http.ResponseWriter, r *http.Request) *termError { return s.v2ContractHistory(w, r, ds) }}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sim/stats" {
			s.serveStats(w, r)
			return
		}
		path := r.URL.Path
		rt, ok := routes[path]
		if !ok && strings.HasPrefix(path, "/v2/page/") {
			path, ok = "/v2/page", true
			rt = route{kindHistory, s.v2Page}
		}
		if !ok {
			path = "unknown"
			rt = route{kindHealth, func(http.ResponseWriter, *http.Request) *termError {
				return errf(404, "no such endpoint %s: check the path (is this a v3 terminal?)", r.URL.Path)
			}}
		}
		s.serveRoute(w, r, path, rt, s.writeV2Error)
	})
}

// appendV2Header appends the envelope's header object and the opening of
// the response array.
func (s *Sim) appendV2Header(dst []byte, errType, errMsg, nextPage string, format []string) []byte {
	dst = append(dst, `{"header":{"id":0,"latency_ms":`...)
	dst = strconv.AppendInt(dst, s.currentLatency().Milliseconds(), 10)
	dst = append(dst, `,"error_type":`...)
	dst = strconv.AppendQuote(dst, errType)
	dst = append(dst, `,"error_msg":`...)
	dst = strconv.AppendQuote(dst, errMsg)
	dst = append(dst, `,"next_page":`...)
	dst = strconv.AppendQuote(dst, nextPage)
	dst = append(dst, `,"format":[`...)
	for i, f := range format {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, f)
	}
	return append(dst, `]},"response":[`...)
}

func (s *Sim) currentLatency() time.Duration {
	f, _, _ := s.currentFaults()
	return f.Latency
}

func (s *Sim) writeV2Error(w http.ResponseWriter, e *termError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.code)
	b := s.appendV2Header(nil, statusName(e.code), e.msg, "null", []string{})
	_, _ = w.Write(append(b, "]}"...))
}

func (s *Sim) v2Health(w http.ResponseWriter, _ *http.Request) *termError {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(s.health()))
	return nil
}

// writeV2Ints answers a list endpoint whose response is a flat int array.
func (s *Sim) writeV2Ints(w http.ResponseWriter, name string, vals []int64) {
	b := s.appendV2Header(nil, "null", "null", "null", []string{name})
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, "]}"...))
}

func rootParam(q url.Values) (string, *termError) {
	root := strings.ToUpper(strings.TrimSpace(q.Get("root")))
	if root == "" {
		return "", errf(473, "missing root: add root=SPXW (or SPX)")
	}
	return root, nil
}

func intDateParam(q url.Values, name string) (spx.Date, *termError) {
	v := q.Get(name)
	if v == "" {
		return 0, errf(473, "missing %s: add %s=YYYYMMDD", name, name)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errf(473, "invalid %s %q: use an integer YYYYMMDD", name, v)
	}
	d, err := spx.DateFromInt(n)
	if err != nil {
		return 0, errf(473, "invalid %s %q: use an integer YYYYMMDD", name, v)
	}
	return d, nil
}

func (s *Sim) v2ListExpirations(w http.ResponseWriter, r *http.Request) *termError {
	root, e := rootParam(r.URL.Query())
	if e != nil {
		return e
	}
	exps := s.market.allExpirations(root, today())
	if len(exps) == 0 {
		return errf(472, "no expirations for %s", root)
	}
	vals := make([]int64, len(exps))
	for i, d := range exps {
		vals[i] = int64(d.Int())
	}
	s.writeV2Ints(w, "date", vals)
	return nil
}

func (s *Sim) v2ListStrikes(w http.ResponseWriter, r *http.Request) *termError {
	q := r.URL.Query()
	root, e := rootParam(q)
	if e != nil {
		return e
	}
	exp, e := intDateParam(q, "exp")
	if e != nil {
		return e
	}
	vals := s.strikesOf(root, exp)
	if len(vals) == 0 {
		return errf(472, "no strikes for %s expiration %s", root, exp)
	}
	s.writeV2Ints(w, "strike", vals)
	return nil
}

// strikesOf lists, in tenths of a cent and ascending, every strike an
// expiration had on any of its trade dates.
func (s *Sim) strikesOf(root string, exp spx.Date) []int64 {
	set := map[int64]bool{}
	for _, t := range s.market.tradeDates(root, exp, today()) {
		if dd := s.market.dayOf(t); dd != nil {
			for _, k := range s.market.strikes(dd, exp) {
				set[int64(k*1000+0.5)] = true
			}
		}
	}
	vals := make([]int64, 0, len(set))
	for k := range set {
		vals = append(vals, k)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	return vals
}

func (s *Sim) v2ListDates(w http.ResponseWriter, r *http.Request) *termError {
	q := r.URL.Query()
	root, e := rootParam(q)
	if e != nil {
		return e
	}
	exp, e := intDateParam(q, "exp")
	if e != nil {
		return e
	}
	dates := s.market.tradeDates(root, exp, today())
	if len(dates) == 0 {
		return errf(472, "no trade dates for %s expiration %s", root, exp)
	}
	vals := make([]int64, len(dates))
	for i, d := range dates {
		vals[i] = int64(d.Int())
	}
	s.writeV2Ints(w, "date", vals)
	return nil
}

func (s *Sim) v2ListContracts(w http.ResponseWriter, r *http.Request) *termError {
	q := r.URL.Query()
	date, e := intDateParam(q, "start_date")
	if e != nil {
		return e
	}
	root, e := rootParam(q)
	if e != nil {
		return e
	}
	if !sleepCtx(r.Context(), s.cfg.ContractsLatency) {
		return nil
	}
	b := s.appendV2Header(nil, "null", "null", "null", []string{"root", "expiration", "strike", "right"})
	n := 0
	s.eachContract(strings.Split(root, ","), date, func(root string, exp spx.Date, tenths int64, right byte) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '[')
		b = strconv.AppendQuote(b, root)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(exp.Int()), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, tenths, 10)
		b = append(b, ',', '"', right, '"', ']')
	})
	if n == 0 {
		return errf(472, "no contracts quoted on %s for %s", date, root)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, "]}"...))
	return nil
}

// parseV2History reads a v2 bulk history request's parameters.
func parseV2History(q url.Values, ds spx.Dataset) (*histReq, bool, *termError) {
	req := &histReq{ds: ds, ivl: msMinute, startMs: msOpen, endMs: 16 * 3600 * 1000}
	var e *termError
	if req.root, e = rootParam(q); e != nil {
		return nil, false, e
	}
	switch exp := q.Get("exp"); exp {
	case "":
		return nil, false, errf(473, "missing exp: add exp=YYYYMMDD")
	case "0":
		if ds == spx.Greeks || ds == spx.OHLC {
			return nil, false, errf(473, "exp=0 is not allowed on this endpoint: request one expiration at a time")
		}
		req.allExp = true
	default:
		if req.exp, e = intDateParam(q, "exp"); e != nil {
			return nil, false, e
		}
	}
	if req.from, e = intDateParam(q, "start_date"); e != nil {
		return nil, false, e
	}
	req.to = req.from
	if q.Get("end_date") != "" {
		if req.to, e = intDateParam(q, "end_date"); e != nil {
			return nil, false, e
		}
	}
	if req.to < req.from {
		return nil, false, errf(473, "end_date %s is before start_date %s", req.to, req.from)
	}
	if v := q.Get("ivl"); v != "" && v != "0" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, false, errf(473, "invalid ivl %q: use milliseconds, e.g. 60000", v)
		}
		req.ivl = int32(n)
	}
	switch strings.ToUpper(q.Get("right")) {
	case "":
	case "C":
		req.right = 'C'
	case "P":
		req.right = 'P'
	default:
		return nil, false, errf(473, "invalid right %q: use C or P", q.Get("right"))
	}
	if v := q.Get("strike"); v != "" && v != "0" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, false, errf(473, "invalid strike %q: use tenths of a cent, e.g. 5065000", v)
		}
		req.strike = float64(n) / 1000
	}
	for _, p := range []struct {
		name string
		dst  *int32
	}{{"start_time", &req.startMs}, {"end_time", &req.endMs}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 86400000 {
				return nil, false, errf(473, "invalid %s %q: use milliseconds of the day", p.name, v)
			}
			*p.dst = int32(n)
		}
	}
	if ds.Intraday() && req.to-req.from > 31 {
		return nil, false, errf(570, "intraday history is limited to one month per request: split %s..%s", req.from, req.to)
	}
	return req, q.Get("use_csv") == "true", nil
}

// v2History serves a v2 history request: flat, a contract's bare tick
// arrays (always JSON), else bulk_hist's contract objects (or CSV).
func (s *Sim) v2History(w http.ResponseWriter, r *http.Request, ds spx.Dataset, flat bool) *termError {
	req, csv, e := parseV2History(r.URL.Query(), ds)
	if e != nil {
		return e
	}
	segs, total, e := s.prepare(req)
	if e != nil {
		return e
	}
	s.v2Serve(w, r, &page{req: req, csv: csv && !flat, flat: flat}, segs, total)
	return nil
}

// v2ContractHistory serves /v2/hist/option/*: one contract (root, exp,
// strike, right all required), its ticks as bare arrays in the envelope's
// response (the shape QuantConnect's Lean.DataSource.ThetaData reads:
// Converters/ThetaDataQuoteConverter.cs and the others, positional arrays
// of header.format's length). spx itself uses bulk_hist.
func (s *Sim) v2ContractHistory(w http.ResponseWriter, r *http.Request, ds spx.Dataset) *termError {
	q := r.URL.Query()
	for _, name := range []string{"exp", "strike", "right"} {
		if v := q.Get(name); v == "" || v == "0" {
			return errf(473, "missing %s: a /v2/hist request is for one contract (root, exp, strike, right); use bulk_hist for many", name)
		}
	}
	return s.v2History(w, r, ds, true)
}

// v2Serve answers one page of a bulk request starting at p.offset, and
// leaves the continuation waiting when rows remain.
func (s *Sim) v2Serve(w http.ResponseWriter, r *http.Request, p *page, segs []*segment, total int64) {
	limit := min(total-p.offset, int64(s.cfg.TickLimit))
	next := "null"
	if p.offset+limit < total {
		next = "http://" + r.Host + "/v2/page/" + strconv.FormatInt(s.addPage(&page{
			req: p.req, offset: p.offset + limit, csv: p.csv, flat: p.flat, rowsSoFar: p.rowsSoFar + limit,
		}), 10)
	}
	g := newGen(p.req.ds, segs)
	g.seek(p.offset)
	var res streamed
	if p.csv {
		w.Header().Set("Next-Page", next)
		head := []byte("root,expiration,strike,right," + strings.Join(V2Format(p.req.ds), ",") + "\n")
		res = s.stream(w, r, g, fmtV2CSV, limit, head, "text/csv")
	} else {
		format := fmtV2JSON
		if p.flat {
			format = fmtV2Flat
		}
		head := s.appendV2Header(nil, "null", "null", next, V2Format(p.req.ds))
		res = s.stream(w, r, g, format, limit, head, "application/json")
	}
	if res.complete && next == "null" {
		s.completed(p.req, segs, p.rowsSoFar+res.rows)
	}
}

func (s *Sim) addPage(p *page) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for id, old := range s.pages {
		if now.Sub(old.created) > s.cfg.PageTTL {
			delete(s.pages, id)
		}
	}
	s.nextPage++
	p.created = now
	s.pages[s.nextPage] = p
	return s.nextPage
}

func (s *Sim) takePage(id int64) *page {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pages[id]
	delete(s.pages, id)
	if p == nil || time.Since(p.created) > s.cfg.PageTTL {
		return nil
	}
	return p
}

func (s *Sim) v2Page(w http.ResponseWriter, r *http.Request) *termError {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/v2/page/"), 10, 64)
	if err != nil {
		return errf(477, "no such page %q: restart the request from its first page", r.URL.Path)
	}
	p := s.takePage(id)
	if f, _, _ := s.currentFaults(); p != nil && f.ExpireRate > 0 && s.roll() < f.ExpireRate {
		p = nil // an injected expiry
	}
	if p == nil {
		return errf(477, "page %d is missing or expired: restart the request from its first page", id)
	}
	segs := s.market.segmentsFor(p.req)
	s.v2Serve(w, r, p, segs, totalRows(segs))
	return nil
}
