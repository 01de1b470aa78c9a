package terminalsim

import (
	"math"
	"sort"
	"strconv"

	"github.com/spx-archive/spx/pkg/spx"
)

// col is one column of a dataset as served: its v2 format name, its v3
// column name ("" when that generation does not serve it), its decimals
// (values are fixed-point integers) and whether it is a time of day, and
// how v3 writes it.
type col struct {
	v2, v3 string
	dec    int
	time   timeKind
}

// timeKind says whether a column is a time of day and how v3 writes it.
type timeKind uint8

const (
	timeNone   timeKind = iota
	timeStamp           // whole seconds, a fraction only when there is one (appendStamp)
	timeMillis          // always milliseconds (appendISO): eod's created and last_trade
)

// specs are the served column lists, THETADATA.md verbatim. v2 adds a
// trailing `date` column to every list.
var specs = map[spx.Dataset][]col{
	spx.Greeks: {
		{"ms_of_day", "timestamp", 0, timeStamp}, {"bid", "bid", 2, timeNone}, {"ask", "ask", 2, timeNone},
		{"delta", "delta", 4, timeNone}, {"theta", "theta", 4, timeNone}, {"vega", "vega", 4, timeNone},
		{"rho", "rho", 4, timeNone}, {"epsilon", "epsilon", 4, timeNone}, {"lambda", "lambda", 4, timeNone},
		{"implied_vol", "implied_vol", 4, timeNone}, {"iv_error", "iv_error", 4, timeNone},
		{"ms_of_day2", "underlying_timestamp", 0, timeStamp}, {"underlying_price", "underlying_price", 2, timeNone},
	},
	spx.Quote: {
		{"ms_of_day", "timestamp", 0, timeStamp}, {"bid_size", "bid_size", 0, timeNone}, {"bid_exchange", "bid_exchange", 0, timeNone},
		{"bid", "bid", 2, timeNone}, {"bid_condition", "bid_condition", 0, timeNone}, {"ask_size", "ask_size", 0, timeNone},
		{"ask_exchange", "ask_exchange", 0, timeNone}, {"ask", "ask", 2, timeNone}, {"ask_condition", "ask_condition", 0, timeNone},
	},
	spx.OHLC: {
		{"ms_of_day", "timestamp", 0, timeStamp}, {"open", "open", 2, timeNone}, {"high", "high", 2, timeNone},
		{"low", "low", 2, timeNone}, {"close", "close", 2, timeNone}, {"volume", "volume", 0, timeNone},
		{"count", "count", 0, timeNone}, {"", "vwap", 2, timeNone},
	},
	spx.EOD: {
		{"ms_of_day", "created", 0, timeMillis}, {"ms_of_day2", "last_trade", 0, timeMillis},
		{"open", "open", 2, timeNone}, {"high", "high", 2, timeNone}, {"low", "low", 2, timeNone}, {"close", "close", 2, timeNone},
		{"volume", "volume", 0, timeNone}, {"count", "count", 0, timeNone},
		{"bid_size", "bid_size", 0, timeNone}, {"bid_exchange", "bid_exchange", 0, timeNone}, {"bid", "bid", 2, timeNone},
		{"bid_condition", "bid_condition", 0, timeNone}, {"ask_size", "ask_size", 0, timeNone},
		{"ask_exchange", "ask_exchange", 0, timeNone}, {"ask", "ask", 2, timeNone}, {"ask_condition", "ask_condition", 0, timeNone},
	},
	spx.OpenInterest: {
		{"ms_of_day", "timestamp", 0, timeStamp}, {"open_interest", "open_interest", 0, timeNone},
	},
}

// V2Format returns the v2 `header.format` list of ds (including the
// trailing `date`).
func V2Format(ds spx.Dataset) []string {
	var out []string
	for _, c := range specs[ds] {
		if c.v2 != "" {
			out = append(out, c.v2)
		}
	}
	return append(out, "date")
}

// V3Columns returns the v3 CSV header of ds.
func V3Columns(ds spx.Dataset) []string {
	out := []string{"symbol", "expiration", "strike", "right"}
	for _, c := range specs[ds] {
		if c.v3 != "" {
			out = append(out, c.v3)
		}
	}
	return out
}

