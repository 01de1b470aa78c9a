package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/spx-archive/spx/pkg/spx"
)

// Field slots of a staged row: the five contract/date fields, then the
// dataset's canonical columns from slotCols on.
const (
	slotRoot = iota
	slotExpiration
	slotStrike
	slotRight
	slotDate
	slotCols
)

// contractKey identifies a contract inside one input. Output is ordered by
// (root, expiration, strike, right), then by time: within one expiration
// (the pipeline's files) that is (strike, right, timestamp), and a day made
// of expirations one after another, as staged, is already in order and
// takes the streaming path instead of planning and re-reading.
type contractKey struct {
	strike float64
	right  byte
	root   string
	exp    spx.Date
}

func (a contractKey) compare(b contractKey) int {
	switch {
	case a.root != b.root:
		if a.root < b.root {
			return -1
		}
		return 1
	case a.exp != b.exp:
		if a.exp < b.exp {
			return -1
		}
		return 1
	case a.strike < b.strike:
		return -1
	case a.strike > b.strike:
		return 1
	case a.right != b.right:
		if a.right < b.right {
			return -1
		}
		return 1
	}
	return 0
}

// sortTime orders rows of one contract: the trade date, then ms_of_day.
func sortTime(date spx.Date, ms int32) int64 { return int64(date)*86_400_000 + int64(ms) }

// rowKey is what the planning pass needs from a line.
type rowKey struct {
	contract contractKey
	ts       int64
}

// decoder parses staged NDJSON lines of one dataset. It is not safe for
// concurrent use: each pipeline worker has its own.
type decoder struct {
	ds    spx.Dataset
	cols  []spx.Column
	obj   form // spx.AppendNDJSON's objects
	arr   form // spx.AppendStaged's arrays
	slots map[string]int

	lastRoot   []byte
	lastRootS  string
	dateCache  map[int64]spx.Date
	lastDateIn int64
	lastDate   spx.Date
	tzDate     spx.Date
	tzOffMs    int64
	tzUniform  bool
	tzValid    bool

	b *batch // current decode target
}

func newDecoder(ds spx.Dataset) *decoder {
	d := &decoder{ds: ds, cols: ds.Columns(), slots: map[string]int{
		colRoot: slotRoot, colExpiration: slotExpiration, colStrike: slotStrike, colRight: slotRight, colDate: slotDate,
	}, dateCache: map[int64]spx.Date{}}
	d.obj = form{open: `{"root":"`, exp: `,"expiration":`, strike: `,"strike":`, right: `,"right":"`, date: `,"date":`, close: '}'}
	d.arr = form{open: `["`, exp: `,`, strike: `,`, right: `,"`, date: `,`, close: ']'}
	for i, c := range d.cols {
		d.obj.cols = append(d.obj.cols, []byte(`,"`+c.Name+`":`))
		d.arr.cols = append(d.arr.cols, []byte(`,`))
		d.slots[c.Name] = slotCols + i
	}
	return d
}

// form is the literal text around the values of a canonical line: the
// object form of spx.AppendNDJSON or the array form of spx.AppendStaged.
// The fast paths read either by matching these literals in order.
type form struct {
	open, exp, strike, right, date string
	cols                           [][]byte // before each canonical column
	close                          byte
}

// formOf picks the form a line starts with; nil means neither.
func (d *decoder) formOf(line []byte) *form {
	if len(line) > 0 {
		switch line[0] {
		case '[':
			return &d.arr
		case '{':
			return &d.obj
		}
	}
	return nil
}

// batch holds one chunk's rows in Arrow-ready buffers.
type batch struct {
	n     int
	mem   memory.Allocator // fixed-width buffers (may be a bufPool)
	smem  memory.Allocator // string builder (wants zeroed memory)
	bufs  []*memory.Buffer // one per numeric output column, by output index
	root  []string
	exp   []int32
	date  []int32
	strk  []float64
	right []byte
	ts    []int64
	i32   [][]int32 // by canonical column, nil unless Int32
	i64   [][]int64
	f64   [][]float64
	valid [][]byte // bitmap by canonical column, nil unless Optional
}

