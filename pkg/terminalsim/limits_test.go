package terminalsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

func httpGet(t *testing.T, c *http.Client, url string) (int, http.Header, []byte, error) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// flatTicks turns v2 JSON pages into "contract|tick" lines.
func flatTicks(env v2Envelope) []string {
	var out []string
	for _, c := range env.Response {
		cj, _ := json.Marshal(c.Contract)
		for _, tk := range c.Ticks {
			tj, _ := json.Marshal(tk)
			out = append(out, string(cj)+"|"+string(tj))
		}
	}
	return out
}

func TestV2Paging(t *testing.T) {
	s := small(t, func(c *Config) { c.TickLimit = 1000 })
	ref := small(t, nil)
	_, v2 := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	q := "/v2/bulk_hist/option/greeks?root=SPXW&exp=" + exp.Compact() + "&start_date=20240315&end_date=20240315&ivl=60000"
	_, _, whole := get(t, ref.V2Handler(), q)
	want := flatTicks(decodeV2(t, whole))

	var got []string
	url, pages := v2+q, 0
	for url != "null" {
		code, _, body, err := httpGet(t, nil, url)
		if err != nil || code != 200 {
			t.Fatalf("page %d: %d %v %.200s", pages+1, code, err, body)
		}
		env := decodeV2(t, body)
		n := len(flatTicks(env))
		if n > 1000 {
			t.Fatalf("page %d has %d rows, tick limit 1000", pages+1, n)
		}
		got = append(got, flatTicks(env)...)
		url = env.Header.NextPage
		if url != "null" && !strings.HasPrefix(url, v2+"/v2/page/") {
			t.Fatalf("next_page %q is not an absolute URL on %s", url, v2)
		}
		pages++
	}
	if pages < 3 {
		t.Fatalf("%d pages, want >= 3", pages)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("paged rows (%d) differ from the single response (%d)", len(got), len(want))
	}
	if n := s.Stats().RowsServed["greeks.SPXW.20240315."+exp.Compact()]; n != int64(len(want)) {
		t.Fatalf("RowsServed %d, want %d", n, len(want))
	}

	// CSV pages carry the continuation in Next-Page.
	url, pages, rows := v2+q+"&use_csv=true", 0, 0
	for url != "null" {
		code, h, body, err := httpGet(t, nil, url)
		if err != nil || code != 200 {
			t.Fatalf("csv page: %d %v", code, err)
		}
		_, recs := readCSV(t, body)
		rows += len(recs)
		url = h.Get("Next-Page")
		pages++
	}
	if pages < 3 || rows != len(want) {
		t.Fatalf("csv: %d pages, %d rows, want >= 3 pages and %d rows", pages, rows, len(want))
	}
}

func TestV2PageExpiry(t *testing.T) {
	s := small(t, func(c *Config) { c.TickLimit = 1000; c.PageTTL = 50 * time.Millisecond })
	_, v2 := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	_, _, body, err := httpGet(t, nil, v2+"/v2/bulk_hist/option/greeks?root=SPXW&exp="+exp.Compact()+"&start_date=20240315&end_date=20240315")
	if err != nil {
		t.Fatal(err)
	}
	next := decodeV2(t, body).Header.NextPage
	time.Sleep(120 * time.Millisecond)
	for _, url := range []string{next, v2 + "/v2/page/999999"} {
		code, _, body, err := httpGet(t, nil, url)
		if err != nil || code != 477 {
			t.Fatalf("%s: status %d %v, want 477", url, code, err)
		}
		if et := decodeV2(t, body).Header.ErrorType; et != "NO_PAGE_FOUND" {
			t.Fatalf("error_type %q", et)
		}
	}
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrencyQueueAnd429(t *testing.T) {
	s := small(t, func(c *Config) {
		c.Concurrency, c.QueueSize = 2, 1
		c.Faults.Latency = 400 * time.Millisecond
	})
	v3, _ := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	url := v3 + "/v3/option/history/open_interest?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315"

	var wg sync.WaitGroup
	codes := make(chan int, 3)
	fire := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, _, err := httpGet(t, nil, url)
			if err != nil {
				t.Error(err)
			}
			codes <- code
		}()
	}
	fire()
	fire()
	waitFor(t, "two requests in flight", func() bool { return s.Stats().InFlight == 2 })
	fire()
	waitFor(t, "one request queued", func() bool { return s.Stats().Queued == 1 })
	code, _, body, err := httpGet(t, nil, url)
	if err != nil || code != 429 || !strings.HasPrefix(string(body), "OS_LIMIT") {
		t.Fatalf("overflow request: %d %v %q, want 429", code, err, body)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("queued request answered %d", c)
		}
	}
	st := s.Stats()
	if st.MaxConcurrent != 2 || st.InFlight != 0 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
	if r := st.Requests["/v3/option/history/open_interest"]; r["200"] != 3 || r["429"] != 1 {
		t.Fatalf("request counts %v", r)
	}
}

