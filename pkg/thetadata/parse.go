package thetadata

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"strconv"

	"github.com/spx-archive/spx/pkg/spx"
)

// isNumber reports whether b is a JSON number literal (which excludes NaN,
// Inf, empty and anything else).
func isNumber(b []byte) bool {
	i, n := 0, len(b)
	if n == 0 {
		return false
	}
	if b[0] == '-' {
		i++
	}
	// b[i]-'0' < 10 is one unsigned comparison for a digit.
	s := i
	for i < n && b[i]-'0' < 10 {
		i++
	}
	if i == s || b[s] == '0' && i > s+1 {
		return false // no integer part, or a leading zero
	}
	if i == n {
		return true
	}
	if b[i] == '.' {
		i++
		s := i
		for i < n && b[i]-'0' < 10 {
			i++
		}
		if i == s {
			return false
		}
		if i == n {
			return true
		}
	}
	if b[i] == 'e' || b[i] == 'E' {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < n && b[i]-'0' < 10 {
			i++
		}
		if i == s {
			return false
		}
	}
	return i == n
}

// atoi parses an unsigned decimal integer of at most 18 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// dateCache turns date text into spx.Date, remembering the last answer:
// rows of one response share very few dates.
type dateCache struct {
	raw  [10]byte
	n    int
	date spx.Date
}

// parse accepts YYYY-MM-DD, YYYYMMDD, or the date part of an ISO timestamp
// (the caller passes the first 10 bytes).
func (c *dateCache) parse(b []byte) (spx.Date, bool) {
	if c.n == len(b) && c.n > 0 && bytes.Equal(c.raw[:c.n], b) {
		return c.date, true
	}
	var v int
	var ok bool
	switch len(b) {
	case 10:
		if b[4] != '-' || b[7] != '-' {
			return 0, false
		}
		y, ok1 := atoi(b[0:4])
		m, ok2 := atoi(b[5:7])
		d, ok3 := atoi(b[8:10])
		v, ok = y*10000+m*100+d, ok1 && ok2 && ok3
	case 8:
		v, ok = atoi(b)
	}
	if !ok {
		return 0, false
	}
	d, err := spx.DateFromInt(v)
	if err != nil {
		return 0, false
	}
	c.n = copy(c.raw[:], b)
	c.date = d
	return d, true
}

// intDate converts a YYYYMMDD integer, cached.
func (c *dateCache) intDate(b []byte) (spx.Date, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return c.parse(b)
}

// parseTimestamp reads an ISO local timestamp "YYYY-MM-DDTHH:MM:SS[.fff]"
// (a space instead of T is accepted) into its date (when present) and
// milliseconds of the day. A bare integer is taken as milliseconds already.
func parseTimestamp(b []byte, dc *dateCache) (d spx.Date, hasDate bool, ms int, ok bool) {
	if v, isInt := atoi(b); isInt {
		return 0, false, v, v < 86_400_000*2
	}
	if len(b) < 19 || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false, 0, false
	}
	d, ok = dc.parse(b[:10])
	if !ok {
		return 0, false, 0, false
	}
	h, ok1 := atoi(b[11:13])
	m, ok2 := atoi(b[14:16])
	s, ok3 := atoi(b[17:19])
	if !ok1 || !ok2 || !ok3 || h > 24 || m > 59 || s > 60 {
		return 0, false, 0, false
	}
	ms = ((h*60+m)*60 + s) * 1000
	rest := b[19:]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 {
			return 0, false, 0, false
		}
		frac := 0
		for i, c := range rest[1:] {
			if c < '0' || c > '9' {
				return 0, false, 0, false
			}
			if i < 3 {
				frac = frac*10 + int(c-'0')
			}
		}
		for i := len(rest) - 1; i < 3; i++ {
			frac *= 10
		}
		ms += frac
	}
	return d, true, ms, true
}

// parseRight accepts C, P, CALL, PUT in any case.
func parseRight(b []byte) (byte, bool) {
	switch len(b) {
	case 1:
		switch b[0] {
		case 'C', 'c':
			return 'C', true
		case 'P', 'p':
			return 'P', true
		}
	case 4:
		if bytes.EqualFold(b, []byte("CALL")) {
			return 'C', true
		}
	case 3:
		if bytes.EqualFold(b, []byte("PUT")) {
			return 'P', true
		}
	}
	return 0, false
}

// contractCache parses contract fields, reusing the last parsed value while
// the raw text repeats (rows of one contract come together).
type contractCache struct {
	root      string
	strikeRaw []byte
	strike    float64
	exp       dateCache
}

func (c *contractCache) rootOf(b []byte) string {
	if string(b) != c.root {
		c.root = string(b)
	}
	return c.root
}

// strikeOf parses a strike; div is 1 for dollars (v3) or 1000 for v2's
// tenths of a cent.
func (c *contractCache) strikeOf(b []byte, div float64) (float64, bool) {
	if c.strikeRaw != nil && bytes.Equal(b, c.strikeRaw) {
		return c.strike, true
	}
	if !isNumber(b) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	c.strikeRaw = append(c.strikeRaw[:0], b...)
	c.strike = v / div
	return c.strike, true
}

