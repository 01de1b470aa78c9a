package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

func newTestServer(t *testing.T, live Live, r Retrier) (*Server, *httptest.Server) {
	t.Helper()
	s := NewServer(Config{Store: seedStore(t), Live: live, Retrier: r, Database: "/data/spx.db",
		Interval: 50 * time.Millisecond, Now: func() time.Time { return testNow }})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestCoverage(t *testing.T) {
	st := seedStore(t)
	days, err := st.Days(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cov := BuildCoverage(2024, days, testNow)
	if len(cov.Days) != 252 {
		t.Fatalf("2024 has %d sessions in the coverage, want 252", len(cov.Days))
	}
	got := map[string]CoverageDay{}
	for _, d := range cov.Days {
		got[d.Date.String()] = d
	}
	for _, tc := range []struct {
		date string
		cell Cell
		rows int64
	}{
		{"2024-01-02", CellSuccess, 7_500_000},
		{"2024-01-03", CellPartial, 3_000_000},
		{"2024-01-04", CellFailed, 0},
		{"2024-01-05", CellNoData, 0},
		{"2024-01-08", CellPending, 1_000},
		{"2024-01-09", CellPending, 0},
		{"2024-01-10", CellMissing, 0},
		{"2024-03-01", CellMissing, 0}, // closed at 16:00, before testNow
		{"2024-03-04", CellFuture, 0},
	} {
		d, ok := got[tc.date]
		if !ok {
			t.Errorf("%s: no cell", tc.date)
			continue
		}
		if d.Cell != tc.cell || d.Rows != tc.rows {
			t.Errorf("%s: cell %s rows %d, want %s rows %d", tc.date, d.Cell, d.Rows, tc.cell, tc.rows)
		}
	}
	for _, closed := range []string{"2024-01-01", "2024-01-06", "2024-01-15", "2024-03-29", "2024-12-25"} {
		if _, ok := got[closed]; ok {
			t.Errorf("%s is not a session but has a cell", closed)
		}
	}
	if !got["2024-07-03"].EarlyClose {
		t.Error("2024-07-03 closes early but is not marked")
	}
	sum := 0
	for _, n := range cov.Counts {
		sum += n
	}
	if sum != 252 || cov.Counts[CellPending] != 2 || cov.Counts[CellFuture] != 210 {
		t.Errorf("counts %v", cov.Counts)
	}
}

func TestDefaultYears(t *testing.T) {
	now := time.Date(2026, time.May, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		recs []spx.DayRecord
		want []int
	}{
		{"nothing recorded", nil, []int{2026}},
		{"one year", []spx.DayRecord{{Date: spx.NewDate(2024, 1, 2)}, {Date: spx.NewDate(2024, 5, 2)}}, []int{2024}},
		{"span", []spx.DayRecord{{Date: spx.NewDate(2022, 1, 3)}, {Date: spx.NewDate(2024, 5, 2)}}, []int{2022, 2023, 2024}},
		{"clamped", []spx.DayRecord{{Date: spx.NewDate(1999, 1, 4)}, {Date: spx.NewDate(2000, 5, 2)}}, []int{2000}},
	} {
		if got := DefaultYears(tc.recs, now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The JSON endpoints serve exactly the CLI's shapes.
func TestStatusMatchesReport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		live   Live
		queues bool
	}{
		{"no pipeline", nil, false},
		{"pipeline down", LiveFunc(func(context.Context) (LiveStats, error) { return LiveStats{}, errors.New("no responders") }), false},
		{"pipeline up", fakeLive(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := newTestServer(t, tc.live, nil)
			code, body := get(t, ts.URL+"/api/status?errors=1")
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			want, err := BuildStatusReport(context.Background(), s.cfg.Store, "/data/spx.db", 1)
			if err != nil {
				t.Fatal(err)
			}
			if tc.queues {
				st, _ := tc.live.Snapshot(context.Background())
				want.Queues = st.Queues
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(want); err != nil {
				t.Fatal(err)
			}
			if string(body) != buf.String() {
				t.Errorf("body\n%s\nwant\n%s", body, buf.String())
			}
			var rep StatusReport
			if err := json.Unmarshal(body, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.DaysTotal != 6 || rep.Days[spx.DayFailed] != 1 || rep.Jobs[spx.JobFailed] != 3 || len(rep.RecentErrors) != 1 {
				t.Errorf("report %+v", rep)
			}
			if got := len(rep.Queues) > 0; got != tc.queues {
				t.Errorf("queues present %v, want %v", got, tc.queues)
			}
		})
	}
}

func TestDaysAndJobs(t *testing.T) {
	_, ts := newTestServer(t, nil, nil)
	for _, tc := range []struct {
		query string
		code  int
		dates []string
	}{
		{"", 200, []string{"2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"}},
		{"?from=2024-01-04&to=2024-01-08", 200, []string{"2024-01-04", "2024-01-05", "2024-01-08"}},
		{"?failed_only=true", 200, []string{"2024-01-03", "2024-01-04"}},
		{"?from=2025-01-01", 200, []string{}},
		{"?from=2024-01-09&to=2024-01-02", 400, nil},
		{"?from=2024-13-01", 400, nil},
	} {
		code, body := get(t, ts.URL+"/api/days"+tc.query)
		if code != tc.code {
			t.Errorf("%q: status %d, want %d: %s", tc.query, code, tc.code, body)
			continue
		}
		if code != 200 {
			var e ErrorReply
			if json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("%q: error body %s", tc.query, body)
			}
			continue
		}
		var recs []spx.DayRecord
		if err := json.Unmarshal(body, &recs); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Date.String())
		}
		if !slices.Equal(got, tc.dates) && !(len(got) == 0 && len(tc.dates) == 0) {
			t.Errorf("%q: %v, want %v", tc.query, got, tc.dates)
		}
		if len(tc.dates) == 0 && strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("%q: empty result %q, want []", tc.query, body)
		}
	}

	code, body := get(t, ts.URL+"/api/jobs?date=2024-01-03")
	var jobs []spx.JobRecord
	if code != 200 || json.Unmarshal(body, &jobs) != nil || len(jobs) != 2 || jobs[1].Outcome != spx.JobFailed {
		t.Errorf("jobs of 2024-01-03: %d %s", code, body)
	}
	if code, body := get(t, ts.URL+"/api/jobs?date=2024-02-01"); code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("jobs of a day without any: %d %s", code, body)
	}
	if code, body := get(t, ts.URL+"/api/jobs"); code != 400 || !strings.Contains(string(body), "date=YYYY-MM-DD") {
		t.Errorf("jobs without a date: %d %s", code, body)
	}
	if code, _ := get(t, ts.URL+"/api/calendar?year=1990"); code != 400 {
		t.Errorf("calendar of 1990: %d, want 400", code)
	}
	code, body = get(t, ts.URL+"/api/errors?limit=5")
	var errs []ErrorView
	if code != 200 || json.Unmarshal(body, &errs) != nil || len(errs) != 2 || !strings.Contains(errs[0].Advice, "tier") {
		t.Errorf("errors: %d %s", code, body)
	}
}

