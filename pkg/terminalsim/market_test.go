package terminalsim

import (
	"bytes"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

func TestRealisticDayIsLargeEnough(t *testing.T) {
	s := New(Config{Seed: 1})
	for _, d := range []spx.Date{spx.NewDate(2024, 1, 2), day0315, spx.NewDate(2024, 11, 20)} {
		var exps int
		var rows int64
		for _, root := range spx.DefaultRoots {
			for _, e := range s.Expirations(root, d) {
				exps++
				rows += s.ExpectedRows(spx.Greeks, root, d, e)
			}
		}
		t.Logf("%s: %d expirations, %d greeks rows at 1m", d, exps, rows)
		if exps < 40 || rows < 4_000_000 {
			t.Errorf("%s: %d expirations and %d rows; want >= 40 and >= 4M", d, exps, rows)
		}
	}
}

func TestExpirationRules(t *testing.T) {
	s := New(Config{Seed: 1})
	has := func(root string, d, e spx.Date) bool {
		for _, x := range s.Expirations(root, d) {
			if x == e {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name      string
		root      string
		date, exp spx.Date
		want      bool
	}{
		{"0DTE Tuesday after 2022-04-18", "SPXW", spx.NewDate(2024, 3, 12), spx.NewDate(2024, 3, 12), true},
		{"no Tuesday before 2022-04-18", "SPXW", spx.NewDate(2022, 3, 1), spx.NewDate(2022, 3, 1), false},
		{"0DTE Thursday after 2022-05-11", "SPXW", spx.NewDate(2024, 3, 14), spx.NewDate(2024, 3, 14), true},
		{"no Thursday before 2022-05-11", "SPXW", spx.NewDate(2022, 4, 21), spx.NewDate(2022, 4, 21), false},
		{"Monday weekly 2017", "SPXW", spx.NewDate(2017, 3, 6), spx.NewDate(2017, 3, 6), true},
		{"no Monday in 2015", "SPXW", spx.NewDate(2015, 3, 2), spx.NewDate(2015, 3, 2), false},
		{"SPX monthly quoted before its day", "SPX", spx.NewDate(2024, 3, 14), spx.NewDate(2024, 3, 15), true},
		{"SPX monthly not quoted on its AM settlement day", "SPX", day0315, day0315, false},
		{"SPX December LEAPS years out", "SPX", day0315, spx.NewDate(2027, 12, 17), true},
		{"SPXW end of month", "SPXW", day0315, spx.NewDate(2024, 4, 30), true},
		{"SPXW daily not listed 3 months out", "SPXW", day0315, spx.NewDate(2024, 6, 18), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := has(tc.root, tc.date, tc.exp); got != tc.want {
				t.Fatalf("%s %s on %s: alive %v, want %v (%v)", tc.root, tc.exp, tc.date, got, tc.want, s.Expirations(tc.root, tc.date))
			}
		})
	}
	// Every listed expiration is a session, on or after the trade date.
	for _, root := range spx.DefaultRoots {
		for _, e := range s.Expirations(root, day0315) {
			if !calendar.IsSession(e) || e < day0315 {
				t.Fatalf("%s expiration %s is not a future session", root, e)
			}
		}
	}
}

func TestStampsPerSession(t *testing.T) {
	s := small(t, nil)
	count := func(d spx.Date) (int, int32) {
		exp := firstExp(t, s, "SPXW", d)
		_, _, body := get(t, s.V2Handler(), "/v2/bulk_hist/option/greeks?root=SPXW&exp="+exp.Compact()+"&start_date="+d.Compact()+"&end_date="+d.Compact()+"&ivl=60000")
		env := decodeV2(t, body)
		ticks := env.Response[0].Ticks
		last, _ := strconv.Atoi(ticks[len(ticks)-1][0].String())
		for _, c := range env.Response {
			if len(c.Ticks) != len(ticks) {
				t.Fatalf("contracts with different stamp counts: %d and %d", len(c.Ticks), len(ticks))
			}
		}
		return len(ticks), int32(last)
	}
	n, last := count(day0315)
	if n != 391 || last != 16*3600*1000 {
		t.Fatalf("regular day: %d stamps ending %d, want 391 ending at 16:00", n, last)
	}
	sess, _ := calendar.SessionOf(day0703)
	if sess.Close != "13:00" {
		t.Skip("calendar does not know the 2024-07-03 early close yet")
	}
	n, last = count(day0703)
	if n != 211 || last != 13*3600*1000 {
		t.Fatalf("early close: %d stamps ending %d, want 211 ending at 13:00", n, last)
	}
}

func TestDeterminism(t *testing.T) {
	exp := firstExp(t, small(t, nil), "SPXW", day0315)
	targets := []struct {
		v2     bool
		target string
	}{
		{false, "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315"},
		{false, "/v3/option/history/ohlc?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315"},
		{true, "/v2/bulk_hist/option/quote?root=SPXW&exp=" + exp.Compact() + "&start_date=20240315&end_date=20240315"},
		{true, "/v2/bulk_hist/option/eod?root=SPXW&exp=0&start_date=20240315&end_date=20240315"},
	}
	for _, tc := range targets {
		body := func(seed int64) []byte {
			s := small(t, func(c *Config) { c.Seed = seed })
			h := s.V3Handler()
			if tc.v2 {
				h = s.V2Handler()
			}
			code, _, b := get(t, h, tc.target)
			if code != 200 {
				t.Fatalf("%s: %d %s", tc.target, code, b)
			}
			return b
		}
		a, b, c := body(7), body(7), body(8)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: same seed gave different bytes", tc.target)
		}
		if bytes.Equal(a, c) {
			t.Errorf("%s: different seeds gave the same bytes", tc.target)
		}
	}
}

// TestNoArbitrage checks the served greeks: delta ranges, bid <= ask, tick
// sizes, and put-call parity within the quoted spreads.
func TestNoArbitrage(t *testing.T) {
	s := New(Config{Seed: 3, MaxExpirations: 40, MaxStrikes: 30})
	type key struct {
		k  string
		ts string
	}
	for _, root := range spx.DefaultRoots {
		exps := s.Expirations(root, day0315)
		for _, exp := range []spx.Date{exps[0], exps[len(exps)/2], exps[len(exps)-1]} {
			_, _, body := get(t, s.V3Handler(), "/v3/option/history/greeks/first_order?symbol="+root+"&expiration="+exp.Compact()+"&date=20240315&interval=15m")
			header, rows := readCSV(t, body)
			col := map[string]int{}
			for i, h := range header {
				col[h] = i
			}
			f := func(r []string, name string) float64 {
				v, err := strconv.ParseFloat(r[col[name]], 64)
				if err != nil {
					t.Fatalf("%s %q: %v", name, r[col[name]], err)
				}
				return v
			}
			calls := map[key][]string{}
			checked := 0
			for _, r := range rows {
				bid, ask, delta := f(r, "bid"), f(r, "ask"), f(r, "delta")
				if bid > ask {
					t.Fatalf("bid %v > ask %v: %v", bid, ask, r)
				}
				for _, p := range []float64{bid, ask} {
					cents := math.Round(p * 100)
					if math.Mod(cents, 5) != 0 || (p > 3 && math.Mod(cents, 10) != 0) {
						t.Fatalf("price %v is off the tick grid: %v", p, r)
					}
				}
				if r[col["right"]] == "CALL" {
					if delta < 0 || delta > 1 {
						t.Fatalf("call delta %v: %v", delta, r)
					}
					calls[key{r[2], r[col["timestamp"]]}] = r
				} else if delta < -1 || delta > 0 {
					t.Fatalf("put delta %v: %v", delta, r)
				}
			}
			for _, p := range rows {
				if p[col["right"]] != "PUT" {
					continue
				}
				c, ok := calls[key{p[2], p[col["timestamp"]]}]
				if !ok {
					t.Fatalf("put without call: %v", p)
				}
				if f(c, "ask") == 0 || f(p, "ask") == 0 { // placeholder rows
					continue
				}
				sp, k := f(c, "underlying_price"), f(c, "strike")
				ts, _ := time.ParseInLocation("2006-01-02T15:04:05", c[col["timestamp"]], spx.NewYork)
				ms := int32(ts.Hour()*3600000 + ts.Minute()*60000)
				T := yearsTo(root, day0315, ms, exp)
				fwd := sp - k*math.Exp(-rateOf(day0315)*T)
				lo := f(c, "bid") - f(p, "ask") - 0.011
				hi := f(c, "ask") - f(p, "bid") + 0.011
				if fwd < lo || fwd > hi {
					t.Fatalf("parity: S-K·e^-rT = %.3f outside [C.bid-P.ask, C.ask-P.bid] = [%.3f, %.3f]\ncall %v\nput  %v", fwd, lo, hi, c, p)
				}
				checked++
			}
			if checked == 0 {
				t.Fatalf("%s %s: no pairs checked", root, exp)
			}
		}
	}
}

func TestPlaceholderFirstStamp(t *testing.T) {
	s := New(Config{Seed: 1, MaxExpirations: 3})
	exp := firstExp(t, s, "SPXW", day0315)
	_, _, body := get(t, s.V3Handler(), "/v3/option/history/greeks/first_order?symbol=SPXW&expiration="+exp.Compact()+"&date=20240315&interval=1h")
	header, rows := readCSV(t, body)
	found := 0
	for _, r := range rows {
		if r[5] == "0.00" && r[6] == "0.00" {
			if r[4] != "2024-03-15T09:30:00" || r[len(header)-4] != "0.2500" || r[len(header)-3] != "100.0000" {
				t.Fatalf("placeholder row not at 09:30 or without iv 0.25 / iv_error 100: %v", r)
			}
			found++
		}
	}
	if found == 0 {
		t.Fatal("no placeholder first stamps in a whole expiration")
	}
}

// TestTradeDatesAgreeWithExpirations checks the listing rule used by the
// dates endpoints against the per-day expiration lists.
func TestTradeDatesAgreeWithExpirations(t *testing.T) {
	s := New(Config{Seed: 1})
	from, to := spx.NewDate(2024, 1, 1), spx.NewDate(2024, 6, 30)
	for _, root := range spx.DefaultRoots {
		for _, exp := range []spx.Date{spx.NewDate(2024, 3, 28), spx.NewDate(2024, 4, 19), spx.NewDate(2024, 6, 28), spx.NewDate(2024, 6, 21)} {
			var want []spx.Date
			for d := from; d <= to; d++ {
				if s.market.alive(root, d, exp) {
					want = append(want, d)
				}
			}
			var got []spx.Date
			for _, d := range s.market.tradeDates(root, exp, to) {
				if d >= from {
					got = append(got, d)
				}
			}
			if len(got) != len(want) || (len(got) > 0 && (got[0] != want[0] || got[len(got)-1] != want[len(want)-1])) {
				t.Errorf("%s %s: tradeDates %d days, expirations say %d", root, exp, len(got), len(want))
			}
		}
	}
}
