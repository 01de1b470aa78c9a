package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every page and API request names this server in its Host header, or is
// refused with 421: a DNS-rebound name reaches the server as same-origin
// (its Origin matches its own Host), so the Origin check alone let
// POST /api/retry through.
func TestHostAllowlist(t *testing.T) {
	r := &fakeRetrier{}
	s := NewServer(Config{Store: seedStore(t), Live: fakeLive(), Retrier: r, Years: []int{2024},
		Access: Access{Hosts: []string{"archive.lan"}}, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "spx_up 1\n") })})
	ts := httptest.NewServer(s)
	defer ts.Close()
	port := ts.URL[strings.LastIndex(ts.URL, ":"):]
	do := func(method, path, host, origin string) (int, string) {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"date":"2024-01-04"}`)
		}
		req, _ := http.NewRequest(method, ts.URL+path, body)
		req.Host = host
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(b)
	}
	paths := []string{"/", "/static/app.js", "/api/status", "/api/info", "/api/calendar?year=2024", "/api/errors", "/api/live", "/metrics"}
	for _, host := range []string{"rebind.evil.example" + port, "rebind.evil.example", "127.0.0.1.evil.example" + port, "localhost.evil.example" + port} {
		for _, path := range paths {
			if code, body := do(http.MethodGet, path, host, ""); code != http.StatusMisdirectedRequest || !strings.Contains(body, "web.hosts") {
				t.Errorf("GET %s with Host %q: %d %.100s, want 421 saying web.hosts", path, host, code, body)
			}
		}
		if code, _ := do(http.MethodPost, "/api/retry", host, "http://"+host); code != http.StatusMisdirectedRequest {
			t.Errorf("POST /api/retry with Host and Origin %q: %d, want 421", host, code)
		}
	}
	if got := r.got(); len(got) != 0 {
		t.Errorf("the retrier was called for %v through a foreign host", got)
	}
	for _, host := range []string{"127.0.0.1" + port, "localhost" + port, "LocalHost", "[::1]" + port, "10.1.2.3" + port, "[fd00::1]" + port, "archive.lan" + port, "ARCHIVE.lan." + port} {
		for _, path := range paths {
			if code, body := do(http.MethodGet, path, host, ""); code != http.StatusOK {
				t.Errorf("GET %s with Host %q: %d %.100s, want 200", path, host, code, body)
			}
		}
	}
	// The Origin check stays: the right Host with a foreign Origin is refused.
	if code, _ := do(http.MethodPost, "/api/retry", "127.0.0.1"+port, "http://rebind.evil.example"+port); code != http.StatusForbidden {
		t.Errorf("POST /api/retry from a foreign origin: %d, want 403", code)
	}
	if code, body := do(http.MethodPost, "/api/retry", "archive.lan"+port, "http://archive.lan"+port); code != http.StatusOK {
		t.Errorf("POST /api/retry by an allowed name: %d %s, want 200", code, body)
	}
}

// With web.user set, every request needs the credentials: the page, the
// API and /metrics.
func TestBasicAuth(t *testing.T) {
	s := NewServer(Config{Store: seedStore(t), Years: []int{2024}, Access: Access{User: "ops", Password: "s3cret-pw"},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "spx_up 1\n") })})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, path := range []string{"/", "/static/app.css", "/api/status", "/api/stream", "/metrics"} {
		for _, tc := range []struct {
			user, pw string
			code     int
		}{{"", "", 401}, {"ops", "wrong", 401}, {"other", "s3cret-pw", 401}, {"ops", "s3cret-pw", 200}} {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pw)
			}
			if path == "/api/stream" && tc.code == 200 {
				continue // an endless stream; its 401s are what matter
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("GET %s as %q/%q: %d, want %d", path, tc.user, tc.pw, resp.StatusCode, tc.code)
			}
			if tc.code == 401 && (!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") || strings.Contains(string(b), "s3cret-pw")) {
				t.Errorf("GET %s as %q: WWW-Authenticate %q, body %s", path, tc.user, resp.Header.Get("WWW-Authenticate"), b)
			}
		}
	}
}

func TestWithListenHost(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want []string
	}{
		{"spx.example.lan:8080", []string{"a", "spx.example.lan"}},
		{"10.0.0.5:8080", []string{"a", "10.0.0.5"}},
		{"0.0.0.0:8080", []string{"a"}},
		{"[::]:8080", []string{"a"}},
		{":8080", []string{"a"}},
	} {
		a := Access{Hosts: []string{"a"}}.WithListenHost(tc.addr)
		if strings.Join(a.Hosts, ",") != strings.Join(tc.want, ",") {
			t.Errorf("WithListenHost(%q) = %q, want %q", tc.addr, a.Hosts, tc.want)
		}
	}
	if !(Access{}).WithListenHost("spx.example.lan:8080").HostAllowed("spx.example.lan:8080") {
		t.Error("the --http host is not accepted")
	}
}
