package terminalsim

import (
	"strings"
	"testing"
)

// Behaviours where the spec's examples and captures of a real v3 terminal
// (Jetty 12, 2026-01, as cited by spx issue 22) disagreed with the
// simulator; each test names its source. docs/thetadata.md lists them.

// The spec's intraday examples write `timestamp` in whole seconds
// (paths./option/history/quote …text/csv example: 2024-11-04T09:30:00;
// open_interest: 2024-11-04T06:30:04) and no example value anywhere in the
// spec has a fraction ending in 0 (2024-01-16T09:30:00.1); eod's created
// and last_trade keep milliseconds (17:15:00.342). Real captures agree.
func TestV3TimestampsWholeSeconds(t *testing.T) {
	s := small(t, nil)
	h := s.V3Handler()
	exp := firstExp(t, s, "SPXW", day0315)
	base := "?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315"
	for _, tc := range []struct {
		path, query string
		cols        []string
		want        func(string) bool
		what        string
	}{
		{"greeks/first_order", "&interval=1m&end_time=09:31:00", []string{"timestamp", "underlying_timestamp"},
			func(v string) bool { return v == "2024-03-15T09:30:00" || v == "2024-03-15T09:31:00" }, "whole seconds"},
		{"quote", "&interval=1m&end_time=09:31:00", []string{"timestamp"},
			func(v string) bool { return v == "2024-03-15T09:30:00" || v == "2024-03-15T09:31:00" }, "whole seconds"},
		{"ohlc", "&interval=1m&end_time=09:31:00", []string{"timestamp"},
			func(v string) bool { return v == "2024-03-15T09:30:00" || v == "2024-03-15T09:31:00" }, "whole seconds"},
		{"quote", "&interval=500ms&start_time=09:30:00&end_time=09:30:01", []string{"timestamp"},
			func(v string) bool {
				return v == "2024-03-15T09:30:00" || v == "2024-03-15T09:30:00.5" || v == "2024-03-15T09:30:01"
			}, "whole seconds or a fraction without trailing zeros"},
		{"open_interest", "", []string{"timestamp"},
			func(v string) bool { return len(v) == 19 && strings.HasPrefix(v, "2024-03-15T06:30:") }, "whole seconds"},
		{"eod", "", []string{"created", "last_trade"},
			func(v string) bool { return len(v) == 23 && v[19] == '.' }, "milliseconds"},
	} {
		code, _, body := get(t, h, "/v3/option/history/"+tc.path+base+tc.query)
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.path, code, body)
		}
		header, rows := readCSV(t, body)
		for _, name := range tc.cols {
			j := index(header, name)
			for _, r := range rows {
				if !tc.want(r[j]) {
					t.Fatalf("%s %s %q: want %s", tc.path, name, r[j], tc.what)
				}
			}
		}
	}
}

func index(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}
