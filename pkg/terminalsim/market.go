package terminalsim

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

// The synthetic market starts here: no expiration is quoted before it.
var marketStart = spx.NewDate(2012, time.January, 3)

// Index-option greeks history starts here (THETADATA.md).
var greeksStart = spx.NewDate(2020, time.January, 1)

const (
	msOpen    = 9*3600*1000 + 30*60*1000 // 09:30:00.000
	msMinute  = 60 * 1000
	yearMs    = 365 * 24 * 3600 * 1000.0
	maxListed = 1830 // days: the farthest LEAPS listing horizon
)

// splitmix64 step: a fast, well-mixed hash used for every random choice so
// the market is a pure function of (seed, inputs).
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hash(vals ...uint64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, v := range vals {
		h = mix(h ^ v)
	}
	return h
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

type rng struct{ s uint64 }

func (r *rng) next() uint64 { r.s += 0x9e3779b97f4a7c15; return mix(r.s) }
func (r *rng) float() float64 {
	return unit(r.next())
}
func (r *rng) norm() float64 {
	u1 := r.float()
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*r.float())
}

// anchors are index levels near real history; the market interpolates
// between them geometrically and adds seeded noise.
var anchors = []struct {
	d     spx.Date
	level float64
}{
	{spx.NewDate(2012, 1, 1), 1260},
	{spx.NewDate(2014, 1, 1), 1830},
	{spx.NewDate(2016, 1, 1), 2040},
	{spx.NewDate(2018, 1, 1), 2690},
	{spx.NewDate(2020, 1, 1), 3230},
	{spx.NewDate(2021, 1, 1), 3750},
	{spx.NewDate(2022, 1, 1), 4770},
	{spx.NewDate(2023, 1, 1), 3840},
	{spx.NewDate(2024, 1, 1), 4750},
	{spx.NewDate(2025, 1, 1), 5880},
	{spx.NewDate(2026, 1, 1), 6500},
	{spx.NewDate(2031, 1, 1), 8000},
}

func anchorLevel(d spx.Date) float64 {
	if d <= anchors[0].d {
		return anchors[0].level
	}
	for i := 1; i < len(anchors); i++ {
		a, b := anchors[i-1], anchors[i]
		if d <= b.d {
			f := float64(d-a.d) / float64(b.d-a.d)
			return math.Exp(math.Log(a.level)*(1-f) + math.Log(b.level)*f)
		}
	}
	return anchors[len(anchors)-1].level
}

// rateOf is a risk-free rate per year, roughly like history.
func rateOf(d spx.Date) float64 {
	switch y := d.Year(); {
	case y <= 2015:
		return 0.002
	case y <= 2019:
		return 0.015
	case y == 2020:
		return 0.005
	case y == 2021:
		return 0.001
	case y == 2022:
		return 0.02
	case y == 2023:
		return 0.05
	case y == 2024:
		return 0.053
	default:
		return 0.043
	}
}

// day is one session of the synthetic market.
type day struct {
	date    spx.Date
	session calendar.Session
	stamps  int       // 1-minute stamps from 09:30 to the close, inclusive
	path    []float64 // index level at each minute stamp
	hi, lo  float64
	atmVol  float64
	rate    float64
}

// market is the deterministic synthetic market for one seed.
type market struct {
	seed       uint64
	maxExp     int
	maxStrikes int

	mu      sync.Mutex
	days    map[spx.Date]*day
	expsFor map[expKey][]spx.Date
}

type expKey struct {
	root string
	date spx.Date
}

func newMarket(seed int64, maxExp, maxStrikes int) *market {
	return &market{
		seed:       uint64(seed),
		maxExp:     maxExp,
		maxStrikes: maxStrikes,
		days:       map[spx.Date]*day{},
		expsFor:    map[expKey][]spx.Date{},
	}
}

// openLevel is the index at 09:30 on d: the anchor path with seeded,
// slowly varying noise plus a daily jitter.
func (m *market) openLevel(d spx.Date) float64 {
	p1 := unit(hash(m.seed, 1)) * 2 * math.Pi
	p2 := unit(hash(m.seed, 2)) * 2 * math.Pi
	x := float64(d)
	noise := 0.04*math.Sin(2*math.Pi*x/97+p1) + 0.025*math.Sin(2*math.Pi*x/29+p2) + 0.006*(unit(hash(m.seed, 3, uint64(d)))*2-1)
	return anchorLevel(d) * math.Exp(noise)
}

