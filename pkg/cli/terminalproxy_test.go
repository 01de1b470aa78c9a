package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
)

func TestTerminalProxyRefusesBadSetups(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(proxyTokenEnv, "")
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"non-loopback without token", []string{"--listen", "0.0.0.0:0"}, "--token-file"},
		{"default listen without token", nil, "without a token"},
		{"empty token file", []string{"--token-file", empty}, "is empty"},
		{"missing token file", []string{"--token-file", filepath.Join(dir, "nope")}, "check --token-file"},
		{"token and token file", []string{"--token", "a", "--token-file", empty}, "use one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(t.Context(), append([]string{"terminal-proxy", "--terminal", "http://127.0.0.1:1"}, tc.args...), &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 mentioning %q", code, errb.String(), tc.want)
			}
		})
	}
}

func TestTerminalProxyServes(t *testing.T) {
	term := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "CONNECTED")
	}))
	defer term.Close()
	tokenFile := filepath.Join(t.TempDir(), "proxy.token")
	if err := os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"terminal-proxy", "--listen", "127.0.0.1:0", "--terminal", term.URL, "--token-file", tokenFile}, &out, &errb)
	}()
	addr := regexp.MustCompile(`listening on (\S+),`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; time.Sleep(10 * time.Millisecond) {
		if m = addr.FindStringSubmatch(out.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("proxy did not report its address; stdout %q stderr %q", out.String(), errb.String())
		}
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {"tok-123", 200}} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+m[1]+"/v3/terminal/mdds/status", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.want == 200 && string(b) != "CONNECTED") {
			t.Errorf("token %q: %d %q, want %d", tc.token, resp.StatusCode, b, tc.want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancel, stderr %q", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not stop when its context was cancelled")
	}
	if strings.Contains(errb.String(), "tok-123") {
		t.Errorf("the token appears in the log: %q", errb.String())
	}
}

func TestProxyTokenPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == proxyTokenEnv {
			return "from-env"
		}
		return ""
	}
	o := &Options{Stderr: io.Discard}
	for _, tc := range []struct {
		a    terminalProxyArgs
		want string
	}{
		{terminalProxyArgs{tokenFile: file}, "from-file"},
		{terminalProxyArgs{token: "from-flag"}, "from-flag"},
		{terminalProxyArgs{}, "from-env"},
	} {
		got, err := proxyToken(tc.a, env, o.Logger())
		if err != nil || got != tc.want {
			t.Errorf("proxyToken(%+v) = %q, %v; want %q", tc.a, got, err, tc.want)
		}
	}
}
