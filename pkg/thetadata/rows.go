package thetadata

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spx-archive/spx/pkg/spx"
)

// Field roles in a fieldMap beyond canonical column indexes (>= 0).
const (
	fieldDate   = -2 // v2 `date`: the row's trade date
	fieldRoot   = -3
	fieldExp    = -4
	fieldStrike = -5
	fieldRight  = -6
)

// fieldMap maps a response's header, by name, onto a dataset's canonical
// columns.
type fieldMap struct {
	cols    []spx.Column
	byField []int  // response field index → canonical column or a field* role
	isTime  []bool // canonical column arrives as an ISO timestamp (v3)
	col     []int  // canonical column → response field index, -1 if absent
	root    int    // field index of the contract parts, -1 if absent
	exp     int
	strike  int
	right   int
	date    int // v2 date field, -1 if absent
	// dateCol is the canonical column whose timestamp gives a v3 row's date.
	dateCol int
	header  []string
}

// newFieldMap maps header for gen ("v3" or "v2"); withContract says the
// contract arrives as fields of each row (v3, v2 CSV) rather than as a v2
// JSON contract object. A missing required column or an unknown extra one is
// a permanent schema-mismatch error naming them.
func newFieldMap(ds spx.Dataset, header []string, gen string, withContract bool, url string) (*fieldMap, error) {
	cols := ds.Columns()
	if cols == nil {
		return nil, spx.Permanent(fmt.Errorf("unknown dataset %q: use one of greeks, quote, ohlc, eod, open_interest", ds))
	}
	m := &fieldMap{cols: cols, byField: make([]int, len(header)), isTime: make([]bool, len(cols)),
		col: make([]int, len(cols)), root: -1, exp: -1, strike: -1, right: -1, date: -1, dateCol: -1, header: header}
	want := map[string]int{}
	for i, c := range cols {
		name := c.Name
		if gen == "v3" && c.V3 != "" {
			name = c.V3
			m.isTime[i] = true
			if m.dateCol < 0 {
				m.dateCol = i
			}
		}
		want[name] = i
		m.col[i] = -1
	}
	if withContract {
		if gen == "v3" {
			want["symbol"] = fieldRoot
		} else {
			want["root"] = fieldRoot
		}
		want["expiration"], want["strike"], want["right"] = fieldExp, fieldStrike, fieldRight
	}
	if gen == "v2" {
		want["date"] = fieldDate
	}
	var unknown []string
	seen := map[int]bool{}
	for f, name := range header {
		role, ok := want[strings.TrimSpace(name)]
		if !ok || seen[role] {
			unknown = append(unknown, name)
			m.byField[f] = -1
			continue
		}
		seen[role] = true
		m.byField[f] = role
		switch role {
		case fieldRoot:
			m.root = f
		case fieldExp:
			m.exp = f
		case fieldStrike:
			m.strike = f
		case fieldRight:
			m.right = f
		case fieldDate:
			m.date = f
		default:
			m.col[role] = f
		}
	}
	var missing []string
	for name, role := range want {
		if !seen[role] && (role < 0 || !cols[role].Optional) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 || len(unknown) > 0 {
		slices.Sort(missing)
		return nil, withSample(spx.Permanent(fmt.Errorf("decoding %s: the response's columns do not match dataset %s (missing %v, unexpected %v; header %q): the terminal's output format changed or thetadata.api is wrong; upgrade spx or report it",
			url, ds, missing, unknown, strings.Join(header, ","))), []byte(strings.Join(header, ",")))
	}
	return m, nil
}

// rowArena holds the values of one or more rows in one reused buffer.
type rowArena struct {
	n     int // columns per row
	buf   []byte
	offs  []int32 // per row and column: start, end; start -1 means nil
	dates []spx.Date
	rows  int
}

func (a *rowArena) reset() {
	a.buf, a.offs, a.dates, a.rows = a.buf[:0], a.offs[:0], a.dates[:0], 0
}

func (a *rowArena) begin(d spx.Date) {
	for range 2 * a.n {
		a.offs = append(a.offs, -1)
	}
	a.dates = append(a.dates, d)
	a.rows++
}

func (a *rowArena) set(col int, v []byte) {
	o := (a.rows-1)*2*a.n + 2*col
	a.offs[o] = int32(len(a.buf))
	a.buf = append(a.buf, v...)
	a.offs[o+1] = int32(len(a.buf))
}

func (a *rowArena) setInt(col, v int) {
	o := (a.rows-1)*2*a.n + 2*col
	a.offs[o] = int32(len(a.buf))
	a.buf = strconv.AppendInt(a.buf, int64(v), 10)
	a.offs[o+1] = int32(len(a.buf))
}

func (a *rowArena) setDate(d spx.Date) { a.dates[a.rows-1] = d }

// fill points r.Values at row k's values and sets r.Date.
func (a *rowArena) fill(k int, r *spx.Row) {
	if len(r.Values) != a.n {
		r.Values = make([][]byte, a.n)
	}
	offs := a.offs[k*2*a.n : (k+1)*2*a.n]
	for i := range a.n {
		s, e := offs[2*i], offs[2*i+1]
		if s < 0 {
			r.Values[i] = nil
		} else {
			r.Values[i] = a.buf[s:e:e]
		}
	}
	r.Date = a.dates[k]
}

// badRow is the permanent error of a row spx cannot take, quoting it.
func badRow(url string, n int, what string, row []byte) error {
	return withSample(spx.Permanent(fmt.Errorf("decoding %s: row %d: %s; row: %q: the terminal sent data spx cannot store; report it with this message", url, n, what, head(row, 200))), row)
}

// csvDecoder turns table records (v3 CSV/NDJSON, v2 CSV) into rows. A row's
// values point into the record's line (valid until the next call, as
// spx.Row allows) except timestamps, which become milliseconds held in times.
type csvDecoder struct {
	rec      *records
	m        *fieldMap
	gen      string
	div      float64 // strike divisor: 1 (v3 dollars) or 1000 (v2)
	cc       contractCache
	dc       dateCache
	plan     []colPlan   // the canonical columns the response has, in order
	absent   []int       // the canonical columns it lacks
	times    []timeCache // by canonical column; used where m.isTime
	timeCols []int       // the canonical columns that are timestamps
	lastTime int         // the time column parsed or matched last
	rows     int
	def      spx.Date // row date when the response carries none
	url      string
	page     string // v2 CSV Next-Page
	staged   *stagedPlan
}

// timeCache is one timestamp column's last value, parsed. Rows of a v3
// response come contract by contract, so a timestamp rarely repeats in its
// own column from one row to the next but usually does across the columns of
// one row (timestamp, underlying_timestamp): a miss looks at the others.
// colPlan is how to fill one canonical column, worked out once from the
// fieldMap instead of for every row.
type colPlan struct {
	ci, fi   int // canonical column, response field
	time     bool
	optional bool
}

type timeCache struct {
	raw     []byte // the timestamp as sent
	ms      []byte // its milliseconds of the day, as decimal text, in msBuf
	msBuf   [20]byte
	date    spx.Date
	hasDate bool
}

// setMS formats ms (not negative) into t.ms two digits at a time;
// strconv.AppendInt cost more than the rest of a timestamp's handling.
func (t *timeCache) setMS(ms int) {
	i := len(t.msBuf)
	for ms >= 100 {
		q := ms / 100
		k := (ms - q*100) * 2
		i -= 2
		t.msBuf[i], t.msBuf[i+1] = digitPairs[k], digitPairs[k+1]
		ms = q
	}
	if ms >= 10 {
		i -= 2
		t.msBuf[i], t.msBuf[i+1] = digitPairs[ms*2], digitPairs[ms*2+1]
	} else {
		i--
		t.msBuf[i] = byte('0' + ms)
	}
	t.ms = t.msBuf[i:]
}

const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

func newCSVDecoder(rec *records, m *fieldMap, gen string, def spx.Date, url string) *csvDecoder {
	d := &csvDecoder{rec: rec, m: m, gen: gen, div: 1, def: def, url: url}
	if gen == "v2" {
		d.div = 1000
	}
	d.times = make([]timeCache, len(m.cols))
	for ci, fi := range m.col {
		if fi < 0 {
			d.absent = append(d.absent, ci)
			continue
		}
		d.plan = append(d.plan, colPlan{ci: ci, fi: fi, time: m.isTime[ci], optional: m.cols[ci].Optional})
		if m.isTime[ci] {
			d.timeCols = append(d.timeCols, ci)
			d.lastTime = ci
		}
	}
	d.staged = newStagedPlan(rec, m, gen)
	return d
}

func (d *csvDecoder) columns() []string { return d.m.header }
func (d *csvDecoder) nextPage() string  { return d.page }

func (d *csvDecoder) next(r *spx.Row) (bool, error) {
	fields, err := d.rec.next()
	if err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	d.rows++
	return d.decode(fields, r)
}

// decode turns the fields of row d.rows into r.
func (d *csvDecoder) decode(fields [][]byte, r *spx.Row) (bool, error) {
	m := d.m
	root := fields[m.root]
	if len(root) == 0 {
		return false, d.bad("the root/symbol is empty", fields)
	}
	r.Contract.Root = d.cc.rootOf(root)
	var ok bool
	if r.Contract.Expiration, ok = d.cc.exp.parse(fields[m.exp]); !ok {
		return false, d.bad(fmt.Sprintf("expiration %q is not a date", fields[m.exp]), fields)
	}
	if r.Contract.Strike, ok = d.cc.strikeOf(fields[m.strike], d.div); !ok {
		return false, d.bad(fmt.Sprintf("strike %q is not a positive number", fields[m.strike]), fields)
	}
	if r.Contract.Right, ok = parseRight(fields[m.right]); !ok {
		return false, d.bad(fmt.Sprintf("right %q is not C, P, CALL or PUT", fields[m.right]), fields)
	}
	if len(r.Values) != len(m.cols) {
		r.Values = make([][]byte, len(m.cols))
	}
	r.Date = d.def
	if m.date >= 0 {
		dt, ok := d.dc.intDate(fields[m.date])
		if !ok {
			if dt, ok = d.dc.parse(fields[m.date]); !ok {
				return false, d.bad(fmt.Sprintf("date %q is not a YYYYMMDD date", fields[m.date]), fields)
			}
		}
		r.Date = dt
	}
	for _, ci := range d.absent {
		r.Values[ci] = nil
	}
	for _, p := range d.plan {
		v := fields[p.fi]
		if len(v) == 0 {
			if p.optional {
				r.Values[p.ci] = nil
				continue
			}
			return false, d.bad(fmt.Sprintf("column %s is empty", m.header[p.fi]), fields)
		}
		if p.time {
			t, ok := d.timeOf(p.ci, v)
			if !ok {
				return false, d.bad(fmt.Sprintf("column %s is %q, not a timestamp YYYY-MM-DDTHH:MM:SS.SSS", m.header[p.fi], v), fields)
			}
			r.Values[p.ci] = t.ms[:len(t.ms):len(t.ms)]
			if p.ci == m.dateCol && t.hasDate {
				r.Date = t.date
			}
			continue
		}
		if !isNumber(v) {
			return false, d.bad(fmt.Sprintf("column %s is %q, not a finite number", m.header[p.fi], v), fields)
		}
		// Capacity cut at the value: appending to it must not write into
		// the line.
		r.Values[p.ci] = v[:len(v):len(v)]
	}
	return true, nil
}

// timeOf parses the timestamp v of time column ci through the caches.
func (d *csvDecoder) timeOf(ci int, v []byte) (*timeCache, bool) {
	t := &d.times[ci]
	// The column seen last first: in a contract's rows the timestamp
	// changes every row but underlying_timestamp repeats it.
	if o := &d.times[d.lastTime]; bytes.Equal(o.raw, v) {
		if d.lastTime != ci {
			t.copyFrom(o)
			d.lastTime = ci
		}
		return t, true
	}
	for _, i := range d.timeCols {
		if o := &d.times[i]; i != d.lastTime && bytes.Equal(o.raw, v) {
			if i != ci {
				t.copyFrom(o)
			}
			d.lastTime = ci
			return t, true
		}
	}
	dt, hasDate, ms, ok := parseTimestamp(v, &d.dc)
	if !ok {
		return nil, false
	}
	t.raw = append(t.raw[:0], v...)
	t.setMS(ms)
	t.date, t.hasDate = dt, hasDate
	d.lastTime = ci
	return t, true
}

func (t *timeCache) copyFrom(o *timeCache) {
	t.raw = append(t.raw[:0], o.raw...)
	n := copy(t.msBuf[:], o.ms)
	t.ms = t.msBuf[:n]
	t.date, t.hasDate = o.date, o.hasDate
}

func (d *csvDecoder) bad(what string, fields [][]byte) error {
	return badRow(d.url, d.rows, what, bytes.Join(fields, []byte(",")))
}
