package termproxy

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// The proxy forwards GET and HEAD of the terminal's read-only endpoints
// that spx and its users call, and nothing else: no other method, no
// control path (GET /v3/terminal/shutdown kills the terminal), no unknown
// path, and no path that only a terminal's own normalisation would turn
// into an allowed one. A refusal never reaches the terminal and says why.
func TestForwardsOnlyReadOnlyEndpoints(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		w.Write([]byte("ok"))
	}), testToken)
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		// What spx calls (pkg/thetadata), v3 and v2.
		{"GET", "/v3/terminal/mdds/status", 200},
		{"GET", "/v3/option/list/expirations?symbol=SPXW", 200},
		{"GET", "/v3/option/list/dates/quote?symbol=SPXW&expiration=20240105", 200},
		{"GET", "/v3/option/list/contracts/quote?date=20240102&symbol=SPXW,SPX", 200},
		{"GET", "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=20240105&date=20240102&interval=1m&format=csv", 200},
		{"GET", "/v3/option/history/eod?symbol=SPXW&expiration=*&start_date=20240102&end_date=20240102", 200},
		{"GET", "/v2/system/mdds/status", 200},
		{"GET", "/v2/list/expirations?root=SPXW", 200},
		{"GET", "/v2/list/dates/option/quote?root=SPXW&exp=20240105", 200},
		{"GET", "/v2/list/contracts/option/quote?start_date=20240102&root=SPXW", 200},
		{"GET", "/v2/bulk_hist/option/quote?root=SPXW&exp=0&start_date=20240102&end_date=20240102&ivl=60000", 200},
		{"GET", "/v2/page/17", 200},
		// What its users call besides: snapshots, at_time, calendar, stocks.
		{"HEAD", "/v3/option/snapshot/quote?symbol=SPXW&expiration=*", 200},
		{"GET", "/v3/option/at_time/quote?symbol=SPXW&expiration=20240105&start_date=20240102&end_date=20240102&time_of_day=10:00:00", 200},
		{"GET", "/v3/calendar/on_date?date=20240102", 200},
		{"GET", "/v3/stock/history/eod?symbol=SPY&start_date=20240102&end_date=20240102", 200},
		{"GET", "/v3/index/history/price?symbol=SPX&date=20240102", 200},
		{"GET", "/v2/hist/option/quote?root=SPXW&exp=20240105&strike=4700000&right=C&start_date=20240102&end_date=20240102", 200},
		{"GET", "/v3/terminal/fpss/status", 200},
		// Other methods.
		{"POST", "/v3/option/history/quote?symbol=SPXW", 405},
		{"PUT", "/v3/option/list/expirations", 405},
		{"DELETE", "/v2/list/expirations", 405},
		{"OPTIONS", "/v3/terminal/mdds/status", 405},
		// Control and unknown paths.
		{"GET", "/v3/terminal/shutdown", 403},
		{"GET", "/v2/system/terminal/shutdown", 403},
		{"HEAD", "/v3/terminal/shutdown", 403},
		{"GET", "/v3/option/flat_file/eod?date=20240102", 403},
		{"GET", "/", 403},
		{"GET", "/v3", 403},
		{"GET", "/v3/option/list/", 403},
		{"GET", "/v3/nope", 403},
		{"GET", "/admin", 403},
		// Paths a terminal might normalise into a control path.
		{"GET", "/v3/option/list/../../terminal/shutdown", 403},
		{"GET", "/v3/option/list/%2e%2e/%2e%2e/terminal/shutdown", 403},
		{"GET", "/v3/option/list/x%2F..%2F..%2Fterminal%2Fshutdown", 403},
		{"GET", "/v3/option/list;/../../terminal/shutdown", 403},
		{"GET", "/v3/option/list//expirations", 403},
		{"GET", "/V3/TERMINAL/SHUTDOWN", 403},
		{"GET", "/v3/option/list/expirations/", 403},
	} {
		req, err := http.NewRequest(tc.method, f.url+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = "//" + req.URL.Host + strings.SplitN(tc.path, "?", 2)[0] // send the path exactly as written
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s: %d %q, want %d", tc.method, tc.path, resp.StatusCode, body, tc.code)
			continue
		}
		switch tc.code {
		case 405:
			if resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(body, "only GET and HEAD") {
				t.Errorf("%s %s: Allow %q, body %q", tc.method, tc.path, resp.Header.Get("Allow"), body)
			}
		case 403:
			if tc.method != http.MethodHead && (!strings.Contains(body, "does not forward") || !strings.Contains(body, "read-only")) {
				t.Errorf("%s %s: body %q does not say what is forwarded", tc.method, tc.path, body)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "shutdown") || strings.Contains(s, "flat_file") || strings.HasPrefix(s, "POST") || strings.Contains(s, "admin") {
			t.Errorf("the terminal was asked %s", s)
		}
	}
	if want := 19; len(seen) != want {
		t.Errorf("the terminal saw %d requests, want the %d allowed ones: %q", len(seen), want, seen)
	}
	if st := f.proxy.Stats(); st.RequestsByStatus[403] != 16 || st.RequestsByStatus[405] != 4 {
		t.Errorf("stats count refusals %v, want 16×403 and 4×405", st.RequestsByStatus)
	}
}

// A refusal needs the token first: without it the answer is 401, as for
// everything but the health path.
func TestRefusalAfterToken(t *testing.T) {
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), testToken)
	req, _ := http.NewRequest(http.MethodGet, f.url+"/v3/terminal/shutdown", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("shutdown without a token: %d, want 401", resp.StatusCode)
	}
}
