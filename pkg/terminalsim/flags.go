package terminalsim

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseErrorRates parses "474=0.05,570=0.01" into status code →
// probability.
func ParseErrorRates(s string) (map[int]float64, error) {
	out := map[int]float64{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		code, rate, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("invalid fault rate %q: use CODE=PROBABILITY, e.g. 474=0.05", part)
		}
		c, err := strconv.Atoi(code)
		if err != nil || c < 400 || c > 599 {
			return nil, fmt.Errorf("invalid fault rate %q: the code must be an HTTP error status such as 474", part)
		}
		r, err := strconv.ParseFloat(rate, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("invalid fault rate %q: the probability must be between 0 and 1", part)
		}
		out[c] = r
	}
	return out, nil
}
