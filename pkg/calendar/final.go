package calendar

import (
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// When a day may be archived. This is the one rule every path that plans a
// day obeys (spx process*, enqueue-gaps, retry, the control API, the web
// page's retry, the follower): a day is archived only when it is a session
// of the verified years whose data is final, that is delay (follow.delay)
// after its close. A day archived earlier could hold part of a session and
// be recorded success, which gap analysis never looks at again.

// finalFormat is how the instant a day becomes final is shown.
const finalFormat = "2006-01-02 15:04 MST"

// FinalAt returns when the session's data counts as final: delay after its
// close (a negative delay counts as none).
func (s Session) FinalAt(delay time.Duration) time.Time {
	return s.CloseTime().Add(max(delay, 0))
}

// LastFinalSession returns the latest session whose data is final at now.
func LastFinalSession(now time.Time, delay time.Duration) spx.Date {
	d := LastClosedSession(now)
	for {
		s, _ := SessionOf(d)
		if !now.Before(s.FinalAt(delay)) {
			return d
		}
		d = PrevSession(d)
	}
}

// CheckDay returns nil when d may be archived at now: a session of
// MinYear–MaxYear whose data is final (delay after its close). Otherwise it
// returns a *spx.RefusedError whose one line says why, and for a session
// still to come when it becomes final.
func CheckDay(d spx.Date, now time.Time, delay time.Duration) error {
	if !InRange(d) {
		return outside(d)
	}
	s, ok := SessionOf(d)
	if !ok {
		return notSession(d)
	}
	if now.Before(s.FinalAt(delay)) {
		return notFinal(s, delay, "ask again then")
	}
	return nil
}

// CheckDays checks a request for the sessions of [from, to] and returns the
// end to use; a zero to means up to the latest session final at now. Both
// ends must lie in MinYear–MaxYear, the range must hold a session, and
// every session in it must be final; otherwise it returns a
// *spx.RefusedError whose one line says why and what to ask instead.
func CheckDays(from, to spx.Date, now time.Time, delay time.Duration) (spx.Date, error) {
	if !InRange(from) {
		return 0, outside(from)
	}
	last := LastFinalSession(now, delay)
	if to.IsZero() {
		if from > last {
			// Nothing from `from` on is final yet: say when the first is.
			next := from
			if !IsSession(next) {
				next = NextSession(from)
			}
			if err := CheckDay(next, now, delay); err != nil {
				return 0, err
			}
		}
		to = last
	}
	if !InRange(to) {
		return 0, outside(to)
	}
	if from > to {
		return 0, spx.Refusedf("start %s is after end %s: the start must be on or before the end", from, to)
	}
	if from == to {
		if err := CheckDay(from, now, delay); err != nil {
			return 0, err
		}
		return to, nil
	}
	sessions := Sessions(from, to)
	if len(sessions) == 0 {
		return 0, spx.Refusedf("%s to %s holds no trading session, only weekends or exchange holidays: nothing to process (spx calendar lists the sessions)", from, to)
	}
	for _, s := range sessions {
		if now.Before(s.FinalAt(delay)) {
			advice := "ask again then"
			if last >= from {
				advice = "end the range at " + last.String() + " or ask again then"
			}
			return 0, notFinal(s, delay, advice)
		}
	}
	return to, nil
}

func outside(d spx.Date) error {
	return spx.Refusedf("%s is outside the exchange calendar spx knows (%d-01-01 to %d-12-31): pick a date in it", d, MinYear, MaxYear)
}

func notSession(d spx.Date) error {
	if name, ok := yearOf(d.Year()).closed[d]; ok {
		return spx.Refusedf("%s is not a trading session: the exchange is closed for %s (spx calendar lists the sessions)", d, name)
	}
	return spx.Refusedf("%s is a %s, not a trading session (spx calendar lists the sessions)", d, d.Weekday())
}

func notFinal(s Session, delay time.Duration, advice string) error {
	return spx.Refusedf("%s is not final yet: its data counts as final from %s (its %s close plus follow.delay %s); %s",
		s.Date, s.FinalAt(delay).Format(finalFormat), s.Close, shortDuration(max(delay, 0)), advice)
}

// shortDuration writes 2h rather than 2h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