func newBatch(mem, smem memory.Allocator, cols []spx.Column, capacity int) *batch {
	// Round up so that batches share buffer sizes and a pool can reuse them.
	capacity = (capacity + 4095) &^ 4095
	b := &batch{mem: mem, smem: smem, root: make([]string, capacity), right: make([]byte, capacity)}
	alloc := func(width int) *memory.Buffer {
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(capacity * width)
		b.bufs = append(b.bufs, buf)
		return buf
	}
	b.exp = arrow.Int32Traits.CastFromBytes(alloc(4).Bytes())
	b.strk = arrow.Float64Traits.CastFromBytes(alloc(8).Bytes())
	b.date = arrow.Int32Traits.CastFromBytes(alloc(4).Bytes())
	b.ts = arrow.Int64Traits.CastFromBytes(alloc(8).Bytes())
	b.i32 = make([][]int32, len(cols))
	b.i64 = make([][]int64, len(cols))
	b.f64 = make([][]float64, len(cols))
	b.valid = make([][]byte, len(cols))
	for i, c := range cols {
		switch c.Type {
		case spx.Int32:
			b.i32[i] = arrow.Int32Traits.CastFromBytes(alloc(4).Bytes())
		case spx.Int64:
			b.i64[i] = arrow.Int64Traits.CastFromBytes(alloc(8).Bytes())
		default:
			b.f64[i] = arrow.Float64Traits.CastFromBytes(alloc(8).Bytes())
		}
		if c.Optional {
			bm := alloc(1)
			bm.Resize(int((capacity + 7) / 8))
			clear(bm.Bytes())
			b.valid[i] = bm.Bytes()
		}
	}
	return b
}

func (b *batch) release() {
	for _, buf := range b.bufs {
		buf.Release()
	}
	b.bufs = nil
}

// record turns the batch into an Arrow record of schema s. The batch's
// buffers move into the record; release the batch afterwards either way.
func (b *batch) record(s *arrow.Schema, cols []spx.Column) arrow.RecordBatch {
	n := b.n
	arrs := make([]arrow.Array, 0, nLeading+len(cols))
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	arrs = append(arrs, b.stringArray(b.root[:n]))
	k := 0
	fixed := func(t arrow.DataType, validity *memory.Buffer, nulls int) arrow.Array {
		data := array.NewData(t, n, []*memory.Buffer{validity, b.bufs[k]}, nil, nulls, 0)
		k++
		defer data.Release()
		return array.MakeFromData(data)
	}
	arrs = append(arrs, fixed(s.Field(1).Type, nil, 0))
	arrs = append(arrs, fixed(s.Field(2).Type, nil, 0))
	arrs = append(arrs, b.rightArray())
	arrs = append(arrs, fixed(s.Field(4).Type, nil, 0))
	arrs = append(arrs, fixed(s.Field(5).Type, nil, 0))
	for i, c := range cols {
		if c.Optional {
			val := b.bufs[k+1]
			// Counted from the bitmap: a row the fast path gave up on is
			// parsed again, so counting as rows are set would double count.
			nulls := n - bitutil.CountSetBits(b.valid[i], 0, n)
			arrs = append(arrs, fixed(s.Field(nLeading+i).Type, val, nulls))
			k++ // skip the bitmap buffer
		} else {
			arrs = append(arrs, fixed(s.Field(nLeading+i).Type, nil, 0))
		}
	}
	return array.NewRecordBatch(s, arrs, int64(n))
}

func (b *batch) stringArray(vals []string) arrow.Array {
	bld := array.NewStringBuilder(b.smem)
	defer bld.Release()
	total := 0
	for _, v := range vals {
		total += len(v)
	}
	bld.Reserve(len(vals))
	bld.ReserveData(total)
	for _, v := range vals {
		bld.Append(v)
	}
	return bld.NewArray()
}