func TestPageIsEmbedded(t *testing.T) {
	_, ts := newTestServer(t, nil, nil)
	for _, tc := range []struct{ path, ctype, has string }{
		{"/", "text/html", "/static/app.js"},
		{"/static/app.js", "javascript", "/api/stream"},
		{"/static/app.css", "text/css", ".cell.failed"},
	} {
		resp, err := http.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) || !bytes.Contains(b, []byte(tc.has)) {
			t.Errorf("%s: %d %s, %d bytes", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		// The SVG namespace is a name, not an address the page loads.
		b = bytes.ReplaceAll(b, []byte(`"http://www.w3.org/2000/svg"`), nil)
		if bytes.Contains(b, []byte("http://")) || bytes.Contains(b, []byte("https://")) {
			t.Errorf("%s refers to an external address", tc.path)
		}
	}
	if code, _ := get(t, ts.URL+"/nope"); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
}

func TestRetry(t *testing.T) {
	post := func(ts *httptest.Server, ctype, origin, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/retry", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	r := &fakeRetrier{}
	_, ts := newTestServer(t, nil, r)
	self := "http://" + strings.TrimPrefix(ts.URL, "http://")
	for _, tc := range []struct {
		name, ctype, origin, body string
		code                      int
	}{
		{"form post refused", "application/x-www-form-urlencoded", "", `date=2024-01-04`, 415},
		{"foreign origin refused", "application/json", "http://evil.example", `{"date":"2024-01-04"}`, 403},
		{"bad date", "application/json", "", `{"date":"2024-02-30"}`, 400},
		{"no date", "application/json", "", `{}`, 400},
		{"ok", "application/json", self, `{"date":"2024-01-04"}`, 200},
	} {
		code, body := post(ts, tc.ctype, tc.origin, tc.body)
		if code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.code)
		}
		if code == 200 && strings.TrimSpace(body) != `{"date":"2024-01-04","jobs":2}` {
			t.Errorf("%s: body %s", tc.name, body)
		}
	}
	if got := r.got(); !slices.Equal(got, []spx.Date{spx.NewDate(2024, 1, 4)}) {
		t.Errorf("retrier called with %v, want only 2024-01-04", got)
	}
	if code, _ := get(t, ts.URL+"/api/retry"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/retry: %d, want 405", code)
	}

	// A day the coordinator refuses (not a session, not final) is the
	// request's fault: 400 with its one line.
	r.err = spx.Refusedf("2026-10-10 is a Saturday, not a trading session (spx calendar lists the sessions)")
	if code, body := post(ts, "application/json", "", `{"date":"2026-10-10"}`); code != 400 || !strings.Contains(body, "is a Saturday, not a trading session") {
		t.Errorf("refused retry: %d %s, want 400 with the reason", code, body)
	}

	r.err = errors.New("coordinator busy")
	if code, body := post(ts, "application/json", "", `{"date":"2024-01-04"}`); code != 500 || !strings.Contains(body, "coordinator busy") {
		t.Errorf("failing retrier: %d %s", code, body)
	}

	_, ts2 := newTestServer(t, nil, nil)
	if code, body := post(ts2, "application/json", "", `{"date":"2024-01-04"}`); code != 503 || !strings.Contains(body, "spx retry") {
		t.Errorf("no retrier: %d %s", code, body)
	}
}

