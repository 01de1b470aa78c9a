package terminalsim

import (
	"net/http"
	"net/url"

	"github.com/spx-archive/spx/pkg/spx"
)

// /v3/option/at_time/{quote,trade}: one row per contract and trade date,
// the quote in force or the last trade at time_of_day (the spec's
// paths./option/at_time/quote and /trade: symbol, start_date, end_date,
// time_of_day required; expiration may be *; strike, right, max_dte,
// strike_range pick contracts). They answer from the same market as
// history/quote and the trade model (trades.go):
//
//   - quote: the history/quote row at time_of_day, clamped to the session
//     (the simulated NBBO moves with the index, so the quote in force at a
//     time is the one computed there; a real terminal stamps the last
//     quote change before it);
//   - trade: the contract's last trade at or before time_of_day that day,
//     or a row of zeros stamped time_of_day when it had not traded yet.

func (s *Sim) v3AtTime(w http.ResponseWriter, r *http.Request, ds spx.Dataset) *termError {
	req, format, e := parseV3AtTime(r.URL.Query(), ds)
	if e != nil {
		return e
	}
	return s.serveV3History(w, r, req, format)
}

func parseV3AtTime(q url.Values, ds spx.Dataset) (*histReq, rowFormat, *termError) {
	req := &histReq{ds: ds, atTime: true, ivl: 1}
	var e *termError
	if req.root, e = symbolParam(q); e != nil {
		return nil, 0, e
	}
	sd, ed := q.Get("start_date"), q.Get("end_date")
	if sd == "" || ed == "" {
		return nil, 0, errf(473, "missing start_date or end_date: add both, YYYYMMDD")
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
	tod := q.Get("time_of_day")
	if tod == "" {
		return nil, 0, errf(473, "missing time_of_day: add time_of_day=HH:MM:SS.SSS (New York time)")
	}
	if req.startMs, e = parseClock("time_of_day", tod); e != nil {
		return nil, 0, e
	}
	req.endMs = req.startMs
	switch exp := q.Get("expiration"); exp {
	case "":
		return nil, 0, errf(473, "missing expiration: add expiration=YYYYMMDD or *")
	case "*":
		req.allExp = true
	default:
		if req.exp, e = parseDateParam("expiration", exp); e != nil {
			return nil, 0, e
		}
	}
	if e = contractParams(q, req); e != nil {
		return nil, 0, e
	}
	format, e := formatParam(q)
	if e != nil {
		return nil, 0, e
	}
	return req, format, nil
}

// atTimeStamp is the stamp of an at_time request on the session dd: the
// time asked for, no later than the close, and for quotes no earlier
// than the open.
func atTimeStamp(dd *day, r *histReq) int32 {
	ms := min(r.startMs, dd.session.CloseMsOfDay())
	if r.ds == spx.Quote {
		ms = max(ms, msOpen)
	}
	return ms
}
