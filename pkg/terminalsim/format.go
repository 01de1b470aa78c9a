package terminalsim

import (
	"io"
	"strconv"

	"github.com/spx-archive/spx/pkg/spx"
)

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000}

// appendFixed appends the fixed-point value v/10^dec. With trim, trailing
// zeros of the fraction (and a bare point) are dropped: 11500 with dec 2 is
// "115", 11495 is "114.95".
func appendFixed(dst []byte, v int64, dec int, trim bool) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	if dec == 0 {
		return appendUint(dst, uint64(v))
	}
	var ip, f int64
	switch dec { // constant divisors for the common cases
	case 2:
		ip, f = v/100, v%100
	case 3:
		ip, f = v/1000, v%1000
	case 4:
		ip, f = v/10000, v%10000
	default:
		ip, f = v/pow10[dec], v%pow10[dec]
	}
	dst = appendUint(dst, uint64(ip))
	if trim {
		if f == 0 {
			return dst
		}
		for f%10 == 0 {
			f /= 10
			dec--
		}
	}
	var buf [8]byte
	buf[0] = '.'
	for d := dec; d > 0; d-- { // constant divisors: no hardware divide
		buf[d] = byte('0' + f%10)
		f /= 10
	}
	return append(dst, buf[:dec+1]...)
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendUint is strconv.AppendUint for base 10, two digits at a time.
func appendUint(dst []byte, v uint64) []byte {
	if v < 10 {
		return append(dst, byte('0'+v))
	}
	var buf [20]byte
	i := len(buf)
	for v >= 100 {
		q := v / 100
		j := (v - q*100) * 2
		i -= 2
		buf[i], buf[i+1] = digitPairs[j], digitPairs[j+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		buf[i], buf[i+1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		i--
		buf[i] = byte('0' + v)
	}
	return append(dst, buf[i:]...)
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

// appendISO appends a New York wall-clock timestamp with no offset and
// milliseconds: 2024-03-15T17:15:00.342 (eod's created and last_trade).
func appendISO(dst []byte, d spx.Date, ms int32) []byte {
	dst = appendDateT(dst, d)
	f := int(ms % 1000)
	dst = appendClockSec(dst, ms)
	return append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// appendStamp appends a stamp as a real v3 terminal writes it: whole
// seconds, 2024-03-15T09:30:00, and a fraction only when the stamp has
// one, without trailing zeros (09:30:00.5, 09:30:00.471). The spec's
// examples show exactly that: intraday `timestamp` values in whole
// seconds (2024-11-04T09:30:00) and, where a value has milliseconds, no
// fraction ending in 0 (2024-01-16T09:30:00.1, 2024-11-04T09:30:00.91);
// captures of a real v3 terminal (2026-01, cited by issue 22) agree.
func appendStamp(dst []byte, d spx.Date, ms int32) []byte {
	dst = appendClockSec(appendDateT(dst, d), ms)
	f := int(ms % 1000)
	if f == 0 {
		return dst
	}
	dst = append(dst, '.', byte('0'+f/100))
	if f%100 != 0 {
		dst = append(dst, byte('0'+f/10%10))
		if f%10 != 0 {
			dst = append(dst, byte('0'+f%10))
		}
	}
	return dst
}

// appendDateT appends YYYY-MM-DDT.
func appendDateT(dst []byte, d spx.Date) []byte {
	y, m, dd := d.YMD()
	dst = strconv.AppendInt(dst, int64(y), 10)
	dst = append(dst, '-')
	dst = append2(dst, int(m))
	dst = append(dst, '-')
	dst = append2(dst, dd)
	return append(dst, 'T')
}

// appendClockSec appends HH:MM:SS.
func appendClockSec(dst []byte, ms int32) []byte {
	dst = append2(dst, int(ms/3600000))
	dst = append(dst, ':')
	dst = append2(dst, int(ms/60000%60))
	dst = append(dst, ':')
	return append2(dst, int(ms/1000%60))
}

// out is an append buffer in front of the response: rows are appended
// with strconv-style functions and handed to the connection in large
// chunks, flushed as they go so the client sees a steady stream.
type out struct {
	w     io.Writer
	flush func()
	buf   []byte
	err   error
}

const outChunk = 64 << 10

func newOut(w io.Writer, flush func()) *out {
	return &out{w: w, flush: flush, buf: make([]byte, 0, outChunk+4096)}
}

// maybeSend writes the buffer once it is large.
func (o *out) maybeSend() {
	if len(o.buf) >= outChunk {
		o.send()
	}
}

// send writes and flushes whatever is buffered.
func (o *out) send() {
	if o.err != nil {
		o.buf = o.buf[:0]
		return
	}
	if len(o.buf) > 0 {
		_, o.err = o.w.Write(o.buf)
		o.buf = o.buf[:0]
	}
	if o.err == nil && o.flush != nil {
		o.flush()
	}
}

// rowFormat writes rows of one dataset in one wire format.
type rowFormat int

const (
	fmtV3CSV rowFormat = iota
	fmtV3NDJSON
	fmtV3JSON
	fmtV2JSON
	fmtV2CSV
	fmtV2Flat // the response of a per-contract /v2/hist request: [[values], …]
)

// appendV3Value appends column j of the current row in v3 form.
func appendV3Value(dst []byte, g *gen, c *col, j int, quoteTime bool) []byte {
	if c.time != timeNone {
		if quoteTime {
			dst = append(dst, '"')
		}
		switch {
		case g.seg.intraday && (j == 0 || g.ds == spx.Greeks):
			dst = append(dst, g.seg.ts[g.stamp]...)
		case c.time == timeMillis:
			dst = appendISO(dst, g.seg.date, int32(g.vals[j]))
		default:
			dst = appendStamp(dst, g.seg.date, int32(g.vals[j]))
		}
		if quoteTime {
			dst = append(dst, '"')
		}
		return dst
	}
	// v3 writes every decimal of a number column (spec examples: 114.95,
	// 0.00, 5045.000), v2 trims them (THETADATA.md).
	return appendFixed(dst, g.vals[j], c.dec, false)
}

// appendV3CSVRow appends one v3 CSV line.
func appendV3CSVRow(dst []byte, g *gen, cols []col) []byte {
	dst = append(dst, g.con.v3CSV...)
	first := true
	for j := range cols {
		c := &cols[j]
		if c.v3 == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendV3Value(dst, g, c, j, false)
	}
	return append(dst, '\r', '\n') // the spec's CSV examples end lines with CRLF
}

// appendV3JSONRow appends one flat JSON object (no separator).
func appendV3JSONRow(dst []byte, g *gen, cols []col) []byte {
	dst = append(dst, g.con.v3JSON...)
	for j := range cols {
		c := &cols[j]
		if c.v3 == "" {
			continue
		}
		dst = append(dst, ',', '"')
		dst = append(dst, c.v3...)
		dst = append(dst, '"', ':')
		dst = appendV3Value(dst, g, c, j, true)
	}
	return append(dst, '}')
}

// appendV3DataRow appends one row of a format=json answer's "data" array:
// the row's columns without the contract (which its "contract" object
// holds).
func appendV3DataRow(dst []byte, g *gen, cols []col) []byte {
	dst = append(dst, '{')
	first := true
	for j := range cols {
		c := &cols[j]
		if c.v3 == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, c.v3...)
		dst = append(dst, '"', ':')
		dst = appendV3Value(dst, g, c, j, true)
	}
	return append(dst, '}')
}

// appendV2Values appends the v2 format columns (and the trailing date) of
// the current row, comma separated.
func appendV2Values(dst []byte, g *gen, cols []col) []byte {
	for j := range cols {
		c := &cols[j]
		if c.v2 == "" {
			continue
		}
		dst = appendFixed(dst, g.vals[j], c.dec, true)
		dst = append(dst, ',')
	}
	return strconv.AppendInt(dst, g.seg.dateInt, 10)
}
