package spx

import (
	"fmt"
	"strconv"
	"time"
)

// Date is a calendar date (a trade date or an expiration) stored as days since
// 1970-01-01, the same representation as Arrow's date32. The zero Date is
// 1970-01-01 and is never a valid trade date; use IsZero to test for "unset".
type Date int32

// NewYork is the exchange's time zone. Timestamps in the archive are New York
// wall-clock times.
var NewYork = mustLoadNewYork()

func mustLoadNewYork() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		// The tz database is embedded through time/tzdata in cmd mains; a
		// missing zone here is a build problem, not a runtime condition.
		panic(fmt.Sprintf("loading America/New_York: %v", err))
	}
	return loc
}

// DateOf returns the calendar date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return NewDate(y, m, d)
}

// NewDate builds a Date from year, month and day (normalising like time.Date).
func NewDate(year int, month time.Month, day int) Date {
	return Date(time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of the date.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// In returns midnight of the date in loc.
func (d Date) In(loc *time.Location) time.Time {
	y, m, dd := d.Time().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}

// YMD returns the year, month and day.
func (d Date) YMD() (int, time.Month, int) { return d.Time().Date() }

// Year returns the year.
func (d Date) Year() int { return d.Time().Year() }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday { return time.Weekday((int64(d)%7 + 7 + 4) % 7) }

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// IsZero reports whether d is the zero Date (unset).
func (d Date) IsZero() bool { return d == 0 }

// String formats the date as YYYY-MM-DD.
func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// Compact formats the date as YYYYMMDD, the form used in job keys, subjects
// and terminal requests.
func (d Date) Compact() string { return d.Time().Format("20060102") }

// Int returns the date as the integer YYYYMMDD (v2 terminal form).
func (d Date) Int() int {
	y, m, dd := d.YMD()
	return y*10000 + int(m)*100 + dd
}

// DateFromInt converts an integer YYYYMMDD into a Date, checking that it is a
// real calendar date.
func DateFromInt(v int) (Date, error) {
	y, m, d := v/10000, v/100%100, v%100
	if v < 10000101 || v > 99991231 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, fmt.Errorf("%d is not a date in YYYYMMDD form", v)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return 0, fmt.Errorf("%d is not a date: %s has no day %d", v, time.Month(m), d)
	}
	return DateOf(t), nil
}

// ParseDate parses YYYY-MM-DD strictly (a real calendar date, nothing else).
// The error says what is wrong and what form is expected.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("invalid date %q: use YYYY-MM-DD, e.g. 2024-01-02", s)
	}
	y, err1 := strconv.Atoi(s[0:4])
	m, err2 := strconv.Atoi(s[5:7])
	d, err3 := strconv.Atoi(s[8:10])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("invalid date %q: use YYYY-MM-DD, e.g. 2024-01-02", s)
	}
	if m < 1 || m > 12 {
		return 0, fmt.Errorf("invalid date %q: month %d is not 01-12", s, m)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if d < 1 || t.Day() != d {
		return 0, fmt.Errorf("invalid date %q: %s %d has no day %d", s, time.Month(m), y, d)
	}
	return DateOf(t), nil
}

// ParseCompactDate parses YYYYMMDD strictly.
func ParseCompactDate(s string) (Date, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("invalid date %q: want YYYYMMDD", s)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid date %q: want YYYYMMDD", s)
	}
	return DateFromInt(v)
}

// MarshalText implements encoding.TextMarshaler (YYYY-MM-DD).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (YYYY-MM-DD).
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