func (b *batch) rightArray() arrow.Array {
	n := b.n
	offs := memory.NewResizableBuffer(b.mem)
	offs.Resize((n + 1) * 4)
	o := arrow.Int32Traits.CastFromBytes(offs.Bytes())
	for i := range o {
		o[i] = int32(i)
	}
	vals := memory.NewResizableBuffer(b.mem)
	vals.Resize(n)
	copy(vals.Bytes(), b.right[:n])
	data := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{nil, offs, vals}, nil, 0, 0)
	offs.Release()
	vals.Release()
	defer data.Release()
	return array.MakeFromData(data)
}

// isBlank reports whether a line holds only JSON whitespace.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// decodeLine parses one line into row b.n of the current batch. A line in
// the canonical form of spx.AppendStaged or spx.AppendNDJSON takes the fast
// path; any other valid JSON array or object (other key order, whitespace,
// escapes) the general one, which also produces every error message.
func (d *decoder) decodeLine(line []byte) string {
	if f := d.formOf(line); f != nil && d.fast(f, line) {
		d.b.n++
		return ""
	}
	if reason := d.general(line); reason != "" {
		return reason
	}
	d.b.n++
	return ""
}

// fast parses a line of form f; false means "use the general parser", not
// "invalid".
func (d *decoder) fast(f *form, line []byte) bool {
	b, row := d.b, d.b.n
	root, exp, strike, right, date, i, ok := d.fastContract(f, line)
	if !ok {
		return false
	}
	b.root[row], b.exp[row], b.strk[row], b.right[row], b.date[row] = root, int32(exp), strike, right, int32(date)
	var ms int32
	for c, col := range d.cols {
		lit := f.cols[c]
		if !bytes.HasPrefix(line[i:], lit) {
			return false
		}
		i += len(lit)
		if col.Optional {
			if bytes.HasPrefix(line[i:], []byte("null")) {
				i += 4
				b.setNull(c, row, true)
				d.zero(c, row)
				continue
			}
			b.setNull(c, row, false)
		}
		switch col.Type {
		case spx.Int32:
			x, end := scanInt(line, i)
			if end < 0 || x < math.MinInt32 || x > math.MaxInt32 {
				return false
			}
			i = end
			b.i32[c][row] = int32(x)
			if c == 0 {
				ms = int32(x)
			}
		case spx.Int64:
			x, end := scanInt(line, i)
			if end < 0 {
				return false
			}
			i = end
			b.i64[c][row] = x
		default:
			x, end := scanFloat(line, i)
			if end < 0 || math.IsInf(x, 0) {
				return false
			}
			i = end
			b.f64[c][row] = x
		}
	}
	if i >= len(line) || line[i] != f.close || !isBlank(line[i+1:]) {
		return false
	}
	b.ts[row] = d.utcMillis(date, ms)
	return true
}

// fastContract reads the five leading values of a line of form f and
// returns them with the offset after them.
func (d *decoder) fastContract(f *form, line []byte) (root string, exp spx.Date, strike float64, right byte, date spx.Date, i int, ok bool) {
	if !bytes.HasPrefix(line, []byte(f.open)) {
		return
	}
	i = len(f.open)
	q := bytes.IndexByte(line[i:], '"')
	if q <= 0 || bytes.IndexByte(line[i:i+q], '\\') >= 0 {
		return
	}
	if rb := line[i : i+q]; !bytes.Equal(rb, d.lastRoot) {
		for _, c := range rb {
			if c < 0x20 { // the general parser rejects it, with the reason
				return
			}
		}
	}
	root = d.internRoot(line[i : i+q])
	i += q + 1
	var v int64
	if i, v, ok = fastInt(line, i, f.exp); !ok {
		return
	}
	if exp, ok = d.dateOf(v); !ok {
		return
	}
	if i, strike, ok = fastFloat(line, i, f.strike); !ok {
		return
	}
	if ok = bytes.HasPrefix(line[i:], []byte(f.right)) && len(line) >= i+len(f.right)+2; !ok {
		return
	}
	i += len(f.right)
	right = line[i]
	if ok = (right == 'C' || right == 'P') && line[i+1] == '"'; !ok {
		return
	}
	i += 2
	if i, v, ok = fastInt(line, i, f.date); !ok {
		return
	}
	date, ok = d.dateOf(v)
	return
}