func TestLimiterFIFOAndCancel(t *testing.T) {
	l := &limiter{limit: 1, queue: 3}
	rel, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	order := make(chan int, 3)
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		c := context.Background()
		if i == 2 {
			c = ctx
		}
		wg.Add(1)
		go func(i int, c context.Context) {
			defer wg.Done()
			r, err := l.acquire(c)
			if err != nil {
				order <- -i
				return
			}
			order <- i
			r()
		}(i, c)
		waitFor(t, "waiter queued", func() bool { _, _, q := l.snapshot(); return q == i })
	}
	cancel()
	waitFor(t, "cancelled waiter gone", func() bool { _, _, q := l.snapshot(); return q == 2 })
	rel()
	wg.Wait()
	close(order)
	var got []int
	for i := range order {
		got = append(got, i)
	}
	if len(got) != 3 || got[0] != -2 || got[1] != 1 || got[2] != 3 {
		t.Fatalf("order %v, want [-2 1 3] (2 cancelled, then FIFO)", got)
	}
	if _, active, _ := l.snapshot(); active != 0 {
		t.Fatalf("%d slots still taken", active)
	}
}

func TestWrongIP(t *testing.T) {
	s := small(t, func(c *Config) { c.OneClientIP = true })
	code, _, _ := getFrom(t, s.V3Handler(), "/v3/terminal/mdds/status", "127.0.0.1:5000")
	if code != 200 {
		t.Fatalf("first client: %d", code)
	}
	if code, _, _ = getFrom(t, s.V3Handler(), "/v3/terminal/mdds/status", "127.0.0.1:6000"); code != 200 {
		t.Fatalf("same address, other port: %d", code)
	}
	code, _, body := getFrom(t, s.V3Handler(), "/v3/option/list/expirations?symbol=SPXW", "[::1]:5000")
	if code != 476 || !strings.HasPrefix(string(body), "WRONG_IP") {
		t.Fatalf("second address on v3: %d %q", code, body)
	}
	code, _, body = getFrom(t, s.V2Handler(), "/v2/list/expirations?root=SPXW", "10.1.2.3:5000")
	if code != 476 || decodeV2(t, body).Header.ErrorType != "WRONG_IP" {
		t.Fatalf("second address on v2: %d %s", code, body)
	}

	open := small(t, nil)
	getFrom(t, open.V3Handler(), "/v3/terminal/mdds/status", "127.0.0.1:5000")
	if code, _, _ = getFrom(t, open.V3Handler(), "/v3/terminal/mdds/status", "[::1]:5000"); code != 200 {
		t.Fatalf("OneClientIP off: %d", code)
	}
}

func TestLargeRequest(t *testing.T) {
	s := small(t, func(c *Config) { c.LargeRequestRows = 1000 })
	exp := firstExp(t, s, "SPXW", day0315)
	code, _, body := get(t, s.V3Handler(), "/v3/option/history/greeks/first_order?symbol=SPXW&expiration="+exp.Compact()+"&date=20240315")
	if code != 570 {
		t.Fatalf("status %d %s, want 570", code, body)
	}
	code, _, _ = get(t, s.V3Handler(), "/v3/option/history/greeks/first_order?symbol=SPXW&expiration="+exp.Compact()+"&date=20240315&interval=1h")
	if code != 200 {
		t.Fatalf("a smaller request: %d, want 200", code)
	}
}

