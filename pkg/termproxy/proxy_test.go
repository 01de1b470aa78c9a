package termproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/thetadata"
)

const testToken = "s3cret-token-0123456789"

type fixture struct {
	proxy    *Proxy
	url      string // the proxy's base URL
	terminal *httptest.Server
	logs     *syncbuf.Buffer
}

// start runs upstream as the terminal and a proxy in front of it.
func start(t *testing.T, upstream http.Handler, token string) *fixture {
	t.Helper()
	term := httptest.NewServer(upstream)
	t.Cleanup(term.Close)
	return startFor(t, term.URL, token, term)
}

func startFor(t *testing.T, terminalURL, token string, term *httptest.Server) *fixture {
	t.Helper()
	logs := &syncbuf.Buffer{}
	p, err := New(Config{Terminal: terminalURL, Token: token, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	t.Cleanup(p.transport.CloseIdleConnections)
	return &fixture{proxy: p, url: srv.URL, terminal: term, logs: logs}
}

func (f *fixture) request(ctx context.Context, path, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+path, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultClient.Do(req)
}

func (f *fixture) get(t *testing.T, ctx context.Context, path, token string) *http.Response {
	t.Helper()
	resp, err := f.request(ctx, path, token)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func TestTokenRequired(t *testing.T) {
	var sawAuth atomic.Value
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth.Store(r.Header.Get("Authorization"))
		io.WriteString(w, "CONNECTED")
	}), testToken)

	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"wrong", "Bearer nope", http.StatusUnauthorized},
		{"prefix of the token", "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"wrong scheme", "Basic " + testToken, http.StatusUnauthorized},
		{"right", "Bearer " + testToken, http.StatusOK},
		{"right, lower-case scheme", "bearer " + testToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.url+"/v3/terminal/mdds/status", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.want, body)
			}
			if tc.want == http.StatusUnauthorized {
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "Authorization: Bearer") {
					t.Errorf("401 should explain itself in plain text, got %q %q", resp.Header.Get("Content-Type"), body)
				}
				return
			}
			if body != "CONNECTED" {
				t.Errorf("body %q, want the terminal's", body)
			}
			if a := sawAuth.Load().(string); a != "" {
				t.Errorf("terminal saw Authorization %q; the token must not be forwarded", a)
			}
		})
	}
	if strings.Contains(f.logs.String(), testToken) || strings.Contains(f.logs.String(), testToken[:5]) {
		t.Errorf("the token appears in the logs:\n%s", f.logs.String())
	}
	if got := f.proxy.Stats().RequestsByStatus[http.StatusUnauthorized]; got != 4 {
		t.Errorf("stats count %d refused requests, want 4", got)
	}
}

func TestStatsNeedsTokenHealthDoesNot(t *testing.T) {
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "CONNECTED\n") }), testToken)
	ctx := t.Context()
	if resp := f.get(t, ctx, StatsPath, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stats without token: %d, want 401", resp.StatusCode)
	} else {
		readAll(t, resp)
	}
	resp := f.get(t, ctx, HealthPath, "")
	if body := readAll(t, resp); resp.StatusCode != 200 || body != "ok CONNECTED\n" {
		t.Errorf("health: %d %q, want 200 \"ok CONNECTED\"", resp.StatusCode, body)
	}
}

func TestForwardsPathQueryHeaders(t *testing.T) {
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "uri": r.URL.RequestURI(), "accept": r.Header.Get("Accept"),
			"encoding": r.Header.Get("Accept-Encoding"), "body": string(b), "conn": r.Header.Get("X-Hop"),
		})
	}), testToken)
	req, _ := http.NewRequest(http.MethodGet, f.url+"/v3/option/history/quote?symbol=SPXW&expiration=*&date=20240102&format=ndjson", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "application/x-ndjson")
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "must not pass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(readAll(t, resp)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"method": "GET", "uri": "/v3/option/history/quote?symbol=SPXW&expiration=*&date=20240102&format=ndjson",
		"accept": "application/x-ndjson", "encoding": "identity", "body": "", "conn": "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("terminal saw %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestStatusAndBodiesPropagate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
	}{
		{"ok csv", 200, "text/csv", "symbol,expiration\nSPXW,2024-01-05\n"},
		{"no data", 472, "text/plain", "No data for the specified timeframe & contract."},
		{"wrong ip", 476, "text/plain", "WRONG_IP: requests must come from 127.0.0.1"},
		{"large request", 570, "text/plain", "LARGE_REQUEST: ask for less"},
		{"no impl", 404, "text/plain; charset=utf-8", "NO_IMPL"},
		{"disconnected", 474, "text/plain", "DISCONNECTED"},
		{"no content type", 200, "", "CONNECTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}), testToken)
			resp := f.get(t, t.Context(), "/v3/option/history/greeks/first_order?symbol=SPXW", testToken)
			body := readAll(t, resp)
			if resp.StatusCode != tc.status || body != tc.body || resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("got %d %q %q, want %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.contentType, tc.body)
			}
			if got := f.proxy.Stats().RequestsByStatus[tc.status]; got != 1 {
				t.Errorf("stats count %d requests with status %d, want 1", got, tc.status)
			}
		})
	}
}

