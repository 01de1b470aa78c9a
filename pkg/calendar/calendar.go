// Package calendar knows the sessions of the exchange where SPX options
// trade (NYSE holiday schedule): which dates are trading days and when each
// closes. It is computed by rule (holidays.go), with tables of one-off
// closures and early closes (exceptions.go), and is checked against the
// exchange's history for 2000–2030 (MinYear–MaxYear). Outside that range the
// rules still answer, but nobody has checked the answer.
//
// It must not do I/O, read the clock or keep mutable state beyond a cache of
// computed years: every answer is a pure function of its arguments.
package calendar

import (
	"fmt"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// The years whose sessions are verified against the exchange's history.
const (
	MinYear = 2000
	MaxYear = 2030
)

// Regular and early close times, New York wall clock.
const (
	RegularClose = "16:00"
	EarlyClose   = "13:00"
)

// Session is one trading day and its close in New York time.
type Session struct {
	Date  spx.Date `json:"date"`
	Close string   `json:"close"` // "16:00" or "13:00"
}

// CloseMsOfDay returns the session's close as milliseconds after midnight.
func (s Session) CloseMsOfDay() int32 {
	if s.Close == EarlyClose {
		return 13 * 3600 * 1000
	}
	return 16 * 3600 * 1000
}

// CloseTime returns the instant the session closes.
func (s Session) CloseTime() time.Time {
	y, m, d := s.Date.YMD()
	ms := int(s.CloseMsOfDay())
	return time.Date(y, m, d, ms/3600000, ms/60000%60, 0, 0, spx.NewYork)
}

// Holiday is a weekday on which the exchange is closed, or (from
// EarlyCloses) a session that ends at 13:00, with the reason.
type Holiday struct {
	Date spx.Date `json:"date"`
	Name string   `json:"name"`
}

// InRange reports whether d falls in the verified years MinYear–MaxYear.
func InRange(d spx.Date) bool {
	y := d.Year()
	return y >= MinYear && y <= MaxYear
}

// CheckRange returns an error naming the supported range when from or to
// falls outside it, or when from is after to. The error is meant for people.
func CheckRange(from, to spx.Date) error {
	for _, d := range []spx.Date{from, to} {
		if !InRange(d) {
			return fmt.Errorf("%s is outside the supported calendar range %d-01-01..%d-12-31: pick dates in %d-%d", d, MinYear, MaxYear, MinYear, MaxYear)
		}
	}
	if from > to {
		return fmt.Errorf("start %s is after end %s: the start must be on or before the end", from, to)
	}
	return nil
}

// IsSession reports whether d is a trading day.
func IsSession(d spx.Date) bool {
	wd := d.Weekday()
	if wd == time.Saturday || wd == time.Sunday {
		return false
	}
	_, closed := yearOf(d.Year()).closed[d]
	return !closed
}

// IsEarlyClose reports whether d is a session that closes at 13:00.
func IsEarlyClose(d spx.Date) bool {
	if !IsSession(d) {
		return false
	}
	_, early := yearOf(d.Year()).early[d]
	return early
}

// SessionOf returns d's session; ok is false when d is not a trading day.
func SessionOf(d spx.Date) (s Session, ok bool) {
	if !IsSession(d) {
		return Session{}, false
	}
	if IsEarlyClose(d) {
		return Session{Date: d, Close: EarlyClose}, true
	}
	return Session{Date: d, Close: RegularClose}, true
}

// Sessions returns every session in [from, to], in order.
func Sessions(from, to spx.Date) []Session {
	var out []Session
	for d := from; d <= to; d++ {
		if s, ok := SessionOf(d); ok {
			out = append(out, s)
		}
	}
	return out
}

// NextSession returns the first session strictly after d.
func NextSession(d spx.Date) spx.Date {
	for d++; !IsSession(d); d++ {
	}
	return d
}

// PrevSession returns the last session strictly before d.
func PrevSession(d spx.Date) spx.Date {
	for d--; !IsSession(d); d-- {
	}
	return d
}

// LastClosedSession returns the latest session whose close has passed at now
// (in New York): today counts only from its close (16:00, or 13:00 on an
// early-close day) on.
func LastClosedSession(now time.Time) spx.Date {
	d := spx.DateOf(now.In(spx.NewYork))
	if s, ok := SessionOf(d); ok && !now.Before(s.CloseTime()) {
		return d
	}
	return PrevSession(d)
}

// Holidays returns the weekdays of year on which the exchange is closed
// (regular holidays on their observed date, and one-off closures), in date
// order. A holiday that falls on a weekend with no weekday observed (New
// Year's Day on a Saturday) is not listed.
func Holidays(year int) []Holiday {
	return sortedDays(yearOf(year).closed)
}

// EarlyCloses returns the sessions of year that close at 13:00, with the
// reason, in date order.
func EarlyCloses(year int) []Holiday {
	return sortedDays(yearOf(year).early)
}
