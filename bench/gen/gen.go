// Package gen writes deterministic synthetic greeks history in exactly the
// staged NDJSON form of spx.AppendNDJSON, as input for the converter
// benchmarks.
//
// It exists so spx's converter and the DuckDB baselines read the same,
// realistic bytes: contracts contiguous (strike ascending, call then put),
// 391 one-minute stamps each, prices on 0.05/0.10 ticks with two decimals,
// greeks with four decimals, a few placeholder first stamps. It must not be
// used to judge market realism beyond that: the numbers only need the
// shape, cardinality and digit counts of real terminal answers.
package gen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/spx-archive/spx/pkg/spx"
)

// Stamps is the number of one-minute stamps of a regular session
// (09:30 to 16:00 inclusive).
const Stamps = 391

const (
	msOpen   = 34_200_000
	msStep   = 60_000
	minYears = 1.0 / (365 * 24 * 60) // one minute
)

// Config describes one generated file.
type Config struct {
	// Rows is the wanted row count; it is rounded up to whole contracts
	// of Stamps rows each.
	Rows int64
	// Date is the trade date (zero means 2024-03-15).
	Date spx.Date
	// Expirations spreads the contracts over this many expirations, the
	// first one expiring on Date (0DTE). 1 gives one large expiration.
	Expirations int
	// Root is the option root (empty means SPXW).
	Root string
	// Seed makes different files differ; the same Config always gives the
	// same bytes.
	Seed uint64
	// Staged writes spx.AppendStaged's array lines (what fetchers stage)
	// instead of spx.AppendNDJSON's objects (what DuckDB reads).
	Staged bool
}

// Stats describes what Write produced.
type Stats struct {
	Rows        int64
	Contracts   int64
	Expirations int
	Bytes       int64
}

func (c Config) withDefaults() Config {
	if c.Date.IsZero() {
		c.Date = spx.NewDate(2024, 3, 15)
	}
	if c.Expirations <= 0 {
		c.Expirations = 1
	}
	if c.Root == "" {
		c.Root = "SPXW"
	}
	return c
}

// Contracts returns how many contracts Write generates for rows.
func Contracts(rows int64) int64 { return (rows + Stamps - 1) / Stamps }

