package calendar

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

func date(t *testing.T, s string) spx.Date {
	t.Helper()
	d, err := spx.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Every full-day closure of the exchange in 2019–2026, as published in the
// NYSE's yearly holiday notices.
var knownHolidays = map[int][]string{
	2019: {"01-01", "01-21", "02-18", "04-19", "05-27", "07-04", "09-02", "11-28", "12-25"},
	2020: {"01-01", "01-20", "02-17", "04-10", "05-25", "07-03", "09-07", "11-26", "12-25"},
	2021: {"01-01", "01-18", "02-15", "04-02", "05-31", "07-05", "09-06", "11-25", "12-24"},
	2022: {"01-17", "02-21", "04-15", "05-30", "06-20", "07-04", "09-05", "11-24", "12-26"},
	2023: {"01-02", "01-16", "02-20", "04-07", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"},
	2024: {"01-01", "01-15", "02-19", "03-29", "05-27", "06-19", "07-04", "09-02", "11-28", "12-25"},
	2025: {"01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"},
	2026: {"01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"},
}

func TestHolidaysMatchPublishedSchedules(t *testing.T) {
	for y, want := range knownHolidays {
		var got []string
		for _, h := range Holidays(y) {
			got = append(got, h.Date.String()[5:])
			if IsSession(h.Date) {
				t.Errorf("%s (%s) is listed as a holiday but IsSession says it trades", h.Date, h.Name)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Holidays(%d) = %v, want %v", y, got, want)
		}
	}
}

// TestClosedDays pins every holiday rule with concrete dates across 2000–2030,
// including the weekend observance edge cases.
func TestClosedDays(t *testing.T) {
	tests := []struct {
		date string
		name string // substring of the holiday's name
	}{
		// New Year's Day, Sunday → Monday.
		{"2006-01-02", "New Year's Day (observed)"},
		{"2012-01-02", "New Year's Day (observed)"},
		{"2017-01-02", "New Year's Day (observed)"},
		{"2023-01-02", "New Year's Day (observed)"},
		{"2030-01-01", "New Year's Day"},
		// Martin Luther King Jr. Day, third Monday of January.
		{"2000-01-17", "Martin Luther King"},
		{"2010-01-18", "Martin Luther King"},
		{"2030-01-21", "Martin Luther King"},
		// Washington's Birthday, third Monday of February.
		{"2000-02-21", "Washington's Birthday"},
		{"2015-02-16", "Washington's Birthday"},
		{"2028-02-21", "Washington's Birthday"},
		// Memorial Day, last Monday of May.
		{"2000-05-29", "Memorial Day"},
		{"2004-05-31", "Memorial Day"},
		{"2027-05-31", "Memorial Day"},
		// Juneteenth from 2022, with weekend observance.
		{"2022-06-20", "Juneteenth National Independence Day (observed)"},
		{"2023-06-19", "Juneteenth"},
		{"2027-06-18", "Juneteenth National Independence Day (observed)"},
		{"2028-06-19", "Juneteenth"},
		// Independence Day with weekend observance.
		{"2004-07-05", "Independence Day (observed)"},
		{"2009-07-03", "Independence Day (observed)"},
		{"2015-07-03", "Independence Day (observed)"},
		{"2020-07-03", "Independence Day (observed)"},
		{"2021-07-05", "Independence Day (observed)"},
		{"2026-07-03", "Independence Day (observed)"},
		{"2027-07-05", "Independence Day (observed)"},
		{"2024-07-04", "Independence Day"},
		// Labor Day, first Monday of September.
		{"2000-09-04", "Labor Day"},
		{"2020-09-07", "Labor Day"},
		{"2030-09-02", "Labor Day"},
		// Thanksgiving, fourth Thursday of November.
		{"2000-11-23", "Thanksgiving"},
		{"2018-11-22", "Thanksgiving"},
		{"2019-11-28", "Thanksgiving"},
		{"2030-11-28", "Thanksgiving"},
		// Christmas with weekend observance.
		{"2004-12-24", "Christmas Day (observed)"},
		{"2005-12-26", "Christmas Day (observed)"},
		{"2010-12-24", "Christmas Day (observed)"},
		{"2016-12-26", "Christmas Day (observed)"},
		{"2021-12-24", "Christmas Day (observed)"},
		{"2022-12-26", "Christmas Day (observed)"},
		{"2027-12-24", "Christmas Day (observed)"},
		{"2030-12-25", "Christmas Day"},
		// One-off closures.
		{"2001-09-11", "September 11"},
		{"2001-09-12", "September 11"},
		{"2001-09-13", "September 11"},
		{"2001-09-14", "September 11"},
		{"2004-06-11", "Reagan"},
		{"2007-01-02", "Ford"},
		{"2012-10-29", "Sandy"},
		{"2012-10-30", "Sandy"},
		{"2018-12-05", "Bush"},
		{"2025-01-09", "Carter"},
	}
	for _, tt := range tests {
		d := date(t, tt.date)
		if IsSession(d) {
			t.Errorf("IsSession(%s) = true, want a closure (%s)", tt.date, tt.name)
			continue
		}
		if _, ok := SessionOf(d); ok {
			t.Errorf("SessionOf(%s) ok = true for a closure", tt.date)
		}
		i := slices.IndexFunc(Holidays(d.Year()), func(h Holiday) bool { return h.Date == d })
		if i < 0 {
			t.Errorf("Holidays(%d) misses %s (%s)", d.Year(), tt.date, tt.name)
			continue
		}
		if got := Holidays(d.Year())[i].Name; !strings.Contains(got, tt.name) {
			t.Errorf("holiday %s is named %q, want it to contain %q", tt.date, got, tt.name)
		}
	}
}

// TestOpenDays pins the days a careless rule would close.
func TestOpenDays(t *testing.T) {
	tests := []struct{ date, why string }{
		{"2021-12-31", "New Year's Day 2022 is a Saturday: no Friday holiday (NYSE Rule 7.2, year end)"},
		{"2027-12-31", "New Year's Day 2028 is a Saturday: no Friday holiday"},
		{"2010-12-31", "New Year's Day 2011 is a Saturday: no Friday holiday"},
		{"2004-12-31", "New Year's Day 2005 is a Saturday: no Friday holiday"},
		{"2021-06-18", "no Juneteenth holiday before 2022"},
		{"2021-06-21", "no Juneteenth holiday before 2022"},
		{"2023-12-22", "Christmas 2023 is a Monday: Friday before is a full session"},
		{"2025-12-26", "the day after Christmas 2025 traded"},
		{"2001-09-17", "the exchange reopened after September 11"},
		{"2012-10-31", "the exchange reopened after Hurricane Sandy"},
		{"2020-07-02", "Thursday before an observed Friday July 3"},
		{"1999-12-31", "New Year's Day 2000 is a Saturday"},
	}
	for _, tt := range tests {
		if !IsSession(date(t, tt.date)) {
			t.Errorf("IsSession(%s) = false, want a session: %s", tt.date, tt.why)
		}
	}
	if IsSession(date(t, "2024-07-06")) || IsSession(date(t, "2024-07-07")) {
		t.Error("weekend days must not be sessions")
	}
}

func TestGoodFriday(t *testing.T) {
	want := []string{
		"2000-04-21", "2001-04-13", "2002-03-29", "2003-04-18", "2004-04-09",
		"2005-03-25", "2006-04-14", "2007-04-06", "2008-03-21", "2009-04-10",
		"2010-04-02", "2011-04-22", "2012-04-06", "2013-03-29", "2014-04-18",
		"2015-04-03", "2016-03-25", "2017-04-14", "2018-03-30", "2019-04-19",
		"2020-04-10", "2021-04-02", "2022-04-15", "2023-04-07", "2024-03-29",
		"2025-04-18", "2026-04-03", "2027-03-26", "2028-04-14", "2029-03-30",
		"2030-04-19",
	}
	for _, s := range want {
		d := date(t, s)
		if IsSession(d) {
			t.Errorf("Good Friday %s is a session", s)
		}
		i := slices.IndexFunc(Holidays(d.Year()), func(h Holiday) bool { return h.Name == "Good Friday" })
		if i < 0 || Holidays(d.Year())[i].Date != d {
			t.Errorf("Good Friday of %d is not %s", d.Year(), s)
		}
		// The Thursday before trades.
		if !IsSession(d.AddDays(-1)) {
			t.Errorf("the day before Good Friday %s is closed", s)
		}
	}
}

// Early closes (13:00) from the NYSE's yearly holiday notices, 2019–2026,
// and the history checks before that.
var knownEarlyCloses = map[int][]string{
	2000: {"07-03", "11-24"},
	2001: {"07-03", "11-23", "12-24"},
	2002: {"07-05", "11-29", "12-24"},
	2003: {"07-03", "11-28", "12-24", "12-26"},
	2004: {"11-26"},
	2012: {"07-03", "11-23", "12-24"},
	2013: {"07-03", "11-29", "12-24"},
	2019: {"07-03", "11-29", "12-24"},
	2020: {"11-27", "12-24"},
	2021: {"11-26"},
	2022: {"11-25"},
	2023: {"07-03", "11-24"},
	2024: {"07-03", "11-29", "12-24"},
	2025: {"07-03", "11-28", "12-24"},
	2026: {"11-27", "12-24"},
	2027: {"11-26"},
}

func TestEarlyCloses(t *testing.T) {
	for y, want := range knownEarlyCloses {
		var got []string
		for _, e := range EarlyCloses(y) {
			got = append(got, e.Date.String()[5:])
			s, ok := SessionOf(e.Date)
			if !ok || s.Close != "13:00" || !IsEarlyClose(e.Date) {
				t.Errorf("early close %s: SessionOf = %+v, %v; IsEarlyClose = %v", e.Date, s, ok, IsEarlyClose(e.Date))
			}
			if s.CloseMsOfDay() != 13*3600*1000 {
				t.Errorf("early close %s: CloseMsOfDay = %d", e.Date, s.CloseMsOfDay())
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("EarlyCloses(%d) = %v, want %v", y, got, want)
		}
	}
	// Every year has the day after Thanksgiving and nothing else outside
	// July and December.
	for y := MinYear; y <= MaxYear; y++ {
		n := 0
		for _, e := range EarlyCloses(y) {
			_, m, _ := e.Date.YMD()
			switch m {
			case time.November:
				n++
				thu := e.Date.AddDays(-1)
				i := slices.IndexFunc(Holidays(y), func(h Holiday) bool { return h.Date == thu })
				if e.Date.Weekday() != time.Friday || i < 0 || Holidays(y)[i].Name != "Thanksgiving Day" {
					t.Errorf("November early close %s is not the day after Thanksgiving", e.Date)
				}
			case time.July, time.December:
			default:
				t.Errorf("unexpected early close %s", e.Date)
			}
		}
		if n != 1 {
			t.Errorf("%d has %d November early closes, want 1", y, n)
		}
	}
	for _, s := range []string{"2021-12-23", "2022-12-23", "2023-12-22", "2021-07-02", "2020-07-02", "2022-07-01", "2002-07-03", "2013-07-05"} {
		d := date(t, s)
		if IsEarlyClose(d) {
			t.Errorf("%s is not an early close", s)
		}
		if sess, ok := SessionOf(d); !ok || sess.Close != "16:00" {
			t.Errorf("SessionOf(%s) = %+v, %v; want a 16:00 session", s, sess, ok)
		}
	}
	if IsEarlyClose(date(t, "2024-07-04")) {
		t.Error("a holiday is not an early close")
	}
}

func TestSessionCounts(t *testing.T) {
	// Trading days per year as reported by the exchange.
	want := map[int]int{
		2001: 248, 2008: 253, 2012: 250, 2018: 251, 2019: 252, 2020: 253,
		2021: 252, 2022: 251, 2023: 250, 2024: 252, 2025: 250,
	}
	for y, n := range want {
		got := Sessions(spx.NewDate(y, time.January, 1), spx.NewDate(y, time.December, 31))
		if len(got) != n {
			t.Errorf("%d has %d sessions, want %d", y, len(got), n)
		}
	}
	// Every year: weekdays minus listed holidays equals the session count,
	// and sessions are ascending.
	for y := MinYear; y <= MaxYear; y++ {
		from, to := spx.NewDate(y, time.January, 1), spx.NewDate(y, time.December, 31)
		weekdays := 0
		for d := from; d <= to; d++ {
			if !isWeekend(d) {
				weekdays++
			}
		}
		ss := Sessions(from, to)
		if len(ss) != weekdays-len(Holidays(y)) {
			t.Errorf("%d: %d sessions, but %d weekdays and %d holidays", y, len(ss), weekdays, len(Holidays(y)))
		}
		if len(ss) < 248 || len(ss) > 253 {
			t.Errorf("%d: implausible %d sessions", y, len(ss))
		}
		for i := 1; i < len(ss); i++ {
			if ss[i].Date <= ss[i-1].Date {
				t.Fatalf("%d: sessions out of order at %s", y, ss[i].Date)
			}
		}
	}
}

func TestNextPrevSession(t *testing.T) {
	tests := []struct{ d, next, prev string }{
		{"2024-07-03", "2024-07-05", "2024-07-02"}, // across Independence Day
		{"2024-07-04", "2024-07-05", "2024-07-03"}, // from a holiday
		{"2024-07-06", "2024-07-08", "2024-07-05"}, // from a Saturday
		{"2001-09-10", "2001-09-17", "2001-09-07"}, // across September 11
		{"2021-12-23", "2021-12-27", "2021-12-22"}, // across observed Christmas
		{"2021-12-31", "2022-01-03", "2021-12-30"}, // across the year end
		{"2018-04-02", "2018-04-03", "2018-03-29"}, // back across Good Friday
	}
	for _, tt := range tests {
		d := date(t, tt.d)
		if got := NextSession(d); got != date(t, tt.next) {
			t.Errorf("NextSession(%s) = %s, want %s", tt.d, got, tt.next)
		}
		if got := PrevSession(d); got != date(t, tt.prev) {
			t.Errorf("PrevSession(%s) = %s, want %s", tt.d, got, tt.prev)
		}
	}
}

func TestLastClosedSession(t *testing.T) {
	ny := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, spx.NewYork)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		now  time.Time
		want string
	}{
		{ny("2024-07-02 15:59"), "2024-07-01"}, // before a regular close
		{ny("2024-07-02 16:00"), "2024-07-02"}, // at the close
		{ny("2024-07-03 12:59"), "2024-07-02"}, // before an early close
		{ny("2024-07-03 13:00"), "2024-07-03"}, // at an early close
		{ny("2024-07-04 23:00"), "2024-07-03"}, // on a holiday
		{ny("2024-07-06 12:00"), "2024-07-05"}, // on a Saturday
		{ny("2024-07-07 20:00"), "2024-07-05"}, // on a Sunday
		{ny("2024-07-08 09:30"), "2024-07-05"}, // Monday before the close
		{ny("2024-07-08 00:00"), "2024-07-05"}, // Monday midnight
		// UTC instants: 2024-03-11 20:30 UTC is 16:30 EDT (after the close);
		// 2024-03-12 02:00 UTC is still 2024-03-11 in New York.
		{time.Date(2024, 3, 11, 20, 30, 0, 0, time.UTC), "2024-03-11"},
		{time.Date(2024, 3, 11, 19, 30, 0, 0, time.UTC), "2024-03-08"},
		{time.Date(2024, 3, 12, 2, 0, 0, 0, time.UTC), "2024-03-11"},
		// Winter time: 2024-01-10 21:00 UTC is 16:00 EST.
		{time.Date(2024, 1, 10, 20, 59, 0, 0, time.UTC), "2024-01-09"},
		{time.Date(2024, 1, 10, 21, 0, 0, 0, time.UTC), "2024-01-10"},
	}
	for _, tt := range tests {
		if got := LastClosedSession(tt.now); got != date(t, tt.want) {
			t.Errorf("LastClosedSession(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
}

func TestSessionCloseTime(t *testing.T) {
	s, _ := SessionOf(date(t, "2024-11-29"))
	if got, want := s.CloseTime(), time.Date(2024, 11, 29, 18, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("CloseTime = %s, want %s", got, want)
	}
	s, _ = SessionOf(date(t, "2024-06-03"))
	if got, want := s.CloseTime(), time.Date(2024, 6, 3, 20, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("CloseTime = %s, want %s", got, want)
	}
}

func TestCheckRange(t *testing.T) {
	tests := []struct {
		from, to string
		wantErr  string
	}{
		{"2000-01-01", "2030-12-31", ""},
		{"2024-01-01", "2024-01-01", ""},
		{"1999-12-31", "2024-01-01", "2000-01-01..2030-12-31"},
		{"2024-01-01", "2031-01-01", "2000-01-01..2030-12-31"},
		{"2024-02-01", "2024-01-01", "after"},
	}
	for _, tt := range tests {
		err := CheckRange(date(t, tt.from), date(t, tt.to))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckRange(%s, %s) = %v, want nil", tt.from, tt.to, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckRange(%s, %s) = %v, want an error mentioning %q", tt.from, tt.to, err, tt.wantErr)
		}
	}
}

func TestEaster(t *testing.T) {
	// Easter Sundays with well-known edge cases (earliest and latest).
	for _, s := range []string{"2008-03-23", "2011-04-24", "2038-04-25", "2285-03-22", "1818-03-22"} {
		d := date(t, s)
		if got := easter(d.Year()); got != d {
			t.Errorf("easter(%d) = %s, want %s", d.Year(), got, s)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	// The year cache is shared; hammer it from several goroutines (run with -race).
	done := make(chan int)
	for g := 0; g < 4; g++ {
		go func() {
			n := 0
			for y := MinYear; y <= MaxYear; y++ {
				n += len(Sessions(spx.NewDate(y, 1, 1), spx.NewDate(y, 12, 31)))
			}
			done <- n
		}()
	}
	first := <-done
	for g := 1; g < 4; g++ {
		if n := <-done; n != first {
			t.Errorf("goroutines disagree: %d vs %d sessions", n, first)
		}
	}
}
