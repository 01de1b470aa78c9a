// Package calendar knows the sessions of the exchange where SPX options
// trade (NYSE holiday schedule): which dates are trading days and when each
// closes. It is computed by rule, with a table of one-off closures and early
// closes. It must not do I/O.
package calendar

import (
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Session is one trading day and its close in New York time.
type Session struct {
	Date  spx.Date `json:"date"`
	Close string   `json:"close"` // "16:00" or "13:00"
}

// CloseMsOfDay returns the session's close as milliseconds after midnight.
func (s Session) CloseMsOfDay() int32 {
	if s.Close == "13:00" {
		return 13 * 3600 * 1000
	}
	return 16 * 3600 * 1000
}

// IsSession reports whether d is a trading day.
// PLACEHOLDER: weekdays only until the holiday rules land.
func IsSession(d spx.Date) bool {
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// SessionOf returns d's session; ok is false when d is not a trading day.
func SessionOf(d spx.Date) (s Session, ok bool) {
	if !IsSession(d) {
		return Session{}, false
	}
	return Session{Date: d, Close: "16:00"}, true
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

// LastClosedSession returns the latest session whose close has passed at now.
func LastClosedSession(now time.Time) spx.Date {
	ny := now.In(spx.NewYork)
	d := spx.DateOf(ny)
	for {
		if s, ok := SessionOf(d); ok {
			closeAt := d.In(spx.NewYork).Add(time.Duration(s.CloseMsOfDay()) * time.Millisecond)
			if !ny.Before(closeAt) {
				return d
			}
		}
		d--
	}
}
