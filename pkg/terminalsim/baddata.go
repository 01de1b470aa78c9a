package terminalsim

import (
	"bytes"
	"fmt"
	"strings"
)

// Bad-data kinds (Faults.BadData): malformed answers a real terminal has
// been seen to give, for testing that spx refuses them instead of archiving
// them. They apply to v3 CSV history answers (what spx requests); other
// formats are served intact.
const (
	BadHeader = "header" // the header names a column the dataset does not have
	BadNaN    = "nan"    // one row's last value is NaN
	BadInf    = "inf"    // one row's last value is Inf
	BadFields = "fields" // one row has a field too many
	BadEmpty  = "empty"  // a 200 answer with an empty body
)

var badKinds = []string{BadHeader, BadNaN, BadInf, BadFields, BadEmpty}

// ParseBadData checks a --bad-data value ("" is off).
func ParseBadData(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	for _, k := range badKinds {
		if s == k {
			return s, nil
		}
	}
	return "", fmt.Errorf("invalid bad-data kind %q: use one of %s", s, strings.Join(badKinds, ", "))
}

// badData is the kind to apply to an answer in format ("" for none).
func badData(kind string, format rowFormat) string {
	if format != fmtV3CSV {
		return ""
	}
	return kind
}

// badHeader renames the header's last column.
func badHeader(head []byte) []byte {
	line := bytes.TrimRight(head, "\r\n")
	i := bytes.LastIndexByte(line, ',')
	out := append([]byte(nil), line[:i+1]...)
	return append(out, "unexpected_column\r\n"...)
}

// badRow spoils one CSV row (ending in a newline) as kind says.
func badRow(kind string, row []byte) []byte {
	line := bytes.TrimRight(row, "\r\n")
	i := bytes.LastIndexByte(line, ',')
	out := append([]byte(nil), line[:i+1]...)
	switch kind {
	case BadNaN:
		out = append(out, "NaN"...)
	case BadInf:
		out = append(out, "Inf"...)
	case BadFields:
		out = append(append(out, line[i+1:]...), ",1"...)
	default:
		out = append(out, line[i+1:]...)
	}
	return append(out, '\r', '\n')
}