// histReq is a parsed history request, the same for both generations.
type histReq struct {
	ds       spx.Dataset
	root     string
	from, to spx.Date
	exp      spx.Date // 0 with allExp
	allExp   bool
	ivl      int32 // ms; intraday datasets
	startMs  int32
	endMs    int32
	right    byte    // 0 both, 'C' or 'P'
	strike   float64 // dollars; 0 any
	// With hasMaxDTE, maxDTE keeps expirations at most this many calendar
	// days after the trade date; strikeRange keeps that many strikes on each
	// side of the day's opening index level, plus one equal to it (0: all).
	hasMaxDTE   bool
	maxDTE      int
	strikeRange int
	// atTime: an at_time request, one stamp a day (startMs = endMs), not
	// a job's history.
	atTime bool
}

// contract is one option contract of a segment with its per-day constants.
type contract struct {
	k, lnK, sigma float64
	tenths        int64 // strike in tenths of a cent
	call          bool
	h             uint64
	placeholder   bool
	tradeP        float64

	v3CSV, v3JSON, v2CSV, v2Contract []byte
}

// segment is one (trade date, expiration) of a request. Sizing a request
// needs only its stamps and strikes; the per-contract constants and the
// per-stamp market values are built when the generator reaches the
// segment and dropped when it leaves, so a request over many days and
// expirations holds one segment's tables at a time.
type segment struct {
	m         *market
	req       *histReq
	root      string
	date, exp spx.Date
	day       *day
	intraday  bool
	dateInt   int64
	stamps    []int32
	strikes   []float64
	nCons     int

	// Built by build, dropped by release.
	cons     []contract
	s, lnS   []float64
	t, sqrtT []float64
	disc     []float64
	ts       [][]byte // v3 ISO timestamps of the stamps
}

func (g *segment) rows() int64 { return int64(g.nCons) * int64(len(g.stamps)) }

// stampsFor lists the stamps of an intraday request on a session.
func stampsFor(dd *day, r *histReq) []int32 {
	end := min(r.endMs, dd.session.CloseMsOfDay())
	if r.ivl <= 0 || r.startMs > end {
		return nil
	}
	out := make([]int32, 0, (end-r.startMs)/r.ivl+1)
	for ms := r.startMs; ms <= end; ms += r.ivl {
		out = append(out, ms)
	}
	return out
}

// segmentsFor lists the segments of a request. It never generates rows,
// so it is cheap enough to size a request before answering.
func (m *market) segmentsFor(r *histReq) []*segment {
	var segs []*segment
	for t := r.from; t <= r.to; t++ {
		if r.ds == spx.Greeks && t < greeksStart {
			continue
		}
		dd := m.dayOf(t)
		if dd == nil {
			continue
		}
		var exps []spx.Date
		if r.allExp {
			exps = m.expirations(r.root, t)
		} else if m.alive(r.root, t, r.exp) {
			exps = []spx.Date{r.exp}
		}
		for _, e := range exps {
			if r.hasMaxDTE && int(e-t) > r.maxDTE {
				continue
			}
			if g := m.segment(dd, r, e); g != nil {
				segs = append(segs, g)
			}
		}
	}
	return segs
}

// inStrikeRange keeps n strikes below spot, n above and one equal to it
// (all with n 0); ks is ascending.
func inStrikeRange(ks []float64, spot float64, n int) []float64 {
	if n <= 0 {
		return ks
	}
	lo := sort.SearchFloat64s(ks, spot) // first >= spot
	hi := lo
	if hi < len(ks) && ks[hi] == spot {
		hi++
	}
	return ks[max(0, lo-n):min(len(ks), hi+n)]
}

func (m *market) segment(dd *day, r *histReq, exp spx.Date) *segment {
	g := &segment{m: m, req: r, root: r.root, date: dd.date, exp: exp, day: dd, intraday: r.ds.Intraday(), dateInt: int64(dd.date.Int())}
	switch {
	case r.atTime:
		g.stamps = []int32{atTimeStamp(dd, r)}
	case g.intraday:
		g.stamps = stampsFor(dd, r)
	default:
		g.stamps = []int32{dd.session.CloseMsOfDay()}
	}
	for _, k := range inStrikeRange(m.strikes(dd, exp), dd.path[0], r.strikeRange) {
		if r.strike == 0 || math.Abs(k-r.strike) < 1e-6 {
			g.strikes = append(g.strikes, k)
		}
	}
	g.nCons = len(g.strikes) * 2
	if r.right != 0 {
		g.nCons = len(g.strikes)
	}
	if g.rows() == 0 {
		return nil
	}
	return g
}