func TestLiveAndStream(t *testing.T) {
	_, off := newTestServer(t, nil, nil)
	code, body := get(t, off.URL+"/api/live")
	var rep LiveReply
	if code != 200 || json.Unmarshal(body, &rep) != nil || rep.Running || rep.Stats != nil || rep.Days == "" {
		t.Errorf("live without a pipeline: %d %s", code, body)
	}

	_, on := newTestServer(t, fakeLive(), nil)
	resp, err := http.Get(on.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var updates []LiveReply
	for sc.Scan() && len(updates) < 2 {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var r LiveReply
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		updates = append(updates, r)
	}
	if len(updates) != 2 {
		t.Fatalf("got %d updates, want 2 (%v)", len(updates), sc.Err())
	}
	u := updates[1]
	if !u.Running || u.Stats == nil || len(u.Stats.Queues) != 2 || u.Stats.Terminal.LatencyMs.P95 != 900 || u.Stats.Terminal.Window != Duration(5*time.Minute) {
		t.Errorf("update %+v", u)
	}
}

// Serve stops when its context ends, even with a live stream open.
func TestServeStopsOnCancel(t *testing.T) {
	s := NewServer(Config{Store: seedStore(t), Interval: 20 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop within 5s of cancel")
	}
}

func TestListenAndServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := NewServer(Config{Store: seedStore(t)})
	err = s.ListenAndServe(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "--http") {
		t.Errorf("busy port: %v, want an error naming --http", err)
	}
}

func TestAdvice(t *testing.T) {
	for _, tc := range []struct {
		e    spx.ErrorEntry
		says string
	}{
		{spx.ErrorEntry{Type: "permanent", Message: "terminal answered 476 WRONG_IP"}, "terminal-proxy"},
		{spx.ErrorEntry{Type: "permanent", Message: "dial tcp 127.0.0.1:25503: connect: connection refused"}, "start the Theta Terminal"},
		{spx.ErrorEntry{Type: "transient", Message: "429 too many requests"}, "retries it by itself"},
		{spx.ErrorEntry{Type: "permanent", Message: "something odd"}, "retry the day"},
		{spx.ErrorEntry{Type: "coordinator", Message: "job hit max deliver: dead"}, "deliveries"},
		{spx.ErrorEntry{Type: spx.ErrorTypeTerminal, Message: "Theta Terminal down: dial tcp 127.0.0.1:25503: connect: connection refused"}, "carries on by itself"},
	} {
		if got := Advice(tc.e); !strings.Contains(got, tc.says) {
			t.Errorf("Advice(%q) = %q, want it to say %q", tc.e.Message, got, tc.says)
		}
	}
}

// The terminal's state is in /api/status and the live updates (the page
// header reads both), and absent when nothing watches the terminal.
func TestTerminalState(t *testing.T) {
	st := spx.TerminalStatus{State: spx.TerminalDown, LastError: "connection refused", Since: time.Unix(1700000000, 0).UTC()}
	s := NewServer(Config{Store: seedStore(t), Terminal: func() *spx.TerminalStatus { c := st; return &c }})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, path := range []string{"/api/status", "/api/live"} {
		code, body := get(t, ts.URL+path)
		var rep struct {
			Terminal *spx.TerminalStatus `json:"terminal"`
		}
		if err := json.Unmarshal(body, &rep); code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %v: %s", path, code, err, body)
		}
		if rep.Terminal == nil || *rep.Terminal != st {
			t.Errorf("%s terminal = %+v, want %+v", path, rep.Terminal, st)
		}
	}
	_, page := get(t, ts.URL+"/")
	if !strings.Contains(string(page), `id="terminal-badge"`) || !strings.Contains(string(page), `id="terminal-state"`) {
		t.Error("the page has no terminal badge in its header or no terminal state in its Terminal card")
	}
	// The page's script finds its elements by id: one id, one element.
	seen := map[string]int{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		seen[m[1]]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("the page has %d elements with id %q", n, id)
		}
	}
	bare := httptest.NewServer(NewServer(Config{Store: seedStore(t)}))
	defer bare.Close()
	if _, body := get(t, bare.URL+"/api/status"); strings.Contains(string(body), `"terminal"`) {
		t.Errorf("terminal state without a watcher: %s", body)
	}
}

