package thetaspec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CheckParam reports whether v is a value the spec allows for p.
func CheckParam(p *Param, v string) error {
	if v == "*" {
		if p.Wildcard {
			return nil
		}
		return fmt.Errorf("%s=* is not allowed (the spec offers no wildcard)", p.Name)
	}
	if len(p.Enum) > 0 {
		if !slices.Contains(p.Enum, v) {
			return fmt.Errorf("%s=%s is not one of %s", p.Name, v, strings.Join(p.Enum, ", "))
		}
		return nil
	}
	switch {
	case p.Format == "date":
		if !isDate(v, "20060102") && !isDate(v, "2006-01-02") {
			return fmt.Errorf("%s=%s is not a date (YYYYMMDD or YYYY-MM-DD)", p.Name, v)
		}
	case p.Format == "time":
		if !isDate(v, "15:04:05") && !isDate(v, "15:04:05.000") {
			return fmt.Errorf("%s=%s is not a time of day (HH:MM:SS.SSS)", p.Name, v)
		}
	case p.Type == "integer":
		n, err := strconv.Atoi(v)
		if err != nil || (p.Minimum != nil && n < *p.Minimum) {
			return fmt.Errorf("%s=%s is not an integer of at least %v", p.Name, v, minOf(p))
		}
	case p.Type == "number" || p.Name == "strike":
		// strike is a string in the spec: dollars, e.g. 100.00, or *.
		if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 {
			return fmt.Errorf("%s=%s is not a positive number of dollars", p.Name, v)
		}
	case p.Type == "array":
		for _, s := range strings.Split(v, ",") {
			if strings.TrimSpace(s) == "" {
				return fmt.Errorf("%s=%s has an empty element", p.Name, v)
			}
		}
	case v == "":
		return fmt.Errorf("%s is empty", p.Name)
	}
	return nil
}

func minOf(p *Param) any {
	if p.Minimum == nil {
		return "any"
	}
	return *p.Minimum
}

func isDate(v, layout string) bool {
	_, err := time.Parse(layout, v)
	return err == nil
}

// CheckCell reports whether v (as sent: CSV text, or a JSON value's text
// without quotes) has the column's type and format. quoted says the JSON
// value was a string (nil for CSV, where it cannot be told).
func CheckCell(c *Column, v string, quoted *bool) error {
	wantQuoted := c.Type == "string"
	if quoted != nil && *quoted != wantQuoted {
		return fmt.Errorf("column %s: %q is a JSON %s, the spec says %s", c.Name, v, map[bool]string{true: "string", false: "number"}[*quoted], c.Type)
	}
	switch {
	case c.Format == "date":
		if !isDate(v, "2006-01-02") {
			return fmt.Errorf("column %s: %q is not a date YYYY-MM-DD", c.Name, v)
		}
	case c.Format == "date-time":
		if !isDate(v, "2006-01-02T15:04:05") && !isDate(v, "2006-01-02T15:04:05.000") {
			return fmt.Errorf("column %s: %q is not a timestamp YYYY-MM-DDTHH:MM:SS[.SSS]", c.Name, v)
		}
	case c.Type == "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("column %s: %q is not an integer", c.Name, v)
		}
	case c.Type == "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil || strings.ContainsAny(v, "nNiI") {
			return fmt.Errorf("column %s: %q is not a number", c.Name, v)
		}
	}
	return nil
}

// Decimals is the number of fraction digits in v (0 without a point).
func Decimals(v string) int {
	if _, f, ok := strings.Cut(v, "."); ok {
		return len(f)
	}
	return 0
}
