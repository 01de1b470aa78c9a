package thetadata

import (
	"bytes"
	"io"
	"strconv"

	"github.com/spx-archive/spx/pkg/spx"
)

// The fetcher turns every row into a staged line (spx.AppendStaged); on the
// day's largest responses that loop, not the download, bounds how fast a
// response reaches the object store. For a v3 CSV whose header has the
// contract first and the other columns in canonical order (the terminal's
// own order) a staged line is mostly the CSV line itself: the contract's
// start of line repeats for ~391 rows, a timestamp repeats across its row,
// and adjacent numeric columns keep their commas. nextStaged copies those
// runs after validating each value in the same pass that finds its end, and
// falls back to the generic decoder for any line it does not expect (a new
// contract, a new date, an empty or quoted field, a bad value, a wrong
// field count), so what is staged and every error stay exactly those of
// decode + spx.AppendStaged.

// stagedStep is one canonical column of a staged line, in order.
type stagedStep struct {
	ci   int
	kind uint8
}

const (
	stepNumber = iota // the next CSV field, a number copied as sent
	stepTime          // the next CSV field, a timestamp written as milliseconds
	stepNull          // a column the response lacks
)

// stagedPlan is how to write a staged line straight from a CSV line; nil
// when the header does not allow it.
type stagedPlan struct {
	steps []stagedStep
	// rawPrefix is the last line's contract fields with their commas,
	// stagedPrefix its staged form up to the date's comma.
	rawPrefix    []byte
	stagedPrefix []byte
	date         spx.Date // the last line's date, as dateText
	dateText     []byte
	valid        bool // the caches above describe a line that decoded
}

// contractFields is how many CSV fields the contract takes, first on a line.
const contractFields = 4

func newStagedPlan(rec *records, m *fieldMap, gen string) *stagedPlan {
	if gen != "v3" || rec.ndjson || m.date >= 0 {
		return nil
	}
	for _, f := range []int{m.root, m.exp, m.strike, m.right} {
		if f < 0 || f >= contractFields {
			return nil
		}
	}
	p := &stagedPlan{}
	next := contractFields
	for ci, fi := range m.col {
		switch {
		case fi < 0:
			p.steps = append(p.steps, stagedStep{ci: ci, kind: stepNull})
		case fi != next:
			return nil // not in canonical order
		case m.isTime[ci]:
			p.steps = append(p.steps, stagedStep{ci: ci, kind: stepTime})
			next++
		default:
			p.steps = append(p.steps, stagedStep{ci: ci, kind: stepNumber})
			next++
		}
	}
	if next != len(m.header) || next == contractFields {
		return nil
	}
	return p
}

// nextStaged decodes the next row into r, like next, and appends its staged
// line for ds to dst. On false (end or error) dst is returned unchanged.
func (d *csvDecoder) nextStaged(dst []byte, ds spx.Dataset, r *spx.Row) ([]byte, bool, error) {
	p := d.staged
	if p == nil {
		ok, err := d.next(r)
		if ok {
			dst = spx.AppendStaged(dst, ds, r)
		}
		return dst, ok, err
	}
	line, err := d.rec.nextLine()
	if err != nil {
		if err == io.EOF {
			return dst, false, nil
		}
		return dst, false, err
	}
	d.rows++
	if out, ok := d.fastStaged(dst, line, r); ok {
		return out, true, nil
	}
	return d.slowStaged(dst, ds, line, r)
}