// build computes the segment's contracts and per-stamp values.
func (g *segment) build() {
	dd, r, exp := g.day, g.req, g.exp
	n := len(g.stamps)
	g.s, g.lnS, g.t, g.sqrtT, g.disc = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	g.ts = make([][]byte, n)
	for i, ms := range g.stamps {
		g.s[i] = dd.levelAt(ms)
		g.lnS[i] = math.Log(g.s[i])
		g.t[i] = yearsTo(r.root, dd.date, ms, exp)
		g.sqrtT[i] = math.Sqrt(g.t[i])
		g.disc[i] = math.Exp(-dd.rate * g.t[i])
		g.ts[i] = appendStamp(nil, dd.date, ms)
	}
	s0 := dd.path[0]
	t0 := yearsTo(r.root, dd.date, msOpen, exp)
	g.cons = make([]contract, 0, g.nCons)
	for _, k := range g.strikes {
		for _, right := range []byte{'C', 'P'} {
			if r.right != 0 && r.right != right {
				continue
			}
			c := contract{k: k, lnK: math.Log(k), tenths: int64(math.Round(k * 1000)), call: right == 'C'}
			c.sigma = volOf(dd.atmVol, s0, k, t0)
			c.h = contractHash(g.m.seed, dd.date, exp, c.tenths, right, r.root)
			c.placeholder = unit(mix(c.h)) < 0.03
			c.tradeP = tradeP(k, s0)
			c.v3CSV, c.v3JSON, c.v2CSV, c.v2Contract = contractPrefixes(r.root, exp, c.tenths, right)
			g.cons = append(g.cons, c)
		}
	}
}

// release drops what build made.
func (g *segment) release() {
	g.cons, g.s, g.lnS, g.t, g.sqrtT, g.disc, g.ts = nil, nil, nil, nil, nil, nil, nil
}

func contractPrefixes(root string, exp spx.Date, tenths int64, right byte) (v3CSV, v3JSON, v2CSV, v2Contract []byte) {
	strike := appendFixed(nil, tenths, 3, false)
	rightWord := "PUT"
	if right == 'C' {
		rightWord = "CALL"
	}
	expS := exp.String()
	v3CSV = append(v3CSV, root...)
	v3CSV = append(v3CSV, ',')
	v3CSV = append(v3CSV, expS...)
	v3CSV = append(v3CSV, ',')
	v3CSV = append(v3CSV, strike...)
	v3CSV = append(v3CSV, ',')
	v3CSV = append(v3CSV, rightWord...)
	v3CSV = append(v3CSV, ',')

	v3JSON = append(v3JSON, `{"symbol":"`...)
	v3JSON = append(v3JSON, root...)
	v3JSON = append(v3JSON, `","expiration":"`...)
	v3JSON = append(v3JSON, expS...)
	v3JSON = append(v3JSON, `","strike":`...)
	v3JSON = append(v3JSON, strike...)
	v3JSON = append(v3JSON, `,"right":"`...)
	v3JSON = append(v3JSON, rightWord...)
	v3JSON = append(v3JSON, `"`...)

	expI := strconv.AppendInt(nil, int64(exp.Int()), 10)
	tenthsS := strconv.AppendInt(nil, tenths, 10)
	v2CSV = append(v2CSV, root...)
	v2CSV = append(v2CSV, ',')
	v2CSV = append(v2CSV, expI...)
	v2CSV = append(v2CSV, ',')
	v2CSV = append(v2CSV, tenthsS...)
	v2CSV = append(v2CSV, ',', right, ',')

	v2Contract = append(v2Contract, `],"contract":{"root":"`...)
	v2Contract = append(v2Contract, root...)
	v2Contract = append(v2Contract, `","expiration":`...)
	v2Contract = append(v2Contract, expI...)
	v2Contract = append(v2Contract, `,"strike":`...)
	v2Contract = append(v2Contract, tenthsS...)
	v2Contract = append(v2Contract, `,"right":"`...)
	v2Contract = append(v2Contract, right, '"', '}', '}')
	return
}

func totalRows(segs []*segment) int64 {
	var n int64
	for _, g := range segs {
		n += g.rows()
	}
	return n
}

// gen walks the rows of a list of segments in order (segment, contract,
// stamp), computing each row's values on demand.
type gen struct {
	ds   spx.Dataset
	segs []*segment

	si, ci, ti int // position of the next row

	// The current row.
	seg   *segment
	con   *contract
	stamp int
	vals  [16]int64
}

func newGen(ds spx.Dataset, segs []*segment) *gen { return &gen{ds: ds, segs: segs} }

// cur is the current row (rowSource).
func (g *gen) cur() *gen { return g }

// seek positions the generator so the next row is row off (0-based).
func (g *gen) seek(off int64) {
	g.si, g.ci, g.ti = 0, 0, 0
	for g.si < len(g.segs) {
		n := g.segs[g.si].rows()
		if off < n {
			st := int64(len(g.segs[g.si].stamps))
			g.ci, g.ti = int(off/st), int(off%st)
			return
		}
		off -= n
		g.si++
	}
}