// dayOf returns the session's market; nil when d is not a session.
func (m *market) dayOf(d spx.Date) *day {
	m.mu.Lock()
	if dd, ok := m.days[d]; ok {
		m.mu.Unlock()
		return dd
	}
	m.mu.Unlock()
	s, ok := calendar.SessionOf(d)
	if !ok {
		return nil
	}
	n := int(s.CloseMsOfDay()-msOpen)/msMinute + 1
	dd := &day{date: d, session: s, stamps: n, path: make([]float64, n), rate: rateOf(d)}
	dd.atmVol = 0.11 + 0.12*unit(hash(m.seed, 4, uint64(d)))
	r := rng{s: hash(m.seed, 5, uint64(d))}
	sig := dd.atmVol * 0.8 / math.Sqrt(252*390)
	lvl := m.openLevel(d)
	dd.hi, dd.lo = lvl, lvl
	for i := range dd.path {
		if i > 0 {
			lvl *= math.Exp(sig * r.norm())
		}
		lvl = math.Round(lvl*100) / 100
		dd.path[i] = lvl
		dd.hi = max(dd.hi, lvl)
		dd.lo = min(dd.lo, lvl)
	}
	m.mu.Lock()
	if len(m.days) > 4096 {
		clear(m.days)
	}
	m.days[d] = dd
	m.mu.Unlock()
	return dd
}

// levelAt is the index at ms of day (linear between minute stamps).
func (dd *day) levelAt(ms int32) float64 {
	x := float64(ms-msOpen) / msMinute
	if x <= 0 {
		return dd.path[0]
	}
	i := int(x)
	if i >= len(dd.path)-1 {
		return dd.path[len(dd.path)-1]
	}
	f := x - float64(i)
	return dd.path[i]*(1-f) + dd.path[i+1]*f
}

func thirdFriday(y int, mo time.Month) spx.Date {
	first := spx.NewDate(y, mo, 1)
	off := (int(time.Friday) - int(first.Weekday()) + 7) % 7
	return first.AddDays(off + 14)
}

func lastWeekday(y int, mo time.Month) spx.Date {
	d := spx.NewDate(y, mo+1, 1).AddDays(-1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d--
	}
	return d
}

var (
	monWedStart = spx.NewDate(2016, 1, 1)
	tueStart    = spx.NewDate(2022, 4, 18)
	thuStart    = spx.NewDate(2022, 5, 11)
)

// horizon returns how many days before a nominal expiration date n the
// root lists it (0: n is not an expiration of root).
func horizon(root string, n spx.Date) int {
	y, mo, _ := n.YMD()
	wd := n.Weekday()
	quarterly := mo%3 == 0
	switch root {
	case "SPX":
		if n != thirdFriday(y, mo) {
			return 0
		}
		switch {
		case mo == time.December:
			return maxListed
		case quarterly:
			return 730
		}
		return 365
	case "SPXW":
		h := 0
		switch {
		case wd == time.Friday && n == thirdFriday(y, mo):
			h = 365
		case wd == time.Friday:
			h = 63
		case (wd == time.Monday || wd == time.Wednesday) && n >= monWedStart:
			h = 42
		case wd == time.Tuesday && n >= tueStart:
			h = 42
		case wd == time.Thursday && n >= thuStart:
			h = 42
		}
		if n == lastWeekday(y, mo) && n >= spx.NewDate(2014, 1, 1) {
			if quarterly {
				h = max(h, 730)
			} else {
				h = max(h, 365)
			}
		}
		return h
	}
	return 0
}

// shift moves a nominal expiration that falls on a holiday to the previous
// session.
func shift(n spx.Date) spx.Date {
	for i := 0; i < 10 && !calendar.IsSession(n); i++ {
		n--
	}
	return n
}

// aliveOn reports whether an expiration (nominal n, listing horizon h,
// actual date e) is quoted on trade date t.
func aliveOn(root string, n spx.Date, h int, e, t spx.Date) bool {
	if t < marketStart || t < n.AddDays(-h) {
		return false
	}
	if root == "SPX" { // AM-settled: the last trading day is the session before
		return t < e
	}
	return t <= e
}

// expirations lists the expirations of root quoted on trade date t, nearest
// first, limited to maxExp.
func (m *market) expirations(root string, t spx.Date) []spx.Date {
	if !calendar.IsSession(t) || t < marketStart || (root != "SPX" && root != "SPXW") {
		return nil
	}
	k := expKey{root, t}
	m.mu.Lock()
	if v, ok := m.expsFor[k]; ok {
		m.mu.Unlock()
		return v
	}
	m.mu.Unlock()
	var out []spx.Date
	for n := t; n <= t.AddDays(maxListed); n++ {
		h := horizon(root, n)
		if h == 0 {
			continue
		}
		e := shift(n)
		if !aliveOn(root, n, h, e, t) {
			continue
		}
		if len(out) > 0 && out[len(out)-1] == e {
			continue
		}
		out = append(out, e)
	}
	if m.maxExp > 0 && len(out) > m.maxExp {
		out = out[:m.maxExp]
	}
	m.mu.Lock()
	if len(m.expsFor) > 8192 {
		clear(m.expsFor)
	}
	m.expsFor[k] = out
	m.mu.Unlock()
	return out
}