// Write generates the file described by cfg into w. It checks ctx between
// contracts.
func Write(ctx context.Context, w io.Writer, cfg Config) (Stats, error) {
	cfg = cfg.withDefaults()
	if cfg.Rows <= 0 {
		return Stats{}, fmt.Errorf("generating greeks: rows must be positive, got %d", cfg.Rows)
	}
	cols := spx.Greeks.Columns()
	setters := make([]func(*point) []byte, len(cols))
	for i, c := range cols {
		f, ok := fieldFor(c.Name)
		if !ok {
			return Stats{}, fmt.Errorf("generating greeks: no generator for column %q: extend bench/gen.fieldFor", c.Name)
		}
		setters[i] = f
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countingWriter{w: bw}
	m := newMarket(cfg)
	total := Contracts(cfg.Rows)
	exps := expirations(cfg.Date, cfg.Expirations)
	per := total / int64(len(exps))
	extra := total % int64(len(exps))

	st := Stats{Expirations: len(exps)}
	row := spx.Row{Date: cfg.Date, Values: make([][]byte, len(cols))}
	var line []byte
	var p point
	for ei, exp := range exps {
		n := per
		if int64(ei) < extra {
			n++
		}
		if n == 0 {
			continue
		}
		for ci, con := range m.contracts(exp, n) {
			if ci%64 == 0 {
				if err := ctx.Err(); err != nil {
					return st, fmt.Errorf("generating greeks: %w", err)
				}
			}
			row.Contract = spx.Contract{Root: cfg.Root, Expiration: exp, Strike: con.k, Right: con.right}
			for s := range Stamps {
				m.value(&p, &con, exp, s)
				for i, f := range setters {
					row.Values[i] = f(&p)
				}
				if cfg.Staged {
					line = spx.AppendStaged(line[:0], spx.Greeks, &row)
				} else {
					line = spx.AppendNDJSON(line[:0], spx.Greeks, &row)
				}
				if _, err := cw.Write(line); err != nil {
					return st, fmt.Errorf("writing generated greeks: %w", err)
				}
				st.Rows++
			}
			st.Contracts++
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("writing generated greeks: %w", err)
	}
	st.Bytes = cw.n
	return st, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// expirations lists n expirations from date: the 0DTE first, then the
// following weekdays, then monthly third Fridays.
func expirations(date spx.Date, n int) []spx.Date {
	out := []spx.Date{date}
	d := date
	for len(out) < n && len(out) < 30 {
		d = d.AddDays(1)
		if wd := d.Weekday(); wd >= 1 && wd <= 5 {
			out = append(out, d)
		}
	}
	y, mo, _ := d.YMD()
	for len(out) < n {
		mo++
		f := spx.NewDate(y, mo, 15)
		for f.Weekday() != 5 {
			f = f.AddDays(1)
		}
		if f > out[len(out)-1] {
			out = append(out, f)
		}
	}
	return out
}

// point holds one row's formatted values; each field slices buf.
type point struct {
	buf                                             [256]byte
	msOfDay, bid, ask, delta, theta, vega, rho, eps []byte
	lambda, iv, ivErr, msOfDay2, under              []byte
}

func fieldFor(name string) (func(*point) []byte, bool) {
	f, ok := map[string]func(*point) []byte{
		"ms_of_day":        func(p *point) []byte { return p.msOfDay },
		"bid":              func(p *point) []byte { return p.bid },
		"ask":              func(p *point) []byte { return p.ask },
		"delta":            func(p *point) []byte { return p.delta },
		"theta":            func(p *point) []byte { return p.theta },
		"vega":             func(p *point) []byte { return p.vega },
		"rho":              func(p *point) []byte { return p.rho },
		"epsilon":          func(p *point) []byte { return p.eps },
		"lambda":           func(p *point) []byte { return p.lambda },
		"implied_vol":      func(p *point) []byte { return p.iv },
		"iv_error":         func(p *point) []byte { return p.ivErr },
		"ms_of_day2":       func(p *point) []byte { return p.msOfDay2 },
		"underlying_price": func(p *point) []byte { return p.under },
	}[name]
	return f, ok
}

type contract struct {
	k           float64
	lnK         float64
	right       byte
	sigma       float64
	h           uint64
	placeholder bool
}

// market is the day's synthetic index path and rate.
type market struct {
	date   spx.Date
	seed   uint64
	rate   float64
	s, lnS [Stamps]float64
	under  [Stamps]int64 // cents
	atmVol float64
	centre float64
}

func newMarket(cfg Config) *market {
	m := &market{date: cfg.Date, seed: cfg.Seed, rate: 0.053, atmVol: 0.13}
	r := rng{s: cfg.Seed ^ 0x5deece66d}
	level := 5179.94
	for i := range Stamps {
		if i > 0 {
			level *= math.Exp(0.13 / math.Sqrt(252*390) * r.norm())
		}
		m.under[i] = int64(math.Round(level * 100))
		m.s[i] = float64(m.under[i]) / 100
		m.lnS[i] = math.Log(m.s[i])
	}
	m.centre = math.Round(m.s[0]/5) * 5
	return m
}

// contracts returns n contracts of exp: strikes every 5 points around the
// opening level (never below 5), call then put per strike.
func (m *market) contracts(exp spx.Date, n int64) []contract {
	strikes := (n + 1) / 2
	low := max(5, m.centre-5*float64(strikes/2))
	out := make([]contract, 0, n)
	t0 := m.years(exp, 0)
	for i := int64(0); i < strikes && int64(len(out)) < n; i++ {
		k := low + 5*float64(i)
		for _, right := range []byte{'C', 'P'} {
			if int64(len(out)) == n {
				break
			}
			h := mix(m.seed ^ uint64(exp)<<32 ^ uint64(k*1000) ^ uint64(right))
			mny := math.Log(k / m.s[0])
			skew := 0.35 * math.Abs(mny) / math.Sqrt(max(t0, 1.0/365))
			sig := m.atmVol*(1+min(skew, 3)) + 0.01*unit(h)
			if mny < 0 {
				sig += 0.04 * min(-mny*10, 1) // put skew
			}
			out = append(out, contract{k: k, lnK: math.Log(k), right: right, sigma: sig, h: h, placeholder: unit(mix(h)) < 0.03})
		}
	}
	return out
}

// years is the time from stamp i of the trade date to exp's 16:15 close.
func (m *market) years(exp spx.Date, i int) float64 {
	mins := float64(int(exp-m.date))*24*60 + (16*60 + 15) - (9*60 + 30 + float64(i))
	return max(mins/(365*24*60), minYears)
}

const (
	invSqrt2   = 0.7071067811865476
	invSqrt2Pi = 0.3989422804014327
)

// value fills p with the row of contract c at stamp i.
func (m *market) value(p *point, c *contract, exp spx.Date, i int) {
	b := p.buf[:0]
	ms := int64(msOpen + msStep*i)
	start := len(b)
	b = strconv.AppendInt(b, ms, 10)
	p.msOfDay = b[start:len(b):len(b)]
	p.msOfDay2 = p.msOfDay
	start = len(b)
	b = appendFixed(b, m.under[i], 2)
	p.under = b[start:len(b):len(b)]

	var bid, ask, delta, theta, vega, rho, eps, lambda, iv, ivErr int64
	if c.placeholder && i == 0 {
		iv, ivErr = 2500, 1_000_000
	} else {
		S, T := m.s[i], m.years(exp, i)
		// The fitted IV moves every minute: with the index (spot down, vol
		// up) and with contract-level noise, as a real surface does.
		sig := c.sigma * (1 - 2*(S/m.s[0]-1)) * (1 + 0.01*(unit(mix(c.h+uint64(i)))-0.5))
		sqrtT := math.Sqrt(T)
		disc := math.Exp(-m.rate * T)
		sv := sig * sqrtT
		d1 := (m.lnS[i] - c.lnK + (m.rate+0.5*sig*sig)*T) / sv
		d2 := d1 - sv
		nd1 := 0.5 * math.Erfc(-d1*invSqrt2)
		nd2 := 0.5 * math.Erfc(-d2*invSqrt2)
		pdf := math.Exp(-0.5*d1*d1) * invSqrt2Pi
		price := S*nd1 - c.k*disc*nd2
		common := -S * pdf * sig / (2 * sqrtT)
		var dl, th, rh, ep float64
		if c.right == 'C' {
			dl = nd1
			th = (common - m.rate*c.k*disc*nd2) / 365
			rh = c.k * T * disc * nd2 / 100
			ep = -S * T * nd1 / 100
		} else {
			price += c.k*disc - S
			dl = nd1 - 1
			th = (common + m.rate*c.k*disc*(1-nd2)) / 365
			rh = -c.k * T * disc * (1 - nd2) / 100
			ep = S * T * (1 - nd1) / 100
		}
		price = max(price, 0)
		bid, ask = quoteCents(price)
		delta, theta, vega = fx(dl), fx(th), fx(S*pdf*sqrtT/100)
		rho, eps, lambda = fx(rh), fx(ep), fx(dl*S/max(price, 0.01))
		iv = fx(sig)
		if price < 0.05 {
			ivErr = fx(0.0001 * float64(1+i%7))
		}
	}
	for _, f := range []struct {
		dst *[]byte
		v   int64
		dec int
	}{{&p.bid, bid, 2}, {&p.ask, ask, 2}, {&p.delta, delta, 4}, {&p.theta, theta, 4}, {&p.vega, vega, 4},
		{&p.rho, rho, 4}, {&p.eps, eps, 4}, {&p.lambda, lambda, 4}, {&p.iv, iv, 4}, {&p.ivErr, ivErr, 4}} {
		start := len(b)
		b = appendFixed(b, f.v, f.dec)
		*f.dst = b[start:len(b):len(b)]
	}
}

// quoteCents turns a fair price into a bid/ask in cents around it: ticks
// of 0.05 below $3 and 0.10 above, bid <= price <= ask.
func quoteCents(p float64) (bid, ask int64) {
	pc := p * 100
	tick := 5.0
	if pc >= 300 {
		tick = 10
	}
	w := tick + math.Floor(pc*0.01/tick)*tick
	b := math.Floor((pc-w/2)/tick) * tick
	a := math.Ceil((pc+w/2)/tick) * tick
	return int64(max(b, 0)), int64(a)
}

// fx is v in units of 1e-4, rounded half away from zero.
func fx(v float64) int64 {
	if v < 0 {
		return int64(v*1e4 - 0.5)
	}
	return int64(v*1e4 + 0.5)
}

var pow10 = [...]int64{1, 10, 100, 1000, 10000}

// appendFixed appends v/10^dec with trailing fraction zeros dropped, the
// way the terminal prints numbers: 11500 (dec 2) is "115", 11495 "114.95",
// -393 (dec 4) "-0.0393".
func appendFixed(dst []byte, v int64, dec int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	p := pow10[dec]
	dst = strconv.AppendInt(dst, v/p, 10)
	f := v % p
	if f == 0 {
		return dst
	}
	for f%10 == 0 {
		f /= 10
		dec--
	}
	dst = append(dst, '.')
	for d := dec - 1; d >= 0; d-- {
		dst = append(dst, byte('0'+f/pow10[d]%10))
	}
	return dst
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

type rng struct{ s uint64 }

func (r *rng) next() uint64 { r.s += 0x9e3779b97f4a7c15; return mix(r.s) }

// norm is a standard normal draw (Box–Muller).
func (r *rng) norm() float64 {
	u1 := max(unit(r.next()), 1e-300)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*unit(r.next()))
}