func fastInt(line []byte, i int, lit string) (int, int64, bool) {
	if !bytes.HasPrefix(line[i:], []byte(lit)) {
		return i, 0, false
	}
	v, end := scanInt(line, i+len(lit))
	return end, v, end >= 0
}

func fastFloat(line []byte, i int, lit string) (int, float64, bool) {
	if !bytes.HasPrefix(line[i:], []byte(lit)) {
		return i, 0, false
	}
	f, end := scanFloat(line, i+len(lit))
	return end, f, end >= 0 && !math.IsInf(f, 0)
}

func (d *decoder) internRoot(b []byte) string {
	if !bytes.Equal(b, d.lastRoot) {
		d.lastRootS = string(b)
		d.lastRoot = []byte(d.lastRootS)
	}
	return d.lastRootS
}

// dateOf converts YYYYMMDD, remembering recent answers (a file has one or
// two distinct dates).
func (d *decoder) dateOf(v int64) (spx.Date, bool) {
	if v == d.lastDateIn && v != 0 {
		return d.lastDate, true
	}
	dt, ok := d.dateCache[v]
	if !ok {
		if v < 0 || v > math.MaxInt32 {
			return 0, false
		}
		x, err := spx.DateFromInt(int(v))
		if err != nil {
			return 0, false
		}
		dt = x
		if len(d.dateCache) < 1024 {
			d.dateCache[v] = dt
		}
	}
	d.lastDateIn, d.lastDate = v, dt
	return dt, true
}

// utcMillis is the UTC instant of New York wall-clock time ms after
// midnight of date. A day without a DST change has one offset; on the two
// change days (Sundays, so no trading) each row goes through time.Date.
func (d *decoder) utcMillis(date spx.Date, ms int32) int64 {
	if !d.tzValid || d.tzDate != date {
		y, m, dd := date.YMD()
		_, off0 := time.Date(y, m, dd, 0, 0, 0, 0, spx.NewYork).Zone()
		_, off1 := time.Date(y, m, dd, 23, 59, 59, 0, spx.NewYork).Zone()
		d.tzDate, d.tzOffMs, d.tzUniform, d.tzValid = date, int64(off0)*1000, off0 == off1, true
	}
	if d.tzUniform {
		return int64(date)*86_400_000 + int64(ms) - d.tzOffMs
	}
	y, m, dd := date.YMD()
	return time.Date(y, m, dd, 0, 0, 0, int(ms)*1_000_000, spx.NewYork).UnixMilli()
}

func (b *batch) setNull(c, row int, null bool) {
	bm := b.valid[c]
	if null {
		bm[row>>3] &^= 1 << (row & 7)
	} else {
		bm[row>>3] |= 1 << (row & 7)
	}
}

func (d *decoder) zero(c, row int) {
	b := d.b
	switch d.cols[c].Type {
	case spx.Int32:
		b.i32[c][row] = 0
	case spx.Int64:
		b.i64[c][row] = 0
	default:
		b.f64[c][row] = 0
	}
}