func TestFaults(t *testing.T) {
	exp := firstExp(t, small(t, nil), "SPXW", day0315)
	histPath := "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315"
	v2Path := "/v2/bulk_hist/option/greeks?root=SPXW&exp=" + exp.Compact() + "&start_date=20240315&end_date=20240315"
	tests := []struct {
		name   string
		faults Faults
		check  func(t *testing.T, s *Sim, v3, v2 string)
	}{
		{"error rate", Faults{ErrorRate: map[int]float64{474: 1}}, func(t *testing.T, s *Sim, v3, v2 string) {
			if code, _, _, _ := httpGet(t, nil, v3+histPath); code != 474 {
				t.Fatalf("history: %d, want 474", code)
			}
			if code, _, _, _ := httpGet(t, nil, v3+"/v3/option/list/expirations?symbol=SPXW"); code != 200 {
				t.Fatalf("list: %d, want 200 (faults are per history request)", code)
			}
		}},
		{"disconnect", Faults{Disconnect: time.Hour}, func(t *testing.T, s *Sim, v3, v2 string) {
			if _, _, b, _ := httpGet(t, nil, v3+"/v3/terminal/mdds/status"); string(b) != "DISCONNECTED" {
				t.Fatalf("health %q", b)
			}
			if _, _, b, _ := httpGet(t, nil, v2+"/v2/system/mdds/status"); string(b) != "DISCONNECTED" {
				t.Fatalf("v2 health %q", b)
			}
			if code, _, _, _ := httpGet(t, nil, v3+histPath); code != 474 {
				t.Fatalf("history: %d, want 474", code)
			}
			s.SetFaults(Faults{})
			if _, _, b, _ := httpGet(t, nil, v3+"/v3/terminal/mdds/status"); string(b) != "CONNECTED" {
				t.Fatalf("health after the burst %q", b)
			}
			if code, _, _, _ := httpGet(t, nil, v3+histPath); code != 200 {
				t.Fatalf("history after the burst: %d", code)
			}
		}},
		{"startup", Faults{StartupPhase: time.Hour}, func(t *testing.T, s *Sim, v3, v2 string) {
			if _, _, b, _ := httpGet(t, nil, v3+"/v3/terminal/mdds/status"); string(b) != "UNVERIFIED" {
				t.Fatalf("health %q", b)
			}
			code, _, body, _ := httpGet(t, nil, v2+v2Path)
			if code != 571 || decodeV2(t, body).Header.ErrorType != "SERVER_STARTING" {
				t.Fatalf("v2 history: %d %s", code, body)
			}
		}},
		{"reset", Faults{ResetRate: 1}, func(t *testing.T, s *Sim, v3, v2 string) {
			code, _, body, err := httpGet(t, nil, v3+histPath)
			if code != 200 || err == nil {
				t.Fatalf("status %d err %v: want a 200 whose body fails", code, err)
			}
			if len(body) == 0 || s.Stats().RowsServedTotal == 0 {
				t.Fatalf("reset before any row (%d bytes)", len(body))
			}
			if len(s.Stats().RowsServed) != 0 {
				t.Fatalf("a reset response counted as complete: %v", s.Stats().RowsServed)
			}
		}},
		{"stall", Faults{StallRate: 1}, func(t *testing.T, s *Sim, v3, v2 string) {
			c := &http.Client{Timeout: 300 * time.Millisecond}
			code, _, _, err := httpGet(t, c, v2+v2Path)
			var ne interface{ Timeout() bool }
			if code != 200 || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("status %d err %v: want a 200 whose body times out", code, err)
			}
		}},
		{"truncate", Faults{TruncateRate: 1}, func(t *testing.T, s *Sim, v3, v2 string) {
			code, _, body, err := httpGet(t, nil, v2+v2Path)
			if code != 200 || err != nil {
				t.Fatalf("status %d err %v", code, err)
			}
			var env v2Envelope
			if json.Unmarshal(body, &env) == nil || bytes.HasSuffix(body, []byte("]}")) {
				t.Fatal("truncated v2 body still parses")
			}
			_, _, body, _ = httpGet(t, nil, v3+histPath)
			if bytes.HasSuffix(body, []byte("\n")) {
				t.Fatal("truncated v3 CSV ends with a whole line")
			}
		}},
		{"latency", Faults{Latency: 150 * time.Millisecond}, func(t *testing.T, s *Sim, v3, v2 string) {
			start := time.Now()
			code, _, body, _ := httpGet(t, nil, v2+v2Path+"&ivl=3600000")
			if code != 200 || time.Since(start) < 150*time.Millisecond {
				t.Fatalf("status %d after %v", code, time.Since(start))
			}
			if env := decodeV2(t, body); env.Header.LatencyMS != 150 {
				t.Fatalf("latency_ms %d", env.Header.LatencyMS)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := small(t, func(c *Config) { c.Faults = tc.faults })
			v3, v2 := listen(t, s)
			tc.check(t, s, v3, v2)
		})
	}
}

