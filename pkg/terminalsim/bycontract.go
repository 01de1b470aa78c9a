package terminalsim

import (
	"slices"

	"github.com/spx-archive/spx/pkg/spx"
)

// The spec's format=json shape, {"response":[{"contract":{…},"data":[…]},
// …]}, has one element per contract: a request over several days answers
// each contract once, its rows of every day together in its "data" (the
// spec's examples; captures of a real v3 terminal, 2026-01, cited by spx
// issue 22). The generator's own order is day by day, so such an answer
// walks the rows contract by contract instead: expiration by expiration,
// and within one, each contract over the days it is quoted.

// step is one contract of one segment: its rows are the segment's stamps.
type step struct {
	seg *segment
	ci  int
}

// byContract walks the rows of segs contract by contract.
type byContract struct {
	gen
	groups [][]*segment // segments of one (root, expiration), by date
	gi     int          // next group
	steps  []step       // the current group's contracts over its days
	pi     int          // next step
	built  []*segment   // segments built for the current group
}

// newGenByContract groups segs by expiration (ascending; segmentsFor lists
// them by date, then expiration) and keeps each group's segments in date
// order.
func newGenByContract(ds spx.Dataset, segs []*segment) *byContract {
	idx := map[spx.Date]int{}
	var groups [][]*segment
	for _, g := range segs {
		i, ok := idx[g.exp]
		if !ok {
			i = len(groups)
			idx[g.exp] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], g)
	}
	slices.SortStableFunc(groups, func(a, b []*segment) int { return int(a[0].exp) - int(b[0].exp) })
	return &byContract{gen: gen{ds: ds, segs: segs}, groups: groups}
}

// conKey orders a segment's contract ci: strike, then call before put
// (the order build makes them in).
func conKey(g *segment, ci int) (tenths int64, put bool) {
	k := ci
	if g.req.right == 0 {
		k, put = ci/2, ci%2 == 1
	} else {
		put = g.req.right == 'P'
	}
	return int64(g.strikes[k]*1000 + 0.5), put
}

// nextGroup builds the next group's segments and lists its steps.
func (b *byContract) nextGroup() bool {
	for _, g := range b.built {
		g.release()
	}
	b.built, b.steps, b.pi = nil, b.steps[:0], 0
	if b.gi >= len(b.groups) {
		return false
	}
	grp := b.groups[b.gi]
	b.gi++
	for _, g := range grp {
		g.build()
		b.built = append(b.built, g)
		for ci := range g.nCons {
			b.steps = append(b.steps, step{g, ci})
		}
	}
	// Stable: a contract's days stay in date order.
	slices.SortStableFunc(b.steps, func(x, y step) int {
		xt, xp := conKey(x.seg, x.ci)
		yt, yp := conKey(y.seg, y.ci)
		switch {
		case xt != yt:
			return int(xt - yt)
		case xp == yp:
			return 0
		case xp:
			return 1
		}
		return -1
	})
	return true
}

// next advances to the next row and computes its values.
func (b *byContract) next() bool {
	for {
		if b.pi < len(b.steps) {
			st := b.steps[b.pi]
			if b.ti < len(st.seg.stamps) {
				b.seg, b.con, b.stamp = st.seg, &st.seg.cons[st.ci], b.ti
				b.ti++
				b.values()
				return true
			}
			b.pi, b.ti = b.pi+1, 0
			continue
		}
		if !b.nextGroup() {
			return false
		}
	}
}