// next advances to the next row and computes its values.
func (g *gen) next() bool {
	for g.si < len(g.segs) {
		s := g.segs[g.si]
		if g.ci >= s.nCons {
			s.release()
			g.si, g.ci, g.ti = g.si+1, 0, 0
			continue
		}
		if s.cons == nil {
			s.build()
		}
		if g.ti >= len(s.stamps) {
			g.ci, g.ti = g.ci+1, 0
			continue
		}
		g.seg, g.con, g.stamp = s, &s.cons[g.ci], g.ti
		g.ti++
		g.values()
		return true
	}
	return false
}

// values computes the current row's values.
func (g *gen) values() {
	switch g.ds {
	case spx.Greeks:
		g.greeks()
	case spx.Quote:
		g.quote()
	case spx.OHLC:
		g.ohlc()
	case spx.EOD:
		g.eod()
	case spx.OpenInterest:
		g.openInterest()
	case dsTrade:
		g.trade()
	}
}

const invSqrt2Pi = 0.3989422804014327

// bs prices a European option (Black–Scholes, no dividend) and returns
// the price with N(d1), N(d2) and φ(d1). The normal CDF is Abramowitz &
// Stegun 26.2.17 (error below 1e-7), which reuses φ: with φ(d2) =
// φ(d1)·S/(K·e^{-rT}) the whole row costs one exp.
func bs(call bool, s, lnS, k, lnK, t, sqrtT, disc, r, sig float64) (price, nd1, nd2, pdf float64) {
	sv := sig * sqrtT
	d1 := (lnS - lnK + (r+0.5*sig*sig)*t) / sv
	d2 := d1 - sv
	pdf = math.Exp(-0.5*d1*d1) * invSqrt2Pi
	kd := k * disc
	nd1 = ncdf(d1, pdf)
	nd2 = ncdf(d2, pdf*s/kd)
	price = s*nd1 - kd*nd2
	if !call {
		price += kd - s
	}
	return max(price, 0), nd1, nd2, pdf
}

// ncdf is N(x) given φ(x).
func ncdf(x, phi float64) float64 {
	ax := math.Abs(x)
	if ax > 37 {
		phi = 0
	}
	t := 1 / (1 + 0.2316419*ax)
	q := phi * t * (0.319381530 + t*(-0.356563782+t*(1.781477937+t*(-1.821255978+t*1.330274429))))
	if x >= 0 {
		return 1 - q
	}
	return q
}

func (g *gen) price(i int) float64 {
	s, c := g.seg, g.con
	p, _, _, _ := bs(c.call, s.s[i], s.lnS[i], c.k, c.lnK, s.t[i], s.sqrtT[i], s.disc[i], s.day.rate, c.sigma)
	return p
}

// quoteCents turns a fair price into a bid/ask in cents around it: ticks
// of 0.05 below $3 and 0.10 above, bid <= price <= ask.
func quoteCents(p float64) (bid, ask int64) {
	pc := p * 100
	tick := int64(5)
	if pc >= 300 {
		tick = 10
	}
	w := tick + int64(pc*0.01)/tick*tick
	b := int64(math.Floor((pc-float64(w)/2)/float64(tick))) * tick
	a := int64(math.Ceil((pc+float64(w)/2)/float64(tick))) * tick
	if a > 300 && a%10 != 0 {
		a += 5
	}
	return max(b, 0), a
}

// roundTick rounds a price to its tick, in cents.
func roundTick(p float64) int64 {
	pc := p * 100
	if pc >= 300 {
		return int64(math.Round(pc/10)) * 10
	}
	return int64(math.Round(pc/5)) * 5
}

func fx(v float64, scale float64) int64 {
	if v < 0 {
		return int64(v*scale - 0.5)
	}
	return int64(v*scale + 0.5)
}

func (g *gen) placeholderRow() bool {
	return g.con.placeholder && g.stamp == 0 && g.seg.stamps[0] == msOpen
}