// Whether the NATS store is full is in /api/status and the live updates
// (the page header reads both), and absent when nothing watches the store.
func TestNATSStoreState(t *testing.T) {
	st := spx.NATSStore{Full: true, Since: time.Unix(1700000000, 0).UTC(), Reason: "the staging bucket holds 12.0 MiB of its 12.0 MiB limit",
		Staged: 12 << 20, StagedLimit: 12 << 20}
	s := NewServer(Config{Store: seedStore(t), NATSStore: func() *spx.NATSStore { c := st; return &c }})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, path := range []string{"/api/status", "/api/live"} {
		code, body := get(t, ts.URL+path)
		var rep struct {
			NATSStore *spx.NATSStore `json:"nats_store"`
		}
		if err := json.Unmarshal(body, &rep); code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %v: %s", path, code, err, body)
		}
		if rep.NATSStore == nil || *rep.NATSStore != st {
			t.Errorf("%s nats_store = %+v, want %+v", path, rep.NATSStore, st)
		}
	}
	if _, body := get(t, ts.URL+"/"); !strings.Contains(string(body), `id="nats-store"`) {
		t.Error("the page header has no NATS store badge")
	}
	bare := httptest.NewServer(NewServer(Config{Store: seedStore(t)}))
	defer bare.Close()
	if _, body := get(t, bare.URL+"/api/status"); strings.Contains(string(body), `"nats_store"`) {
		t.Errorf("store state without a watcher: %s", body)
	}
}
