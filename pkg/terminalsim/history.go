package terminalsim

import (
	"bytes"
	"net"
	"net/http"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// maxStamps bounds the stamps of one day of an intraday request (a whole
// session at 1s), so per-stamp tables stay small.
const maxStamps = 23401

// jobKey is the spx.JobKey string of a request for one date and one
// expiration ("" otherwise: such requests are not tracked per job).
func (r *histReq) jobKey() string {
	if r.allExp || r.from != r.to || r.atTime {
		return ""
	}
	return spx.JobKey{Dataset: r.ds, Root: r.root, Date: r.from, Expiration: r.exp}.String()
}

// prepare sizes a history request and applies the answers that come
// before any body: NO_DATA, LARGE_REQUEST and injected error codes.
func (s *Sim) prepare(r *histReq) ([]*segment, int64, *termError) {
	if r.ds == spx.Greeks && r.to < greeksStart {
		return nil, 0, errf(472, "no greeks before 2020-01-01: index-option greeks history starts then")
	}
	if r.ds.Intraday() && r.ivl > 0 && (min(r.endMs, 16*3600*1000)-r.startMs)/r.ivl+1 > maxStamps {
		return nil, 0, errf(570, "interval too fine for the time range (more than %d stamps a day): narrow start_time/end_time or use a longer interval", maxStamps)
	}
	segs := s.market.segmentsFor(r)
	total := totalRows(segs)
	if total == 0 {
		what := "expiration " + r.exp.String()
		if r.allExp {
			what = "any expiration"
		}
		return nil, 0, errf(472, "no data for %s %s between %s and %s: not a session, or not quoted then", r.root, what, r.from, r.to)
	}
	if n := s.cfg.LargeRequestRows; n > 0 && total > int64(n) {
		return nil, 0, errf(570, "request too large (%d rows, limit %d): ask for less (fewer days, one right, or a strike range)", total, n)
	}
	f, _, _ := s.currentFaults()
	if code := s.errorFault(f); code == 474 {
		return nil, 0, errf(code, "injected fault: %s", disconnectedMsg)
	} else if code != 0 {
		return nil, 0, errf(code, "injected fault %s", statusName(code))
	}
	return segs, total, nil
}

// streamed is what a body stream did.
type streamed struct {
	rows     int64
	complete bool
}

// rowSource walks the rows of a request: next advances, cur holds the
// current row.
type rowSource interface {
	next() bool
	cur() *gen
}

// stream writes a 200 response of up to limit rows from src in format,
// between head and foot, applying an injected body fault if one is drawn.
func (s *Sim) stream(w http.ResponseWriter, r *http.Request, src rowSource, format rowFormat, limit int64, head []byte, contentType string) streamed {
	g := src.cur()
	f, _, _ := s.currentFaults()
	fault, at := s.pickBodyFault(f, limit)
	if !sleepCtx(r.Context(), f.Latency) {
		return streamed{}
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	o := newOut(w, func() { _ = rc.Flush() })
	bad := badData(f.BadData, format)
	switch bad {
	case BadEmpty:
		return streamed{} // a 200 with nothing in it
	case BadHeader:
		head = badHeader(head)
	}
	o.buf = append(o.buf, head...)
	cols := specs[g.ds]
	var rows int64
	counted := false
	count := func() {
		if !counted {
			counted = true
			s.addRows(rows)
		}
	}
	defer count()
	var last *contract
	var tmp []byte
	for rows < limit && src.next() {
		if fault != faultNone && rows == at {
			tmp = appendRow(tmp[:0], g, cols, format, last, rows == 0)
			count() // before the client can see the failure
			switch fault {
			case faultTruncate:
				o.buf = append(o.buf, tmp[:len(tmp)/2]...)
				o.send()
				return streamed{rows: rows}
			case faultStall:
				o.send()
				<-r.Context().Done()
				return streamed{rows: rows}
			case faultReset:
				o.send()
				s.reset(rc)
				return streamed{rows: rows}
			}
		}
		if bad != "" && rows == limit/2 {
			tmp = appendRow(tmp[:0], g, cols, format, last, rows == 0)
			o.buf = append(o.buf, badRow(bad, tmp)...)
		} else {
			o.buf = appendRow(o.buf, g, cols, format, last, rows == 0)
		}
		last = g.con
		rows++
		o.maybeSend()
		if o.err != nil {
			return streamed{rows: rows}
		}
	}
	switch format {
	case fmtV2JSON:
		if last != nil {
			o.buf = append(o.buf, last.v2Contract...)
		}
		o.buf = append(o.buf, "]}"...)
	case fmtV3JSON:
		if last != nil {
			o.buf = append(o.buf, "]}"...)
		}
		o.buf = append(o.buf, "]}"...)
	case fmtV2Flat:
		o.buf = append(o.buf, "]}"...)
	}
	o.send()
	return streamed{rows: rows, complete: o.err == nil}
}

// appendRow appends the current row in format, with the separators the
// format needs between rows.
func appendRow(dst []byte, g *gen, cols []col, format rowFormat, last *contract, first bool) []byte {
	switch format {
	case fmtV3CSV:
		return appendV3CSVRow(dst, g, cols)
	case fmtV3NDJSON:
		return append(appendV3JSONRow(dst, g, cols), '\n')
	case fmtV3JSON:
		// {"response":[{"contract":{…},"data":[{…},…]},…]}, one element per
		// contract (the spec's application/json examples), the rows of all
		// its days together (src walks them so: newGenByContract).
		if last == nil || !bytes.Equal(g.con.v3JSON, last.v3JSON) {
			if last != nil {
				dst = append(dst, "]},"...)
			}
			dst = append(dst, `{"contract":`...)
			dst = append(dst, g.con.v3JSON...)
			dst = append(dst, `},"data":[`...)
		} else {
			dst = append(dst, ',')
		}
		return appendV3DataRow(dst, g, cols)
	case fmtV2Flat:
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		return append(appendV2Values(dst, g, cols), ']')
	case fmtV2CSV:
		dst = append(dst, g.con.v2CSV...)
		return append(appendV2Values(dst, g, cols), '\n')
	case fmtV2JSON:
		if g.con != last {
			if last != nil {
				dst = append(dst, last.v2Contract...)
				dst = append(dst, ',')
			}
			dst = append(dst, `{"ticks":[[`...)
		} else {
			dst = append(dst, ',', '[')
		}
		return append(appendV2Values(dst, g, cols), ']')
	}
	return dst
}

// reset drops the connection without finishing the body, as a TCP reset
// where possible.
func (s *Sim) reset(rc *http.ResponseController) {
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// page is a waiting v2 continuation.
type page struct {
	req       *histReq
	offset    int64
	csv       bool
	flat      bool // a per-contract /v2/hist answer: bare tick arrays
	rowsSoFar int64
	created   time.Time
}
