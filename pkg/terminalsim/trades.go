package terminalsim

import (
	"math"

	"github.com/spx-archive/spx/pkg/spx"
)

// The simulated market's trades, in one place: whether a contract trades
// in a minute of its session, what its last trade of that minute was, and
// so whether and when it traded on a day. history/ohlc (bars), at_time/trade
// (the last trade at a time of day) and list/dates/trade and
// list/contracts/trade read them here, so they agree with each other; every
// choice is a hash of (seed, trade date, expiration, strike, right, root)
// and the minute, so trades are deterministic per seed.
//
// Today a minute has trades with probability tradeP (higher near the
// money), its last trade at a seeded millisecond of the minute, at the
// option's fair price on its tick at the minute's start (the close of the
// minute's 1m bar); sizes, conditions and exchanges are placeholders. A
// trade dataset with realistic sizes and conditions grows from here.

// dsTrade is the series of at_time/trade: not an spx dataset (yet).
const dsTrade spx.Dataset = "trade"

// tradeCols are at_time/trade's columns after the contract (the spec's
// order, paths./option/at_time/trade…text/csv example).
var tradeCols = []col{
	{"", "timestamp", 0, timeStamp}, {"", "sequence", 0, timeNone},
	{"", "ext_condition1", 0, timeNone}, {"", "ext_condition2", 0, timeNone},
	{"", "ext_condition3", 0, timeNone}, {"", "ext_condition4", 0, timeNone},
	{"", "condition", 0, timeNone}, {"", "size", 0, timeNone},
	{"", "exchange", 0, timeNone}, {"", "price", 2, timeNone},
}

func init() { specs[dsTrade] = tradeCols }

// Placeholders until the trade dataset: SPX options trade on Cboe only
// (the quotes' exchange 5), every trade a regular one (condition 0), and
// ext_condition1…4 unset (255, as in the spec's example).
const (
	tradeExchange  = 5
	tradeCondition = 0
	extUnset       = 255
)

// tradeP is the probability that a contract of strike k trades in a
// minute of a day that opened at s0.
func tradeP(k, s0 float64) float64 { return 0.05 + 0.6*math.Exp(-20*math.Abs(math.Log(k/s0))) }

// contractHash is the seed of every random choice about one contract on
// one trade date.
func contractHash(seed uint64, date, exp spx.Date, tenths int64, right byte, root string) uint64 {
	return hash(seed, 7, uint64(date), uint64(exp), uint64(tenths), uint64(right), uint64(len(root)))
}

// minuteTrades reports whether c trades in minute i of the session (0 is
// 09:30), with the hash the minute's details come from. history/ohlc draws
// a bar's trades with it (bar index i: at 1m from the open, the minute).
func (c *contract) minuteTrades(i int) (uint64, bool) {
	h := mix(c.h ^ uint64(i)<<20)
	return h, unit(h) < c.tradeP
}

// minuteVolume is the contracts traded in a trading minute of hash h.
func minuteVolume(h uint64) int64 { return int64(1 + (h>>12)%50) }

// trade is one trade of a contract.
type trade struct {
	ms       int32 // ms of day
	sequence int64
	size     int64
	price    int64 // cents
}

// lastTrade is c's last trade at or before ms on g's trade date: the last
// trade of the latest trading minute that ended it by then. ok is false
// when c had not traded yet that day.
func lastTrade(g *segment, c *contract, ms int32) (t trade, ok bool) {
	dd := g.day
	m := int((ms - msOpen) / msMinute)
	if ms < msOpen {
		return trade{}, false
	}
	for m = min(m, dd.stamps-1); m >= 0; m-- {
		h, trades := c.minuteTrades(m)
		if !trades {
			continue
		}
		start := int32(msOpen + m*msMinute)
		at := start + int32(h>>32%msMinute)
		if at > ms {
			continue // its last trade comes after ms
		}
		vol := minuteVolume(h)
		return trade{
			ms:       at,
			sequence: int64(at)*1000 + int64(h>>48%1000),
			size:     1 + int64(h>>24)%vol,
			price:    max(roundTick(priceAt(g, c, start)), 5),
		}, true
	}
	return trade{}, false
}

// priceAt is c's fair price at ms of g's trade date.
func priceAt(g *segment, c *contract, ms int32) float64 {
	dd := g.day
	S := dd.levelAt(ms)
	T := yearsTo(g.root, g.date, ms, g.exp)
	p, _, _, _ := bs(c.call, S, math.Log(S), c.k, c.lnK, T, math.Sqrt(T), math.Exp(-dd.rate*T), dd.rate, c.sigma)
	return p
}

// tradedOn reports whether the contract (root, exp, tenths, right) traded
// on the session dd.
func (m *market) tradedOn(dd *day, root string, exp spx.Date, tenths int64, right byte) bool {
	c := contract{h: contractHash(m.seed, dd.date, exp, tenths, right, root), tradeP: tradeP(float64(tenths)/1000, dd.path[0])}
	for i := range dd.stamps {
		if _, ok := c.minuteTrades(i); ok {
			return true
		}
	}
	return false
}

// trade computes the current at_time/trade row: the last trade at or
// before the stamp, or zeros when the contract had not traded yet that
// day (stamped with the time asked for).
func (g *gen) trade() {
	v := &g.vals
	ms := g.seg.stamps[g.stamp]
	t, ok := lastTrade(g.seg, g.con, ms)
	v[2], v[3], v[4], v[5] = extUnset, extUnset, extUnset, extUnset
	if !ok {
		v[0], v[1], v[6], v[7], v[8], v[9] = int64(ms), 0, 0, 0, 0, 0
		return
	}
	v[0], v[1] = int64(t.ms), t.sequence
	v[6], v[7], v[8], v[9] = tradeCondition, t.size, tradeExchange, t.price
}
