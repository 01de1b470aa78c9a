package calendar

import (
	"slices"
	"sync"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// year holds the computed closures and early closes of one calendar year.
// Both maps hold weekdays only; early never holds a date that is in closed.
type year struct {
	closed map[spx.Date]string
	early  map[spx.Date]string
}

// years caches computed years; the rules are pure, so a cached year never
// goes stale.
var years sync.Map // int -> *year

func yearOf(y int) *year {
	if v, ok := years.Load(y); ok {
		return v.(*year)
	}
	v, _ := years.LoadOrStore(y, computeYear(y))
	return v.(*year)
}

func computeYear(y int) *year {
	yr := &year{closed: map[spx.Date]string{}, early: map[spx.Date]string{}}
	add := func(d spx.Date, name string) {
		if d.Year() != y || isWeekend(d) {
			return
		}
		if _, dup := yr.closed[d]; !dup {
			yr.closed[d] = name
		}
	}

	// NYSE Rule 7.2: a holiday on a Saturday is observed the Friday before,
	// one on a Sunday the Monday after — except that New Year's Day on a
	// Saturday is not observed at all, because the Friday before ends the
	// yearly accounting period (e.g. 2021-12-31 and 2010-12-31 were sessions).
	if d := spx.NewDate(y, time.January, 1); d.Weekday() != time.Saturday {
		add(observedName(d, "New Year's Day"))
	}
	if y >= 1998 { // the exchange first closed for MLK Day in 1998
		add(nthWeekday(y, time.January, time.Monday, 3), "Martin Luther King Jr. Day")
	}
	add(nthWeekday(y, time.February, time.Monday, 3), "Washington's Birthday")
	add(easter(y).AddDays(-2), "Good Friday")
	add(lastWeekday(y, time.May, time.Monday), "Memorial Day")
	if y >= 2022 { // first observed by the exchange on 2022-06-20
		add(observedName(spx.NewDate(y, time.June, 19), "Juneteenth National Independence Day"))
	}
	add(observedName(spx.NewDate(y, time.July, 4), "Independence Day"))
	add(nthWeekday(y, time.September, time.Monday, 1), "Labor Day")
	thanksgiving := nthWeekday(y, time.November, time.Thursday, 4)
	add(thanksgiving, "Thanksgiving Day")
	add(observedName(spx.NewDate(y, time.December, 25), "Christmas Day"))
	for _, c := range oneOffClosures {
		if c.Date.Year() == y {
			add(c.Date, c.Name)
		}
	}

	// Early closes at 13:00 (NYSE Rule 7.2, notes to the yearly "Holidays and
	// Trading Hours" notice; history from the NYSE closings record).
	early := func(d spx.Date, name string) {
		if d.Year() != y || isWeekend(d) {
			return
		}
		if _, closed := yr.closed[d]; closed {
			return
		}
		yr.early[d] = name
	}
	// The day after Thanksgiving, every year since 1993.
	early(thanksgiving.AddDays(1), "Day after Thanksgiving")
	// Independence Day: when July 4 falls Tuesday–Friday, July 3 closes early.
	// Before 2013 a Thursday July 4 moved the early close to Friday July 5
	// (e.g. 2002-07-05); from 2013 it is Wednesday July 3 (2013, 2019, 2024).
	// A Monday, Saturday or Sunday July 4 gives no early close.
	switch jul3 := spx.NewDate(y, time.July, 3); jul3.Weekday() {
	case time.Monday, time.Tuesday, time.Thursday:
		early(jul3, "Day before Independence Day")
	case time.Wednesday:
		if y >= 2013 {
			early(jul3, "Day before Independence Day")
		} else {
			early(jul3.AddDays(2), "Day after Independence Day")
		}
	}
	// Christmas Eve, when it is Monday–Thursday. A Friday Dec 24 is the
	// observed Christmas holiday, and a weekend Dec 24 moves nothing (e.g.
	// Friday 2023-12-22 was a full session).
	if eve := spx.NewDate(y, time.December, 24); eve.Weekday() >= time.Monday && eve.Weekday() <= time.Thursday {
		early(eve, "Christmas Eve")
	}
	for _, c := range oneOffEarlyCloses {
		if c.Date.Year() == y {
			early(c.Date, c.Name)
		}
	}
	return yr
}

// observedName moves a fixed-date holiday off a weekend (Saturday → Friday,
// Sunday → Monday) and marks the name when it moved.
func observedName(d spx.Date, name string) (spx.Date, string) {
	switch d.Weekday() {
	case time.Saturday:
		return d.AddDays(-1), name + " (observed)"
	case time.Sunday:
		return d.AddDays(1), name + " (observed)"
	}
	return d, name
}

func isWeekend(d spx.Date) bool {
	wd := d.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// nthWeekday returns the n-th (1-based) wd of month in year.
func nthWeekday(year int, month time.Month, wd time.Weekday, n int) spx.Date {
	first := spx.NewDate(year, month, 1)
	offset := (int(wd) - int(first.Weekday()) + 7) % 7
	return first.AddDays(offset + 7*(n-1))
}

// lastWeekday returns the last wd of month in year.
func lastWeekday(year int, month time.Month, wd time.Weekday) spx.Date {
	last := spx.NewDate(year, month+1, 0)
	back := (int(last.Weekday()) - int(wd) + 7) % 7
	return last.AddDays(-back)
}

// easter returns Easter Sunday of year in the Gregorian calendar (the
// anonymous Gregorian computus, Meeus/Jones/Butcher).
func easter(year int) spx.Date {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return spx.NewDate(year, time.Month(month), day)
}

func sortedDays(m map[spx.Date]string) []Holiday {
	out := make([]Holiday, 0, len(m))
	for d, name := range m {
		out = append(out, Holiday{Date: d, Name: name})
	}
	slices.SortFunc(out, func(a, b Holiday) int { return int(a.Date - b.Date) })
	return out
}
