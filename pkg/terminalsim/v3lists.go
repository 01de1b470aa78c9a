package terminalsim

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// v3Table writes a small list response in the requested format.
type v3Table struct {
	cols   []string
	quoted []bool // ndjson/json: quote this column
	rows   [][]string
}

func (s *Sim) writeV3Table(w http.ResponseWriter, q url.Values, t v3Table) *termError {
	format := q.Get("format")
	var b []byte
	if format == "json" && s.cfg.JSONShape == JSONColumnar {
		w.Header().Set("Content-Type", "application/json")
		b = append(b, '{')
		for j, name := range t.cols {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, name)
			b = append(b, ':', '[')
			for i, row := range t.rows {
				if i > 0 {
					b = append(b, ',')
				}
				if t.quoted[j] {
					b = strconv.AppendQuote(b, row[j])
				} else {
					b = append(b, row[j]...)
				}
			}
			b = append(b, ']')
		}
		_, _ = w.Write(append(b, '}'))
		return nil
	}
	switch format {
	case "", "csv":
		w.Header().Set("Content-Type", "text/csv")
		b = append(b, strings.Join(t.cols, ",")...)
		b = append(b, '\r', '\n')
		for _, row := range t.rows {
			b = append(b, strings.Join(row, ",")...)
			b = append(b, '\r', '\n')
		}
	case "ndjson", "json":
		if format == "json" {
			w.Header().Set("Content-Type", "application/json")
			b = append(b, `{"response":[`...)
		} else {
			w.Header().Set("Content-Type", "application/x-ndjson")
		}
		for i, row := range t.rows {
			if format == "json" && i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			for j, v := range row {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendQuote(b, t.cols[j])
				b = append(b, ':')
				if t.quoted[j] {
					b = strconv.AppendQuote(b, v)
				} else {
					b = append(b, v...)
				}
			}
			b = append(b, '}')
			if format == "ndjson" {
				b = append(b, '\n')
			}
		}
		if format == "json" {
			b = append(b, "]}"...)
		}
	default:
		return errf(473, "invalid format %q: use csv, ndjson or json", format)
	}
	_, _ = w.Write(b)
	return nil
}

func symbolParam(q url.Values) (string, *termError) {
	sym := strings.ToUpper(strings.TrimSpace(q.Get("symbol")))
	if sym == "" {
		return "", errf(473, "missing symbol: add symbol=SPXW (or SPX)")
	}
	return sym, nil
}

