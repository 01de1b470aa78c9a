package calendar

import (
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

func nyTime(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, spx.NewYork)
}

// The days, on a clock at noon of Tuesday 2026-12-08 (a session
// in progress): only sessions whose close plus the delay has passed are
// archivable; the refusal is one line that says why (and when).
func TestCheckDay(t *testing.T) {
	now := nyTime(2026, 12, 8, 12, 0)
	const delay = 2 * time.Hour
	tests := []struct {
		date string
		want string // "" = archivable; else a part of the one-line refusal
	}{
		{"2026-12-07", ""},
		{"2024-03-11", ""},
		{"2026-12-08", "2026-12-08 is not final yet: its data counts as final from 2026-12-08 18:00 EST (its 16:00 close plus follow.delay 2h)"},
		{"2030-01-02", "2030-01-02 is not final yet: its data counts as final from 2030-01-02 18:00 EST"},
		{"2026-11-27", ""}, // early close, long past
		{"2031-01-02", "2031-01-02 is outside the exchange calendar spx knows (2000-01-01 to 2030-12-31)"},
		{"1995-01-03", "1995-01-03 is outside the exchange calendar"},
		{"2026-10-10", "2026-10-10 is a Saturday, not a trading session"},
		{"2024-12-25", "2024-12-25 is not a trading session: the exchange is closed for Christmas Day"},
	}
	for _, tt := range tests {
		err := CheckDay(date(t, tt.date), now, delay)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want archivable", tt.date, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !spx.IsRefused(err)):
			t.Errorf("%s: %v, want a refusal containing %q", tt.date, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: refusal is not one line: %q", tt.date, err)
		}
	}
	// An early close (13:00) is final two hours after it.
	fri := date(t, "2026-11-27")
	if err := CheckDay(fri, nyTime(2026, 11, 27, 14, 59), delay); err == nil || !strings.Contains(err.Error(), "2026-11-27 15:00 EST (its 13:00 close") {
		t.Errorf("early close before final: %v", err)
	}
	if err := CheckDay(fri, nyTime(2026, 11, 27, 15, 0), delay); err != nil {
		t.Errorf("early close at its final time: %v", err)
	}
}

func TestLastFinalSession(t *testing.T) {
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{nyTime(2026, 12, 8, 12, 0), "2026-12-07"},
		{nyTime(2026, 12, 8, 17, 59), "2026-12-07"}, // closed, not final
		{nyTime(2026, 12, 8, 18, 0), "2026-12-08"},
		{nyTime(2026, 12, 12, 9, 0), "2026-12-11"}, // Saturday
		{nyTime(2026, 11, 27, 15, 0), "2026-11-27"},
	} {
		if got := LastFinalSession(tt.now, 2*time.Hour); got.String() != tt.want {
			t.Errorf("LastFinalSession(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
}

func TestCheckDays(t *testing.T) {
	now := nyTime(2026, 12, 8, 12, 0)
	const delay = 2 * time.Hour
	tests := []struct {
		from, to string // to "" = up to the latest final session
		end      string // the end to use, when accepted
		want     string // part of the refusal
	}{
		{"2024-03-04", "2024-03-08", "2024-03-08", ""},
		{"2024-03-09", "2024-03-11", "2024-03-11", ""}, // weekend days inside are fine
		{"2026-12-01", "", "2026-12-07", ""},
		{"2026-12-01", "2026-12-08", "", "2026-12-08 is not final yet: its data counts as final from 2026-12-08 18:00 EST (its 16:00 close plus follow.delay 2h); end the range at 2026-12-07 or ask again then"},
		{"2026-12-08", "", "", "2026-12-08 is not final yet"},
		{"2026-12-12", "", "", "2026-12-14 is not final yet"},
		{"2024-03-09", "2024-03-10", "", "2024-03-09 to 2024-03-10 holds no trading session"},
		{"1995-01-03", "1995-01-31", "", "1995-01-03 is outside the exchange calendar"},
		{"2024-01-02", "2031-01-02", "", "2031-01-02 is outside the exchange calendar"},
		{"2024-02-01", "2024-01-02", "", "start 2024-02-01 is after end 2024-01-02"},
	}
	for _, tt := range tests {
		var to spx.Date
		if tt.to != "" {
			to = date(t, tt.to)
		}
		end, err := CheckDays(date(t, tt.from), to, now, delay)
		switch {
		case tt.want == "" && (err != nil || end.String() != tt.end):
			t.Errorf("%s..%s: end %s, %v; want end %s", tt.from, tt.to, end, err, tt.end)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !spx.IsRefused(err)):
			t.Errorf("%s..%s: %v, want a refusal containing %q", tt.from, tt.to, err, tt.want)
		}
	}
}
