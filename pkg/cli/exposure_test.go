package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
)

// spx run and spx coordinator refuse, with exit 2, one line saying what to
// do and nothing created, to serve what other machines could use unchecked:
// the page on a non-loopback --http without web.user and web.password, the
// NATS monitoring port on a non-loopback address at all (nats-server has no
// authentication there), NATS clients there without credentials.
func TestRefusesOpenAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		says []string
	}{
		{"run page", nil, []string{"run", "--monitor", "", "--http", "0.0.0.0:0"}, []string{"--http 0.0.0.0:0", "web.user and web.password", "127.0.0.1"}},
		{"coordinator page", nil, []string{"coordinator", "--monitor", "", "--http", ":8080"}, []string{"--http :8080", "web.user and web.password"}},
		{"page with a user but no password", map[string]string{"SPX_WEB_USER": "ops"}, []string{"run", "--monitor", "", "--http", "192.0.2.7:0"}, []string{"web.user and web.password"}},
		{"monitor flag", nil, []string{"run", "--http", "", "--monitor", "0.0.0.0:0"}, []string{"nats.monitor 0.0.0.0:0", "no authentication", "--monitor \"\""}},
		{"monitor from the environment", map[string]string{"SPX_NATS_MONITOR": "[::]:8222"}, []string{"coordinator", "--http", ""}, []string{"nats.monitor [::]:8222", "ssh -L 8222"}},
		{"monitor even with NATS credentials", map[string]string{"SPX_NATS_USER": "spx", "SPX_NATS_PASSWORD": "pw-123"}, []string{"run", "--http", "", "--monitor", "0.0.0.0:0"}, []string{"no authentication"}},
		{"listen", nil, []string{"run", "--http", "", "--listen", "0.0.0.0:0"}, []string{"refusing", "nats.user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
			t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			args := append(tc.args, "--db", filepath.Join(dir, "spx.db"), "--output-dir", filepath.Join(dir, "parquet"), "--terminal", "http://127.0.0.1:1")
			// Were it not refused, the command would run until this ends.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			code := Main(ctx, args, &out, &errb)
			msg := errb.String()
			if code != 2 || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want 2 and one line", code, msg)
			}
			for _, s := range tc.says {
				if !strings.Contains(msg, s) {
					t.Errorf("the refusal %q does not say %q", msg, s)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("the refused command created %v", entries)
			}
		})
	}
}

// With web.user and web.password, spx coordinator serves the page and
// /metrics on 0.0.0.0 and asks every request for them; it answers to
// 127.0.0.1, its IP addresses and the names of web.hosts, and refuses
// other Host names (a DNS-rebound one) with 421.
func TestCoordinatorServesOpenPageWithCredentials(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_WEB_USER", "ops")
	t.Setenv("SPX_WEB_PASSWORD", "pw-web-9f3")
	t.Setenv("SPX_WEB_HOSTS", "archive.lan")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var runErr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(runCtx, []string{"coordinator", "--listen", "127.0.0.1:0", "--monitor", "", "--http", "0.0.0.0:0",
			"--db", filepath.Join(dir, "spx.db"), "--output-dir", filepath.Join(dir, "parquet"), "--terminal", "http://127.0.0.1:1"}, io.Discard, &runErr)
	}()
	webRE := regexp.MustCompile(`web page on http://\S+:(\d+)/,`)
	var port string
	for port == "" {
		select {
		case code := <-done:
			t.Fatalf("spx coordinator exited %d: %s", code, runErr.String())
		case <-ctx.Done():
			t.Fatalf("spx coordinator did not start: %s", runErr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := webRE.FindStringSubmatch(runErr.String()); m != nil {
			port = m[1]
		}
	}
	get := func(path, host, user, pw string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+path, nil)
		req.Host = host + ":" + port
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path, host, user, pw string
		code                 int
	}{
		{"/", "127.0.0.1", "", "", 401},
		{"/metrics", "127.0.0.1", "", "", 401},
		{"/api/status", "127.0.0.1", "ops", "wrong", 401},
		{"/", "127.0.0.1", "ops", "pw-web-9f3", 200},
		{"/metrics", "127.0.0.1", "ops", "pw-web-9f3", 200},
		{"/api/status", "archive.lan", "ops", "pw-web-9f3", 200},
		{"/api/status", "rebind.evil.example", "ops", "pw-web-9f3", 421},
		{"/metrics", "rebind.evil.example", "ops", "pw-web-9f3", 421},
	} {
		if code := get(tc.path, tc.host, tc.user, tc.pw); code != tc.code {
			t.Errorf("GET %s (Host %s, user %q): %d, want %d", tc.path, tc.host, tc.user, code, tc.code)
		}
	}
	stop()
	if code := <-done; code != 0 {
		t.Errorf("spx coordinator exit %d: %s", code, runErr.String())
	}
	if strings.Contains(runErr.String(), "pw-web-9f3") {
		t.Errorf("the log shows the web password:\n%s", runErr.String())
	}
}