func (g *gen) greeks() {
	s, c, i := g.seg, g.con, g.stamp
	v := &g.vals
	ms := int64(s.stamps[i])
	S := s.s[i]
	v[0], v[11], v[12] = ms, ms, fx(S, 100)
	if g.placeholderRow() {
		for j := 1; j <= 8; j++ {
			v[j] = 0
		}
		v[9], v[10] = 2500, 1000000
		return
	}
	r, sig, T, sqrtT, disc := s.day.rate, c.sigma, s.t[i], s.sqrtT[i], s.disc[i]
	p, nd1, nd2, pdf := bs(c.call, S, s.lnS[i], c.k, c.lnK, T, sqrtT, disc, r, sig)
	v[1], v[2] = quoteCents(p)
	common := -S * pdf * sig / (2 * sqrtT)
	var delta, theta, rho, eps float64
	if c.call {
		delta = nd1
		theta = (common - r*c.k*disc*nd2) / 365
		rho = c.k * T * disc * nd2 / 100
		eps = -S * T * nd1 / 100
	} else {
		delta = nd1 - 1
		theta = (common + r*c.k*disc*(1-nd2)) / 365
		rho = -c.k * T * disc * (1 - nd2) / 100
		eps = S * T * (1 - nd1) / 100
	}
	v[3] = fx(delta, 1e4)
	v[4] = fx(theta, 1e4)
	v[5] = fx(S*pdf*sqrtT/100, 1e4)
	v[6] = fx(rho, 1e4)
	v[7] = fx(eps, 1e4)
	v[8] = fx(delta*S/max(p, 0.01), 1e4)
	v[9] = fx(sig, 1e4)
	v[10] = 0
}

func (g *gen) quote() {
	s, c, i := g.seg, g.con, g.stamp
	v := &g.vals
	v[0] = int64(s.stamps[i])
	h := mix(c.h + uint64(i))
	if g.placeholderRow() {
		v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8] = 0, 0, 0, 0, 0, 0, 0, 0
		return
	}
	v[3], v[7] = quoteCents(g.price(i))
	v[1] = int64(1 + h%150)
	v[5] = int64(1 + (h>>16)%150)
	v[2], v[6] = 5, 5
	v[4], v[8] = 50, 50
}

func (g *gen) ohlc() {
	s, c, i := g.seg, g.con, g.stamp
	v := &g.vals
	v[0] = int64(s.stamps[i])
	h, trades := c.minuteTrades(i)
	if !trades {
		v[1], v[2], v[3], v[4], v[5], v[6], v[7] = 0, 0, 0, 0, 0, 0, 0
		return
	}
	// A trade happens at a price of at least one tick.
	cl := max(roundTick(g.price(i)), 5)
	op := cl
	if i > 0 {
		op = max(roundTick(g.price(i-1)), 5)
	}
	tick := int64(5)
	if max(op, cl) >= 300 {
		tick = 10
	}
	hi := max(op, cl) + int64(h>>8&1)*tick
	lo := max(min(op, cl)-int64(h>>9&1)*tick, 5)
	vol := minuteVolume(h)
	v[1], v[2], v[3], v[4] = op, hi, lo, cl
	v[5], v[6] = vol, 1+vol/5
	v[7] = (op + hi + lo + cl + 2) / 4
}

func (g *gen) eod() {
	s, c := g.seg, g.con
	dd := s.day
	v := &g.vals
	closeMs := dd.session.CloseMsOfDay()
	price := func(S float64, ms int32) float64 {
		T := yearsTo(s.root, s.date, ms, s.exp)
		p, _, _, _ := bs(c.call, S, math.Log(S), c.k, c.lnK, T, math.Sqrt(T), math.Exp(-dd.rate*T), dd.rate, c.sigma)
		return p
	}
	pClose := price(dd.path[len(dd.path)-1], closeMs)
	op, cl := roundTick(price(dd.path[0], msOpen)), roundTick(pClose)
	a, b := roundTick(price(dd.hi, closeMs)), roundTick(price(dd.lo, closeMs))
	v[0] = int64(closeMs) + 75*msMinute + int64(c.h%1000)
	v[1] = int64(closeMs) - int64(c.h>>10%300)*1000
	v[2], v[5] = op, cl
	v[3] = max(op, cl, a, b)
	v[4] = min(op, cl, a, b)
	vol := int64(1 + (c.h>>20)%uint64(1+3000*c.tradeP))
	v[6], v[7] = vol, 1+vol/4
	v[8], v[12] = int64(1+(c.h>>30)%150), int64(1+(c.h>>40)%150)
	v[9], v[13] = 5, 5
	v[10], v[14] = quoteCents(pClose)
	v[11], v[15] = 50, 50
}

func (g *gen) openInterest() {
	s, c := g.seg, g.con
	v := &g.vals
	// Reported once a day around 06:30, in whole seconds as the spec's
	// example (2024-11-04T06:30:04).
	v[0] = 6*3600*1000 + 30*60*1000 + int64(c.h%60)*1000
	m := math.Log(c.k / s.day.path[0])
	v[1] = int64(20000*math.Exp(-40*m*m)) + int64(c.h>>7%500)
}