// general parses any JSON object with the row's fields in any order, or
// any JSON array with the values in StagedColumns order. It returns "" or
// the reason the line is rejected.
func (d *decoder) general(line []byte) string {
	b, row := d.b, d.b.n
	p := &jsonLine{b: line}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '[' {
		return d.generalArray(p)
	}
	if !p.eat('{') {
		return "not a JSON object or array"
	}
	nslots := slotCols + len(d.cols)
	var seenArr [64]bool
	seen := seenArr[:nslots]
	var date spx.Date
	var ms int32
	p.ws()
	if !p.eat('}') {
		for {
			p.ws()
			key, ok := p.str()
			if !ok {
				return "not a JSON object: expected a quoted field name"
			}
			slot, known := d.slots[key]
			if !known {
				return fmt.Sprintf("unknown field %q", key)
			}
			if seen[slot] {
				return fmt.Sprintf("duplicate field %q", key)
			}
			seen[slot] = true
			p.ws()
			if !p.eat(':') {
				return "not a JSON object: expected ':'"
			}
			p.ws()
			if reason := d.value(p, slot, key, &date, &ms); reason != "" {
				return reason
			}
			p.ws()
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				break
			}
			return "not a JSON object: expected ',' or '}'"
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return "trailing data after the JSON object"
	}
	for s := range nslots {
		if seen[s] {
			continue
		}
		name := d.slotName(s)
		if s >= slotCols && d.cols[s-slotCols].Optional {
			b.setNull(s-slotCols, row, true)
			d.zero(s-slotCols, row)
			continue
		}
		return fmt.Sprintf("missing field %q", name)
	}
	b.ts[row] = d.utcMillis(date, ms)
	return ""
}

// generalArray parses a JSON array holding every value of the row in
// StagedColumns order (optional columns as null, never left out).
func (d *decoder) generalArray(p *jsonLine) string {
	p.eat('[')
	nslots := slotCols + len(d.cols)
	var date spx.Date
	var ms int32
	for s := range nslots {
		p.ws()
		if s > 0 {
			if !p.eat(',') {
				if p.eat(']') {
					return fmt.Sprintf("the array has %d values, want %d (%s)", s, nslots, strings.Join(spx.StagedColumns(d.ds), ","))
				}
				return "not a JSON array: expected ',' or ']'"
			}
			p.ws()
		}
		if reason := d.value(p, s, d.slotName(s), &date, &ms); reason != "" {
			return reason
		}
	}
	p.ws()
	if !p.eat(']') {
		if p.eat(',') {
			return fmt.Sprintf("the array has more than %d values (%s)", nslots, strings.Join(spx.StagedColumns(d.ds), ","))
		}
		return "not a JSON array: expected ']'"
	}
	p.ws()
	if p.i != len(p.b) {
		return "trailing data after the JSON array"
	}
	d.b.ts[d.b.n] = d.utcMillis(date, ms)
	return ""
}

// value reads the value of slot (named key in messages) at p into the
// current row; date and ms collect what the timestamp is made of.
func (d *decoder) value(p *jsonLine, slot int, key string, date *spx.Date, ms *int32) string {
	b, row := d.b, d.b.n
	switch slot {
	case slotRoot, slotRight:
		s, ok := p.str()
		if !ok {
			return fmt.Sprintf("field %q: want a string", key)
		}
		if slot == slotRoot {
			if s == "" {
				return `field "root": empty`
			}
			b.root[row] = d.internRoot([]byte(s))
		} else {
			if s != "C" && s != "P" {
				return fmt.Sprintf(`field "right": %q is not "C" or "P"`, s)
			}
			b.right[row] = s[0]
		}
	case slotExpiration, slotDate:
		tok, isInt, reason := p.number(key)
		if reason != "" {
			return reason
		}
		if !isInt {
			return fmt.Sprintf("field %q: %s is not a YYYYMMDD integer", key, tok)
		}
		v, _ := parseInt(tok)
		dt, ok := d.dateOf(v)
		if !ok {
			return fmt.Sprintf("field %q: %s is not a date in YYYYMMDD form", key, tok)
		}
		if slot == slotDate {
			b.date[row] = int32(dt)
			*date = dt
		} else {
			b.exp[row] = int32(dt)
		}
	case slotStrike:
		tok, _, reason := p.number(key)
		if reason != "" {
			return reason
		}
		f := parseFloat(tok)
		if math.IsInf(f, 0) {
			return fmt.Sprintf("field %q: %s is out of range", key, tok)
		}
		b.strk[row] = f
	default:
		c := slot - slotCols
		col := d.cols[c]
		if p.null() {
			if !col.Optional {
				return fmt.Sprintf("field %q: null, but the column is required", key)
			}
			b.setNull(c, row, true)
			d.zero(c, row)
			return ""
		}
		if col.Optional {
			b.setNull(c, row, false)
		}
		tok, isInt, reason := p.number(key)
		if reason != "" {
			return reason
		}
		switch col.Type {
		case spx.Int32, spx.Int64:
			if !isInt {
				return fmt.Sprintf("field %q: %s is not an integer", key, tok)
			}
			x, ok := parseInt(tok)
			if !ok || (col.Type == spx.Int32 && (x < math.MinInt32 || x > math.MaxInt32)) {
				return fmt.Sprintf("field %q: %s overflows %s", key, tok, col.Type)
			}
			if col.Type == spx.Int32 {
				b.i32[c][row] = int32(x)
				if c == 0 {
					*ms = int32(x)
				}
			} else {
				b.i64[c][row] = x
			}
		default:
			f := parseFloat(tok)
			if math.IsInf(f, 0) {
				return fmt.Sprintf("field %q: %s is out of range", key, tok)
			}
			b.f64[c][row] = f
		}
	}
	return ""
}