func TestStreamsWithoutBuffering(t *testing.T) {
	release := make(chan struct{})
	first := "symbol,expiration,strike,right,timestamp,bid\n"
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		select { // the terminal is still working on the rest
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "SPXW,2024-01-05,4750.000,CALL,2024-01-02T09:30:00.000,1.5\n")
	}), testToken)
	// Headers and the first chunk must both arrive before the terminal is
	// done, so the request itself runs under the deadline too.
	respc := make(chan *http.Response, 1)
	got := make(chan string, 1)
	go func() {
		resp, err := f.request(t.Context(), "/v3/option/history/quote", testToken)
		if err != nil {
			t.Error(err)
			close(respc)
			got <- ""
			return
		}
		respc <- resp
		b := make([]byte, len(first))
		n, _ := io.ReadFull(resp.Body, b)
		got <- string(b[:n])
	}()
	select {
	case s := <-got:
		if s != first {
			t.Fatalf("first chunk %q, want %q", s, first)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the first chunk did not arrive while the terminal was still writing: the proxy buffers")
	}
	close(release)
	resp, ok := <-respc
	if !ok {
		return
	}
	defer resp.Body.Close()
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !strings.HasPrefix(string(rest), "SPXW,") {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func TestBodyCutMidStreamReachesClient(t *testing.T) {
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "symbol,expiration\nSPXW,")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the terminal dies mid-body
	}), testToken)
	resp := f.get(t, t.Context(), "/v3/option/list/expirations?symbol=SPXW", testToken)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("client read a clean end after %q; a cut terminal body must reach the client as an error", b)
	}
	if f.proxy.Stats().UpstreamErrors != 1 {
		t.Errorf("upstream errors %d, want 1", f.proxy.Stats().UpstreamErrors)
	}
}

func TestNextPageRewritten(t *testing.T) {
	var paths sync.Map
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.URL.RequestURI(), true)
		switch r.URL.Path {
		case "/v2/bulk_hist/option/quote":
			w.Header().Set("Next-Page", "http://127.0.0.1:25510/v2/page/17")
		case "/v2/page/17":
			w.Header().Set("Next-Page", "null")
		}
		io.WriteString(w, `{"header":{"next_page":"http://127.0.0.1:25510/v2/page/17"}}`)
	}), testToken)
	host := strings.TrimPrefix(f.url, "http://")

	resp := f.get(t, t.Context(), "/v2/bulk_hist/option/quote?root=SPXW&exp=20240105&start_date=20240102&end_date=20240102&use_csv=true", testToken)
	body := readAll(t, resp)
	next := resp.Header.Get("Next-Page")
	if want := "http://" + host + "/v2/page/17"; next != want {
		t.Fatalf("Next-Page %q, want %q", next, want)
	}
	if !strings.Contains(body, "127.0.0.1:25510/v2/page/17") {
		t.Errorf("body changed: %q (JSON bodies pass untouched)", body)
	}
	resp = f.get(t, t.Context(), strings.TrimPrefix(next, f.url), testToken)
	readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Next-Page") != "null" {
		t.Errorf("page 17 through the proxy: %d, Next-Page %q", resp.StatusCode, resp.Header.Get("Next-Page"))
	}
	if _, ok := paths.Load("/v2/page/17"); !ok {
		t.Error("the terminal was not asked for /v2/page/17")
	}
}