// symbolsParam reads a list of symbols (the spec's multi_symbol: comma
// separated, or * for every root the simulator has).
func symbolsParam(q url.Values, required bool) ([]string, *termError) {
	raw := strings.ToUpper(strings.TrimSpace(q.Get("symbol")))
	if raw == "" && required {
		return nil, errf(473, "missing symbol: add symbol=SPXW (or SPX, a comma-separated list, or *)")
	}
	if raw == "" || raw == "*" {
		return append([]string(nil), spx.DefaultRoots...), nil
	}
	var out []string
	for _, r := range strings.Split(raw, ",") {
		if r = strings.TrimSpace(r); r == "" {
			return nil, errf(473, "invalid symbol %q: an empty name in the list", raw)
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Sim) v3ListExpirations(w http.ResponseWriter, r *http.Request) *termError {
	q := r.URL.Query()
	syms, e := symbolsParam(q, true)
	if e != nil {
		return e
	}
	t := v3Table{cols: []string{"symbol", "expiration"}, quoted: []bool{true, true}}
	for _, sym := range syms {
		for _, e := range s.market.allExpirations(sym, today()) {
			t.rows = append(t.rows, []string{sym, e.String()})
		}
	}
	if len(t.rows) == 0 {
		return errf(472, "no expirations for %s", strings.Join(syms, ","))
	}
	return s.writeV3Table(w, q, t)
}

func (s *Sim) v3ListStrikes(w http.ResponseWriter, r *http.Request) *termError {
	q := r.URL.Query()
	syms, e := symbolsParam(q, true)
	if e != nil {
		return e
	}
	exp, e := parseDateParam("expiration", q.Get("expiration"))
	if e != nil {
		return e
	}
	t := v3Table{cols: []string{"symbol", "strike"}, quoted: []bool{true, false}}
	for _, sym := range syms {
		for _, k := range s.strikesOf(sym, exp) {
			t.rows = append(t.rows, []string{sym, string(appendFixed(nil, k, 3, false))})
		}
	}
	if len(t.rows) == 0 {
		return errf(472, "no strikes for %s expiration %s", strings.Join(syms, ","), exp)
	}
	return s.writeV3Table(w, q, t)
}

// maxDTEParam reads max_dte (ok false when absent).
func maxDTEParam(q url.Values) (int, bool, *termError) {
	v := q.Get("max_dte")
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false, errf(473, "invalid max_dte %q: use a whole number of days, 0 or more", v)
	}
	return n, true, nil
}

func today() spx.Date { return spx.DateOf(time.Now().In(spx.NewYork)) }

// v3ListSymbols lists the roots the simulated market has
// (/option/list/symbols: every symbol with options).
func (s *Sim) v3ListSymbols(w http.ResponseWriter, r *http.Request) *termError {
	t := v3Table{cols: []string{"symbol"}, quoted: []bool{true}}
	roots := slices.Sorted(slices.Values(spx.DefaultRoots))
	for _, root := range roots {
		t.rows = append(t.rows, []string{root})
	}
	return s.writeV3Table(w, r.URL.Query(), t)
}

// v3ListContracts lists the contracts quoted (request_type quote) or
// traded (trade) on a date.
func (s *Sim) v3ListContracts(w http.ResponseWriter, r *http.Request, trades bool) *termError {
	q := r.URL.Query()
	date, e := parseDateParam("date", q.Get("date"))
	if e != nil {
		return e
	}
	syms, e := symbolsParam(q, false)
	if e != nil {
		return e
	}
	maxDTE, hasMax, e := maxDTEParam(q)
	if e != nil {
		return e
	}
	t := v3Table{cols: []string{"symbol", "expiration", "strike", "right"}, quoted: []bool{true, true, false, true}}
	dd := s.market.dayOf(date)
	s.eachContract(syms, date, func(root string, exp spx.Date, tenths int64, right byte) {
		if hasMax && int(exp-date) > maxDTE {
			return
		}
		if trades && !s.market.tradedOn(dd, root, exp, tenths, right) {
			return
		}
		rw := "PUT"
		if right == 'C' {
			rw = "CALL"
		}
		t.rows = append(t.rows, []string{root, exp.String(), string(appendFixed(nil, tenths, 3, false)), rw})
	})
	if len(t.rows) == 0 {
		return errf(472, "no contracts %s on %s for %s", map[bool]string{false: "quoted", true: "traded"}[trades], date, strings.Join(syms, ","))
	}
	return s.writeV3Table(w, q, t)
}

// eachContract visits the contracts quoted on date for roots.
func (s *Sim) eachContract(roots []string, date spx.Date, fn func(root string, exp spx.Date, tenths int64, right byte)) {
	dd := s.market.dayOf(date)
	if dd == nil {
		return
	}
	for _, root := range roots {
		root = strings.TrimSpace(root)
		for _, exp := range s.market.expirations(root, date) {
			for _, k := range s.market.strikes(dd, exp) {
				tenths := int64(k*1000 + 0.5)
				fn(root, exp, tenths, 'C')
				fn(root, exp, tenths, 'P')
			}
		}
	}
}

// v3ListDates lists the dates an expiration was quoted (request_type
// quote) or traded (trade) on.
func (s *Sim) v3ListDates(w http.ResponseWriter, r *http.Request, trades bool) *termError {
	q := r.URL.Query()
	sym, e := symbolParam(q)
	if e != nil {
		return e
	}
	exp, e := parseDateParam("expiration", q.Get("expiration"))
	if e != nil {
		return e
	}
	// Every strike of an expiration is quoted on each of its trade dates in
	// the simulated market, so for quotes strike and right narrow nothing:
	// they are checked and the dates are the expiration's. Trades narrow
	// them to the days the contracts asked for traded.
	right, e := rightParam(q)
	if e != nil {
		return e
	}
	strike, e := strikeParam(q)
	if e != nil {
		return e
	}
	dates := s.market.tradeDates(sym, exp, today())
	if trades {
		dates = slices.DeleteFunc(dates, func(d spx.Date) bool { return !s.tradedAny(sym, d, exp, strike, right) })
	}
	if len(dates) == 0 {
		return errf(472, "no %s dates for %s expiration %s", map[bool]string{false: "quote", true: "trade"}[trades], sym, exp)
	}
	t := v3Table{cols: []string{"date"}, quoted: []bool{true}}
	for _, d := range dates {
		t.rows = append(t.rows, []string{d.String()})
	}
	return s.writeV3Table(w, q, t)
}

// tradedAny reports whether a contract of exp (strike in dollars, 0 any;
// right 0 both) traded on date.
func (s *Sim) tradedAny(root string, date, exp spx.Date, strike float64, right byte) bool {
	dd := s.market.dayOf(date)
	if dd == nil {
		return false
	}
	for _, k := range s.market.strikes(dd, exp) {
		if strike != 0 && math.Abs(k-strike) > 1e-6 {
			continue
		}
		tenths := int64(k*1000 + 0.5)
		for _, rt := range []byte{'C', 'P'} {
			if (right == 0 || right == rt) && s.market.tradedOn(dd, root, exp, tenths, rt) {
				return true
			}
		}
	}
	return false
}