// lineReader reads lines without allocating per line.
type lineReader struct {
	br   *bufio.Reader
	long []byte
	url  string
	// unterminated allows a last line without a line ending (NDJSON: the
	// spec's examples end so); cut then says it was one.
	unterminated, cut bool
}

// next returns the next line without its line ending; io.EOF at a clean end.
// A last line without a newline means the body was cut: transient error.
// The line is valid until the next call.
func (l *lineReader) next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.long = append(l.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = l.br.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	if err != nil {
		if err == io.EOF {
			if len(line) == 0 {
				return nil, io.EOF
			}
			if l.unterminated {
				l.cut = true
				return bytes.TrimSuffix(line, []byte("\r")), nil
			}
			return nil, truncated(l.url, "the last line has no line ending")
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// splitCSV splits one CSV line into fields, appended to dst[:0]. Quoted
// fields are unquoted; an empty unquoted field is nil. Fields point into line
// except those with doubled quotes, which are copied.
func splitCSV(line []byte, dst [][]byte) ([][]byte, bool) {
	dst = dst[:0]
	if d, ok := splitPlain(line, dst); ok {
		return d, true
	}
	dst = dst[:0]
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			j := i + 1
			escaped := false
			for {
				k := bytes.IndexByte(line[j:], '"')
				if k < 0 {
					return dst, false // unterminated quote
				}
				j += k
				if j+1 < len(line) && line[j+1] == '"' {
					escaped = true
					j += 2
					continue
				}
				break
			}
			f := line[i+1 : j]
			if escaped {
				f = bytes.ReplaceAll(f, []byte(`""`), []byte(`"`))
			}
			dst = append(dst, f)
			i = j + 1
			if i == len(line) {
				return dst, true
			}
			if line[i] != ',' {
				return dst, false
			}
			i++
			continue
		}
		k := bytes.IndexByte(line[i:], ',')
		if k < 0 {
			dst = append(dst, nilIfEmpty(line[i:]))
			return dst, true
		}
		dst = append(dst, nilIfEmpty(line[i:i+k]))
		i += k + 1
	}
}

// splitPlain is splitCSV for a line without quotes (ok is false when it
// has one): it finds the commas 8 bytes at a time, which beats a search per
// (short) field.
func splitPlain(line []byte, dst [][]byte) (_ [][]byte, ok bool) {
	s, i := 0, 0
	var quotes uint64
	for ; i+8 <= len(line); i += 8 {
		x := binary.LittleEndian.Uint64(line[i:])
		quotes |= zeroBytes(x ^ '"'*ones)
		m := zeroBytes(x ^ ','*ones)
		for m != 0 {
			j := i + bits.TrailingZeros64(m)>>3
			dst = append(dst, nilIfEmpty(line[s:j]))
			s = j + 1
			m &= m - 1
		}
	}
	for ; i < len(line); i++ {
		switch line[i] {
		case ',':
			dst = append(dst, nilIfEmpty(line[s:i]))
			s = i + 1
		case '"':
			quotes = 1
		}
	}
	return append(dst, nilIfEmpty(line[s:])), quotes == 0
}

const (
	ones = 0x0101010101010101 // one byte repeated, for 8 bytes at once
	lows = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes sets the high bit of exactly the bytes of x that are zero (no
// carry crosses bytes, so unlike the usual trick it has no false positives).
func zeroBytes(x uint64) uint64 {
	return ^((x & lows) + lows | x | lows)
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// splitFlatObject parses one NDJSON line, a flat JSON object whose values are
// strings, numbers or null, into keys and values (string values unquoted,
// null as nil). Escapes in strings are kept as sent.
func splitFlatObject(line []byte, keys, vals [][]byte) ([][]byte, [][]byte, bool) {
	keys, vals = keys[:0], vals[:0]
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return keys, vals, false
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return keys, vals, skipSpace(line, i+1) == len(line)
	}
	for {
		k, j, ok := scanString(line, i)
		if !ok {
			return keys, vals, false
		}
		i = skipSpace(line, j)
		if i >= len(line) || line[i] != ':' {
			return keys, vals, false
		}
		i = skipSpace(line, i+1)
		if i >= len(line) {
			return keys, vals, false
		}
		var v []byte
		if line[i] == '"' {
			v, i, ok = scanString(line, i)
			if !ok {
				return keys, vals, false
			}
			if v == nil {
				v = line[i-1 : i-1] // empty string, not null
			}
		} else {
			s := i
			for i < len(line) && line[i] != ',' && line[i] != '}' && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			v = line[s:i]
			if string(v) == "null" {
				v = nil
			} else if len(v) == 0 || v[0] == '{' || v[0] == '[' {
				return keys, vals, false
			}
		}
		keys, vals = append(keys, k), append(vals, v)
		i = skipSpace(line, i)
		if i >= len(line) {
			return keys, vals, false
		}
		switch line[i] {
		case ',':
			i = skipSpace(line, i+1)
		case '}':
			return keys, vals, skipSpace(line, i+1) == len(line)
		default:
			return keys, vals, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString reads a JSON string starting at b[i] == '"'; it returns the raw
// contents and the index after the closing quote.
func scanString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return b[i+1 : j], j + 1, true
		}
	}
	return nil, i, false
}