func TestClientCancellationCancelsUpstream(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(30 * time.Second):
		}
	}), testToken)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/v3/option/history/greeks/first_order", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal's request was not cancelled when the client went away")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error %v, want context.Canceled", err)
	}
	waitFor(t, func() bool { return f.proxy.Stats().InFlight == 0 }, "in-flight back to 0")
	if got := f.proxy.Stats().RequestsByStatus[StatusClientClosed]; got != 1 {
		t.Errorf("stats count %d client-closed requests, want 1", got)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInFlightVisibleWhileOpen(t *testing.T) {
	release := make(chan struct{})
	var entered atomic.Int64
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "row\n")
		w.(http.Flusher).Flush()
		entered.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), testToken)
	var done sync.WaitGroup
	for range 2 {
		done.Add(1)
		go func() {
			defer done.Done()
			resp, err := f.request(t.Context(), "/v3/option/history/quote", testToken)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	waitFor(t, func() bool { return entered.Load() == 2 }, "two requests at the terminal")

	resp := f.get(t, t.Context(), StatsPath, testToken)
	var s Stats
	if err := json.Unmarshal([]byte(readAll(t, resp)), &s); err != nil {
		t.Fatal(err)
	}
	if s.InFlight != 2 || s.MaxInFlight != 2 {
		t.Errorf("while open: in_flight %d, max %d; want 2, 2", s.InFlight, s.MaxInFlight)
	}
	close(release)
	done.Wait()
	s = f.proxy.Stats()
	if s.InFlight != 0 || s.MaxInFlight != 2 || s.RequestsByStatus[200] != 2 || s.Bytes != 8 {
		t.Errorf("after: %+v; want in_flight 0, max 2, two 200s, 8 bytes", s)
	}
}

func TestKeepsUpstreamConnectionsAlive(t *testing.T) {
	var conns atomic.Int64
	term := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "CONNECTED")
	}))
	term.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	term.Start()
	t.Cleanup(term.Close)
	f := startFor(t, term.URL, testToken, term)
	for range 5 {
		readAll(t, f.get(t, t.Context(), "/v3/terminal/mdds/status", testToken))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the terminal saw %d connections for 5 sequential requests, want 1 (keep-alive)", n)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestTerminalUnreachable(t *testing.T) {
	terminal := "http://" + closedAddr(t)
	f := startFor(t, terminal, testToken, nil)

	resp := f.get(t, t.Context(), "/v3/option/list/expirations?symbol=SPXW", testToken)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(body, "terminal at "+terminal+" unreachable: ") {
		t.Errorf("got %d %q, want 503 \"terminal at %s unreachable: …\"", resp.StatusCode, body, terminal)
	}
	if c := thetadata.ClassOfStatus(resp.StatusCode); c != spx.ClassTransient {
		t.Errorf("the spx client classifies %d as %s, want transient", resp.StatusCode, c)
	}
	resp = f.get(t, t.Context(), HealthPath, "")
	if body := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "unreachable") {
		t.Errorf("health: %d %q, want 503 unreachable", resp.StatusCode, body)
	}
	if f.proxy.Stats().UpstreamErrors != 1 {
		t.Errorf("upstream errors %d, want 1", f.proxy.Stats().UpstreamErrors)
	}
}

func TestHealthFallsBackToV2(t *testing.T) {
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/system/mdds/status" {
			http.Error(w, "NO_IMPL", http.StatusNotFound)
			return
		}
		io.WriteString(w, "DISCONNECTED")
	}), testToken)
	resp := f.get(t, t.Context(), HealthPath, "")
	if body := readAll(t, resp); resp.StatusCode != 200 || body != "ok DISCONNECTED\n" {
		t.Errorf("health: %d %q, want 200 \"ok DISCONNECTED\"", resp.StatusCode, body)
	}
}

func TestSpxClientThroughProxy(t *testing.T) {
	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "CONNECTED")
	}), testToken)
	for _, tc := range []struct {
		name  string
		token string
		class spx.ErrorClass
	}{
		{"right token", testToken, spx.ClassOK},
		{"wrong token", "nope", spx.ClassPermanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := thetadata.New(t.Context(), thetadata.Options{BaseURL: f.url, API: "v3", Token: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			word, err := c.Health(t.Context())
			if got := spx.ClassOf(err); got != tc.class {
				t.Fatalf("class %s (%v), want %s", got, err, tc.class)
			}
			if err == nil && word != "CONNECTED" {
				t.Errorf("status %q, want CONNECTED", word)
			}
		})
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:25580", "", true},
		{"127.0.0.2:0", "", true},
		{"[::1]:25580", "", true},
		{"localhost:25580", "", true},
		{"0.0.0.0:25580", "", false},
		{":25580", "", false},
		{"[::]:25580", "", false},
		{"192.168.1.5:25580", "", false},
		{"proxy.example.com:25580", "", false},
		{"0.0.0.0:25580", "t", true},
	} {
		err := CheckListen(tc.addr, tc.token)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNoToken)) {
			t.Errorf("CheckListen(%q, %q) = %v, want ok=%v", tc.addr, tc.token, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--token-file") {
			t.Errorf("error does not say how to set a token: %v", err)
		}
	}
}

func TestListenAndServe(t *testing.T) {
	p, err := New(Config{Terminal: "http://" + closedAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ListenAndServe(t.Context(), "0.0.0.0:0"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("non-loopback without token: %v, want ErrNoToken", err)
	}

	f := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "CONNECTED") }), "")
	p = f.proxy
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/v3/terminal/mdds/status")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); body != "CONNECTED" {
		t.Errorf("without a token on loopback: %d %q", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after ctx was cancelled")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Terminal: ""},
		{Terminal: "127.0.0.1:25503"},
		{Terminal: "ftp://127.0.0.1"},
		{Terminal: "http://127.0.0.1:25503", Token: "two words"},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
	p, err := New(Config{Terminal: "http://127.0.0.1:25503/v3/"})
	if err != nil || p.Terminal() != "http://127.0.0.1:25503" {
		t.Errorf("New with /v3 suffix: %v %v, want base http://127.0.0.1:25503", p, err)
	}
}

// BenchmarkStream measures throughput of a large body through the proxy
// (go test -bench Stream -run ^$ ./pkg/termproxy).
func BenchmarkStream(b *testing.B) {
	const size = 64 << 20
	chunk := bytes.Repeat([]byte("SPXW,2024-03-15,5065.000,CALL,2024-03-14T09:30:00.000,114.95,115.05\n"), 512)
	term := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer term.Close()
	p, err := New(Config{Terminal: term.URL, Token: testToken})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v3/option/history/quote", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
	}
}
