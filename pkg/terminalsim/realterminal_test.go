package terminalsim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
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

// A real v3 terminal answers a v2 parameter on a v3 path (exp=, root=)
// with 410 and a message on migrating to v3 (captures of a real v3
// terminal, 2026-01, cited by spx issue 22); the simulator answered 473
// (a missing expiration or symbol) before.
func TestV3RefusesV2Parameters(t *testing.T) {
	s := small(t, nil)
	h := s.V3Handler()
	exp := firstExp(t, s, "SPXW", day0315)
	for _, target := range []string{
		"/v3/option/history/quote?root=SPXW&expiration=" + exp.Compact() + "&date=20240315",
		"/v3/option/history/quote?symbol=SPXW&exp=" + exp.Compact() + "&date=20240315",
		"/v3/option/history/eod?root=SPXW&exp=" + exp.Compact() + "&start_date=20240315&end_date=20240315",
		"/v3/option/list/expirations?root=SPXW",
		"/v3/option/list/dates/quote?symbol=SPXW&exp=" + exp.Compact(),
	} {
		code, hdr, body := get(t, h, target)
		if code != 410 || !strings.Contains(string(body), "v3") || !strings.Contains(hdr.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q, want 410 with a migration message", target, code, body)
		}
	}
	if code, _, _ := get(t, h, "/v3/terminal/mdds/status?root=SPXW"); code != 200 {
		t.Errorf("health with root=: %d", code)
	}
}

// ThetaData's own Python library classifies an error as a lost connection
// by the word "disconnected" in its message (spx issue 22): every 474, the
// v2 envelope's error_msg and the v3 body, says it, whether the terminal
// is disconnected or a 474 is injected.
func TestDisconnectedMessage(t *testing.T) {
	down := small(t, func(c *Config) { c.Faults.Disconnect = time.Hour })
	injected := small(t, func(c *Config) { c.Faults.ErrorRate = map[int]float64{474: 1} })
	exp := firstExp(t, down, "SPXW", day0315)
	for _, s := range []*Sim{down, injected} {
		code, _, body := get(t, s.V2Handler(), "/v2/bulk_hist/option/quote?root=SPXW&exp="+exp.Compact()+"&start_date=20240315&end_date=20240315&ivl=3600000")
		env := decodeV2(t, body)
		if code != 474 || env.Header.ErrorType != "DISCONNECTED" || !strings.Contains(env.Header.ErrorMsg, "disconnected") {
			t.Errorf("v2: %d error_type %q error_msg %q, want 474 DISCONNECTED saying disconnected", code, env.Header.ErrorType, env.Header.ErrorMsg)
		}
		code, _, body = get(t, s.V3Handler(), "/v3/option/history/quote?symbol=SPXW&expiration="+exp.Compact()+"&date=20240315&interval=1h")
		if code != 474 || !strings.Contains(string(body), "disconnected") {
			t.Errorf("v3: %d %q", code, body)
		}
	}
}

// format=json without a shape option answers the spec's shape, as the
// spec's examples and captures of a real v3 terminal (Jetty 12, 2026-01,
// cited by spx issue 22) do: {"response":[row,…]} for lists and
// {"response":[{"contract":{…},"data":[…]},…]} for history, one element
// per contract across all the days of the request. Before, the default was
// columnar and a multi-day answer had one element per contract and day.
func TestV3JSONSpecShapeByDefault(t *testing.T) {
	s := small(t, func(c *Config) { c.MaxStrikes = 16 }) // strikes that stay listed over the days
	h := s.V3Handler()
	_, _, body := get(t, h, "/v3/option/list/expirations?symbol=SPXW&format=json")
	if !strings.HasPrefix(string(body), `{"response":[{"symbol":"SPXW","expiration":"`) {
		t.Fatalf("list: %.120s", body)
	}
	exp := s.Expirations("SPXW", spx.NewDate(2024, 3, 11))[2]
	for _, tc := range []struct{ path, query string }{
		{"quote", "&expiration=" + exp.Compact() + "&interval=1h&right=call"},
		{"greeks/first_order", "&expiration=" + exp.Compact() + "&interval=1h"},
		{"eod", "&expiration=*"},
	} {
		target := "/v3/option/history/" + tc.path + "?symbol=SPXW&start_date=20240311&end_date=20240313" + tc.query
		_, _, csvBody := get(t, h, target)
		header, rows := readCSV(t, csvBody)
		code, _, js := get(t, h, target+"&format=json")
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.path, code, js)
		}
		var env struct {
			Response []struct {
				Contract map[string]any   `json:"contract"`
				Data     []map[string]any `json:"data"`
			} `json:"response"`
		}
		d := json.NewDecoder(bytes.NewReader(js))
		d.UseNumber()
		if err := d.Decode(&env); err != nil {
			t.Fatalf("%s: not the spec's shape: %v %.120s", tc.path, err, js)
		}
		seen := map[string]bool{}
		var got []string
		days := 0
		lastExp := ""
		for _, el := range env.Response {
			key := jsonString(el.Contract["expiration"]) + " " + jsonString(el.Contract["strike"]) + " " + jsonString(el.Contract["right"])
			if seen[key] {
				t.Fatalf("%s: contract %s has more than one element", tc.path, key)
			}
			seen[key] = true
			if e := jsonString(el.Contract["expiration"]); e < lastExp {
				t.Fatalf("%s: expiration %s after %s", tc.path, e, lastExp)
			} else {
				lastExp = e
			}
			dates := map[string]bool{}
			prev := ""
			for _, row := range el.Data {
				line := make([]string, len(header))
				for j, name := range header {
					v, ok := row[name]
					if j < 4 {
						v, ok = el.Contract[name]
					}
					if !ok {
						t.Fatalf("%s: %s missing", tc.path, name)
					}
					line[j] = jsonString(v)
				}
				ts := line[4]
				if ts < prev {
					t.Fatalf("%s %s: %s after %s", tc.path, key, ts, prev)
				}
				prev = ts
				dates[ts[:10]] = true
				got = append(got, strings.Join(line, ","))
			}
			days = max(days, len(dates))
		}
		var want []string
		for _, r := range rows {
			want = append(want, strings.Join(r, ","))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: the json rows (%d) are not the csv rows (%d)", tc.path, len(got), len(want))
		}
		if days != 3 {
			t.Fatalf("%s: no contract has its rows of all 3 days in its element (%d)", tc.path, days)
		}
	}
}