func (d *decoder) slotName(s int) string {
	switch s {
	case slotRoot:
		return colRoot
	case slotExpiration:
		return colExpiration
	case slotStrike:
		return colStrike
	case slotRight:
		return colRight
	case slotDate:
		return colDate
	}
	return d.cols[s-slotCols].Name
}

// jsonLine is a cursor over one line for the general parser.
type jsonLine struct {
	b []byte
	i int
}

func (p *jsonLine) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonLine) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonLine) null() bool {
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

// str reads a JSON string; escapes are decoded by encoding/json (rare).
func (p *jsonLine) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i
	esc := false
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '\\':
			esc = true
			j++
		case c == '"':
			p.i = j + 1
			raw := p.b[start:p.i]
			if !esc {
				return string(raw[1 : len(raw)-1]), true
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", false
			}
			return s, true
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// number reads a JSON number token for field key; reason explains a value
// that is not one (NaN, Infinity, a string, null...).
func (p *jsonLine) number(key string) (tok []byte, isInt bool, reason string) {
	end, isInt := scanNumber(p.b, p.i)
	if end < 0 {
		rest := p.b[p.i:]
		if len(rest) > 20 {
			rest = rest[:20]
		}
		return nil, false, fmt.Sprintf("field %q: want a finite JSON number, got %s", key, rest)
	}
	tok = p.b[p.i:end]
	p.i = end
	return tok, isInt, ""
}

// key extracts the sort key of a line for the planning pass: the contract
// and (date, ms_of_day). Canonical lines are read from their prefix; any
// other line is decoded in full into a one-row scratch batch, which also
// validates it.
func (d *decoder) key(line []byte, scratch *batch) (rowKey, string) {
	if k, ok := d.fastKey(line); ok {
		return k, ""
	}
	d.b = scratch
	scratch.n = 0
	if reason := d.general(line); reason != "" {
		return rowKey{}, reason
	}
	k := rowKey{
		contract: contractKey{strike: scratch.strk[0], right: scratch.right[0], root: scratch.root[0], exp: spx.Date(scratch.exp[0])},
		ts:       sortTime(spx.Date(scratch.date[0]), scratch.i32[0][0]),
	}
	return k, ""
}

// fastKey reads the key of a canonical line from its prefix.
func (d *decoder) fastKey(line []byte) (rowKey, bool) {
	f := d.formOf(line)
	if f == nil || len(d.cols) == 0 || d.cols[0].Type != spx.Int32 {
		return rowKey{}, false
	}
	root, exp, strike, right, date, i, ok := d.fastContract(f, line)
	if !ok {
		return rowKey{}, false
	}
	k := rowKey{contract: contractKey{strike: strike, right: right, root: root, exp: exp}}
	var v int64
	if _, v, ok = fastInt(line, i, string(f.cols[0])); !ok || v < math.MinInt32 || v > math.MaxInt32 {
		return k, false
	}
	k.ts = sortTime(date, int32(v))
	return k, true
}