// alive reports whether exp is quoted on t.
func (m *market) alive(root string, t, exp spx.Date) bool {
	for _, e := range m.expirations(root, t) {
		if e == exp {
			return true
		}
		if e > exp {
			break
		}
	}
	return false
}

// allExpirations lists every expiration of root listed on or before
// through (the terminal's "every expiration ever listed").
func (m *market) allExpirations(root string, through spx.Date) []spx.Date {
	var out []spx.Date
	for n := marketStart; n <= through.AddDays(maxListed); n++ {
		h := horizon(root, n)
		if h == 0 || n.AddDays(-h) > through {
			continue
		}
		e := shift(n)
		if len(out) > 0 && out[len(out)-1] == e {
			continue
		}
		out = append(out, e)
	}
	return out
}

// tradeDates lists the sessions on which exp is quoted, up to through.
func (m *market) tradeDates(root string, exp, through spx.Date) []spx.Date {
	from := exp.AddDays(-maxListed - 10)
	if m.maxExp == 0 {
		// Without the MaxExpirations cut the listing rule answers directly.
		var ok bool
		if from, ok = listedFrom(root, exp); !ok {
			return nil
		}
	}
	from = max(from, marketStart)
	to := min(exp, through)
	var out []spx.Date
	for t := from; t <= to; t++ {
		if !calendar.IsSession(t) || (root == "SPX" && t >= exp) {
			continue
		}
		if m.maxExp == 0 || m.alive(root, t, exp) {
			out = append(out, t)
		}
	}
	return out
}

// listedFrom is the first day an actual expiration date is quoted: the
// earliest listing among the nominal dates that shift onto it.
func listedFrom(root string, exp spx.Date) (from spx.Date, ok bool) {
	for n := exp; n <= exp.AddDays(10); n++ {
		if n > exp && calendar.IsSession(n) {
			break
		}
		if h := horizon(root, n); h > 0 && shift(n) == exp {
			if f := n.AddDays(-h); !ok || f < from {
				from, ok = f, true
			}
		}
	}
	return from, ok
}

type band struct{ frac, step float64 }

// strikeBands is the strike grid by days to expiration: every 5 points near
// the money, wider far away and for distant expiries.
func strikeBands(dte int) []band {
	switch {
	case dte <= 14:
		return []band{{0.07, 5}, {0.15, 25}, {0.30, 50}, {0.45, 100}}
	case dte <= 60:
		return []band{{0.03, 5}, {0.10, 25}, {0.25, 50}, {0.40, 100}}
	case dte <= 365:
		return []band{{0.015, 5}, {0.06, 25}, {0.20, 50}, {0.50, 100}}
	}
	return []band{{0.05, 25}, {0.20, 50}, {0.50, 100}}
}

// strikes lists the strikes (dollars, ascending) of exp on trade date t,
// given the day's opening level.
func (m *market) strikes(dd *day, exp spx.Date) []float64 {
	s := dd.path[0]
	bands := strikeBands(int(exp - dd.date))
	wide := bands[len(bands)-1].frac
	lo := math.Floor(s*(1-wide)/5) * 5
	hi := s * (1 + wide)
	var out []float64
	for k := lo; k <= hi; k += 5 {
		if k <= 0 {
			continue
		}
		dist := math.Abs(k-s) / s
		for _, b := range bands {
			if dist <= b.frac {
				if math.Mod(k, b.step) == 0 {
					out = append(out, k)
				}
				break
			}
		}
	}
	if m.maxStrikes > 0 && len(out) > m.maxStrikes {
		sort.SliceStable(out, func(i, j int) bool { return math.Abs(out[i]-s) < math.Abs(out[j]-s) })
		out = out[:m.maxStrikes]
		sort.Float64s(out)
	}
	return out
}

// settleMs is the expiration's settlement time as ms of its day: SPX
// monthlies settle at the open, SPXW at the close.
func settleMs(root string, exp spx.Date) int32 {
	if root == "SPX" {
		return msOpen
	}
	if s, ok := calendar.SessionOf(exp); ok {
		return s.CloseMsOfDay()
	}
	return 16 * 3600 * 1000
}

// yearsTo is the time from (t, ms) to settlement in years, floored at one
// minute so prices stay finite at the bell.
func yearsTo(root string, t spx.Date, ms int32, exp spx.Date) float64 {
	dt := float64(exp-t)*86400000 + float64(settleMs(root, exp)-ms)
	return max(dt, msMinute) / yearMs
}

// volOf is the implied volatility of strike k: the day's at-the-money
// level with a put skew and a smile.
func volOf(atm, s, k, T float64) float64 {
	m := math.Log(k/s) / math.Sqrt(max(T, 0.02))
	m = max(-3, min(3, m))
	v := atm * (1 + 0.08*math.Sqrt(T)) * (1 - 0.5*m + 0.6*m*m)
	return max(0.05, min(1.5, v))
}
