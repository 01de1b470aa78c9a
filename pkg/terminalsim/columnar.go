package terminalsim

import (
	"net/http"
	"strconv"

	"github.com/spx-archive/spx/pkg/spx"
)

// JSON answer shapes of v3 format=json (Config.JSONShape).
const (
	// JSONSpec is the shape of the v3 OpenAPI file's application/json
	// examples and of captures of a real v3 terminal (Jetty 12, 2026-01,
	// cited by spx issue 22): {"response":[row, …]} for lists and
	// {"response":[{"contract":{…},"data":[row, …]}, …]} for history, one
	// element per contract over all the days asked for. The default.
	JSONSpec = "spec"
	// JSONColumnar is {"symbol":[…],"expiration":[…],…}: one array per
	// column, as two third-party clients describe a v3 terminal's answer
	// (Lumiwealth/lumibot lumibot/tools/thetadata_helper.py
	// _convert_columnar_to_row_format; trade4ticks/Thetadata_Raw_SPX
	// lib/client.py _parse_rows), perhaps through a downloader of their
	// own. An option, for such clients.
	JSONColumnar = "columnar"
)

// streamColumnar answers a history request as one JSON array per column.
// A column's values are generated again for each column, so the answer is
// never held in memory (at the cost of generating it once per column);
// body faults are not applied to this shape.
func (s *Sim) streamColumnar(w http.ResponseWriter, r *http.Request, ds spx.Dataset, segs []*segment, total int64) streamed {
	f, _, _ := s.currentFaults()
	if !sleepCtx(r.Context(), f.Latency) {
		return streamed{}
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	o := newOut(w, func() { _ = rc.Flush() })
	cols := specs[ds]
	o.buf = append(o.buf, '{')
	first := true
	emit := func(name string, val func(g *gen) []byte) {
		if !first {
			o.buf = append(o.buf, ',')
		}
		first = false
		o.buf = strconv.AppendQuote(o.buf, name)
		o.buf = append(o.buf, ':', '[')
		g := newGen(ds, segs)
		for n := int64(0); n < total && g.next(); n++ {
			if n > 0 {
				o.buf = append(o.buf, ',')
			}
			o.buf = append(o.buf, val(g)...)
			o.maybeSend()
		}
		o.buf = append(o.buf, ']')
	}
	var tmp []byte
	emit("symbol", func(g *gen) []byte { return strconv.AppendQuote(tmp[:0], g.seg.root) })
	emit("expiration", func(g *gen) []byte { return strconv.AppendQuote(tmp[:0], g.seg.exp.String()) })
	emit("strike", func(g *gen) []byte { return appendFixed(tmp[:0], g.con.tenths, 3, false) })
	emit("right", func(g *gen) []byte {
		if g.con.call {
			return append(tmp[:0], `"CALL"`...)
		}
		return append(tmp[:0], `"PUT"`...)
	})
	for j := range cols {
		c := &cols[j]
		if c.v3 == "" {
			continue
		}
		emit(c.v3, func(g *gen) []byte { return appendV3Value(tmp[:0], g, c, j, true) })
	}
	o.buf = append(o.buf, '}')
	o.send()
	if o.err != nil {
		return streamed{}
	}
	s.addRows(total)
	return streamed{rows: total, complete: true}
}