// fastStaged appends the staged line of a line of the last decoded
// contract and date; false when the line needs the generic decoder (dst may
// then hold a partial line past its original length).
func (d *csvDecoder) fastStaged(dst, line []byte, r *spx.Row) ([]byte, bool) {
	p := d.staged
	n := len(p.rawPrefix)
	if !p.valid || len(line) <= n || !bytes.Equal(line[:n], p.rawPrefix) || len(r.Values) != len(d.m.cols) {
		return dst, false
	}
	dst = append(dst, p.stagedPrefix...)
	dst = append(dst, p.dateText...)
	date := d.def
	i := n       // start of the next field
	run := -1    // start of the run of numbers not yet copied
	runEnd := -1 // its end
	end := false // the line's last field was read
	for _, st := range p.steps {
		if st.kind == stepNull {
			if run >= 0 {
				dst = append(dst, ',')
				dst = append(dst, line[run:runEnd]...)
				run = -1
			}
			dst = append(dst, ",null"...)
			r.Values[st.ci] = nil
			continue
		}
		if end {
			return dst, false // too few fields
		}
		if st.kind == stepNumber {
			j, ok := scanNumber(line, i)
			if !ok {
				return dst, false
			}
			r.Values[st.ci] = line[i:j:j]
			if run < 0 {
				run = i
			}
			runEnd = j
			end = j == len(line)
			i = j + 1
			continue
		}
		j := bytes.IndexByte(line[i:], ',')
		if j < 0 {
			j = len(line)
			end = true
		} else {
			j += i
		}
		v := line[i:j]
		if len(v) == 0 {
			return dst, false
		}
		t, ok := d.timeOf(st.ci, v)
		if !ok {
			return dst, false
		}
		if run >= 0 {
			dst = append(dst, ',')
			dst = append(dst, line[run:runEnd]...)
			run = -1
		}
		dst = append(dst, ',')
		dst = append(dst, t.ms...)
		r.Values[st.ci] = t.ms[:len(t.ms):len(t.ms)]
		if st.ci == d.m.dateCol && t.hasDate {
			date = t.date
		}
		i = j + 1
	}
	if !end || date != p.date {
		return dst, false // too many fields, or a new date
	}
	if run >= 0 {
		dst = append(dst, ',')
		dst = append(dst, line[run:runEnd]...)
	}
	r.Date = date
	return append(dst, ']', '\n'), true
}

// slowStaged decodes line generically and remembers what the next lines
// can reuse.
func (d *csvDecoder) slowStaged(dst []byte, ds spx.Dataset, line []byte, r *spx.Row) ([]byte, bool, error) {
	p := d.staged
	p.valid = false
	fields, err := d.rec.split(line)
	if err != nil {
		return dst, false, err
	}
	if ok, err := d.decode(fields, r); !ok {
		return dst, false, err
	}
	start := len(dst)
	dst = spx.AppendStaged(dst, ds, r)
	// The contract fields lead the line; cache them when plain.
	k, c := 0, 0
	for ; k < len(line); k++ {
		if line[k] == '"' {
			return dst, true, nil
		}
		if line[k] == ',' {
			if c++; c == contractFields {
				break
			}
		}
	}
	if c != contractFields {
		return dst, true, nil
	}
	p.rawPrefix = append(p.rawPrefix[:0], line[:k+1]...)
	p.stagedPrefix = spx.AppendStagedContract(p.stagedPrefix[:0], r.Contract)
	p.date = r.Date
	p.dateText = strconv.AppendInt(p.dateText[:0], int64(r.Date.Int()), 10)
	// Guard against a drift between the cached pieces and AppendStaged.
	if !bytes.HasPrefix(dst[start:], p.stagedPrefix) {
		return dst, true, nil
	}
	p.valid = true
	return dst, true, nil
}

// scanNumber reads the field starting at b[i] as a JSON number and returns
// where it stops; ok is true exactly when the field (up to the next comma or
// the line's end) satisfies isNumber.
func scanNumber(b []byte, i int) (int, bool) {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	s := i
	for i < n && b[i]-'0' < 10 {
		i++
	}
	if i == s || b[s] == '0' && i > s+1 {
		return i, false
	}
	if i < n && b[i] == '.' {
		i++
		s := i
		for i < n && b[i]-'0' < 10 {
			i++
		}
		if i == s {
			return i, false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < n && b[i]-'0' < 10 {
			i++
		}
		if i == s {
			return i, false
		}
	}
	return i, i == n || b[i] == ','
}
