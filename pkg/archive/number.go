package archive

import (
	"math"
	"strconv"
	"unsafe"
)

// scanNumber returns the end of the JSON number that starts at b[i], or -1
// if there is none there. JSON numbers are strict: no leading '+', no
// leading zeros, no NaN or Infinity, digits on both sides of '.'. isInt
// reports a number without fraction or exponent.
func scanNumber(b []byte, i int) (end int, isInt bool) {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	if i >= n {
		return -1, false
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i++
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return -1, false
	}
	isInt = true
	if i < n && b[i] == '.' {
		isInt = false
		i++
		s := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return -1, false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return -1, false
		}
	}
	return i, isInt
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat converts a token already checked by scanNumber. Short decimals
// (the terminal's prices and greeks) take an exact fast path: a mantissa
// below 2^53 divided by an exact power of ten is correctly rounded
// (Clinger). Anything else goes to strconv.
func parseFloat(tok []byte) float64 {
	i := 0
	neg := false
	if tok[0] == '-' {
		neg = true
		i = 1
	}
	var m uint64
	digits := 0
	frac := 0
	for ; i < len(tok); i++ {
		c := tok[i]
		if c >= '0' && c <= '9' {
			if digits < 19 {
				m = m*10 + uint64(c-'0')
				if m != 0 {
					digits++
				}
			} else {
				return slowFloat(tok)
			}
			continue
		}
		if c == '.' {
			i++
			for ; i < len(tok); i++ {
				c = tok[i]
				if c < '0' || c > '9' {
					return slowFloat(tok)
				}
				if digits >= 19 {
					return slowFloat(tok)
				}
				m = m*10 + uint64(c-'0')
				if m != 0 {
					digits++
				}
				frac++
			}
			break
		}
		return slowFloat(tok) // exponent
	}
	if m >= 1<<53 || frac > 22 {
		return slowFloat(tok)
	}
	f := float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f
}

func slowFloat(tok []byte) float64 {
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
	if err != nil {
		// Out of range: scanNumber accepted the grammar, so the only
		// failure is a magnitude past float64 (1e999).
		return math.Inf(1)
	}
	return f
}

// parseInt converts an integer token already checked by scanNumber; ok is
// false on int64 overflow.
func parseInt(tok []byte) (v int64, ok bool) {
	i := 0
	neg := false
	if tok[0] == '-' {
		neg = true
		i = 1
	}
	if len(tok)-i > 18 {
		return bigInt(tok)
	}
	for ; i < len(tok); i++ {
		v = v*10 + int64(tok[i]-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func bigInt(tok []byte) (int64, bool) {
	v, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(tok), len(tok)), 10, 64)
	return v, err == nil
}

// scanFloat validates and converts the JSON number at b[i] in one pass;
// end is -1 if there is none. It is the fast path's version of scanNumber
// followed by parseFloat.
func scanFloat(b []byte, i int) (f float64, end int) {
	start, n := i, len(b)
	neg := false
	if i < n && b[i] == '-' {
		neg = true
		i++
	}
	if i >= n {
		return 0, -1
	}
	var m uint64
	digits, frac := 0, 0
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		for i < n && b[i] >= '0' && b[i] <= '9' {
			m = m*10 + uint64(b[i]-'0')
			digits++
			i++
		}
	default:
		return 0, -1
	}
	if i < n && b[i] == '.' {
		i++
		s := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			m = m*10 + uint64(b[i]-'0')
			digits++
			i++
		}
		if i == s {
			return 0, -1
		}
		frac = i - s
	}
	if (i < n && (b[i] == 'e' || b[i] == 'E')) || digits > 19 || m >= 1<<53 || frac > 22 {
		end, _ = scanNumber(b, start)
		if end < 0 {
			return 0, -1
		}
		return slowFloat(b[start:end]), end
	}
	f = float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, i
}

// scanInt validates and converts the JSON integer at b[i]; end is -1 if
// there is none or it is not an integer (fraction, exponent, overflow).
func scanInt(b []byte, i int) (v int64, end int) {
	start, n := i, len(b)
	if i < n && b[i] == '-' {
		i++
	}
	if i >= n {
		return 0, -1
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		for i < n && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + int64(b[i]-'0')
			i++
		}
	default:
		return 0, -1
	}
	if i < n && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, -1
	}
	digits := i - start
	if b[start] == '-' {
		v = -v
		digits--
	}
	if digits > 18 {
		x, ok := bigInt(b[start:i])
		if !ok {
			return 0, -1
		}
		v = x
	}
	return v, i
}