func TestStats(t *testing.T) {
	s := small(t, nil)
	v3, v2 := listen(t, s)
	exp := firstExp(t, s, "SPXW", day0315)
	want := s.ExpectedRows(spx.Greeks, "SPXW", day0315, exp)
	httpGet(t, nil, v3+"/v3/option/history/greeks/first_order?symbol=SPXW&expiration="+exp.Compact()+"&date=20240315&interval=1m")
	httpGet(t, nil, v2+"/v2/bulk_hist/option/quote?root=SPXW&exp="+exp.Compact()+"&start_date=20240315&end_date=20240315")
	httpGet(t, nil, v3+"/v3/option/history/greeks/first_order?symbol=SPXW&expiration=20240316&date=20240315")
	httpGet(t, nil, v3+"/v3/nope")

	_, _, body, err := httpGet(t, nil, v2+"/sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/sim/stats: %v", err)
	}
	key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: day0315, Expiration: exp}.String()
	if st.RowsServed[key] != want || st.RowsServed["quote.SPXW.20240315."+exp.Compact()] != s.ExpectedRows(spx.Quote, "SPXW", day0315, exp) {
		t.Fatalf("rows_served %v, want %s=%d", st.RowsServed, key, want)
	}
	if st.RowsServedTotal != 2*want {
		t.Fatalf("rows_served_total %d, want %d", st.RowsServedTotal, 2*want)
	}
	g := st.Requests["/v3/option/history/greeks/first_order"]
	if g["200"] != 1 || g["472"] != 1 || st.Requests["/v2/bulk_hist/option/quote"]["200"] != 1 || st.Requests["unknown"]["404"] != 1 {
		t.Fatalf("requests %v", st.Requests)
	}
	if st.MaxConcurrent != 1 {
		t.Fatalf("max_concurrent %d", st.MaxConcurrent)
	}
}

func TestParseErrorRates(t *testing.T) {
	got, err := ParseErrorRates("474=0.05, 570=0.01")
	if err != nil || got[474] != 0.05 || got[570] != 0.01 || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"474", "abc=0.1", "200=0.1", "474=2", "474=x"} {
		if _, err := ParseErrorRates(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestLatencyKeepsTheAnswer: a paced answer (first-byte delay, bytes/s cap)
// is byte for byte the unpaced one, and the delay holds the request's slot:
// at concurrency 1 a second request waits for the first (MaxConcurrent 1).
func TestLatencyKeepsTheAnswer(t *testing.T) {
	plain := small(t, nil)
	paced := small(t, func(c *Config) {
		c.Concurrency = 1
		c.Latency = Latency{FirstByte: 20 * time.Millisecond, BytesPerSecond: 64 << 20}
	})
	exp := firstExp(t, plain, "SPXW", day0315)
	path := "/v3/option/history/quote?symbol=SPXW&expiration=" + exp.Compact() + "&date=20240315&interval=1m"
	_, _, want := get(t, plain.V3Handler(), path)
	v3, _ := listen(t, paced)
	done := make(chan []byte, 2)
	for range 2 {
		go func() {
			_, _, b, _ := httpGet(t, nil, v3+path)
			done <- b
		}()
	}
	for range 2 {
		if got := <-done; !bytes.Equal(got, want) || len(want) < 100<<10 {
			t.Fatalf("paced answer of %d bytes differs from the unpaced %d", len(got), len(want))
		}
	}
	if st := paced.Stats(); st.MaxConcurrent != 1 {
		t.Fatalf("max concurrent %d at concurrency 1", st.MaxConcurrent)
	}
}
