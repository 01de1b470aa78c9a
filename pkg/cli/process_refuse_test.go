package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/terminalsim"
	"github.com/spx-archive/spx/pkg/termproxy"
)

// unwritableDir returns a directory this process cannot create files in
// (a read-only file system for root), or skips.
func unwritableDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		return dir
	}
	for _, dir := range []string{"/sys", "/proc"} {
		f, err := os.CreateTemp(dir, "spx-check-*")
		if err != nil {
			return dir
		}
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	t.Skip("no unwritable directory available")
	return ""
}

// TestProcessRefusedCreatesNothing: spx process that cannot work (no
// terminal, something else at the terminal's address, an archive it
// cannot write) says so before it downloads anything or creates the
// database, the JetStream store or any directory.
func TestProcessRefusedCreatesNothing(t *testing.T) {
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello there") }))
	defer garbage.Close()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>")
	}))
	defer web.Close()
	sim := terminalsim.New(terminalsim.Config{Seed: 5, MaxExpirations: 1, MaxStrikes: 2})
	v3, _, stopSim, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no terminal", []string{"--terminal", "http://127.0.0.1:1"}, 1, "no Theta Terminal answered"},
		{"garbage terminal", []string{"--terminal", garbage.URL}, 1, `input begins "hello there"`},
		{"a web server", []string{"--terminal", web.URL}, 1, "something answers at " + web.URL + " but it is not a Theta Terminal"},
		{"archive not writable", []string{"--terminal", v3, "--output-dir", filepath.Join(unwritableDir(t), "spx-archive")}, 2, "processing.output_dir"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			start := time.Now()
			code, stdout, stderr := storeRunSPX(t, append([]string{"process", "2024-03-14"}, tt.args...)...)
			if code != tt.code || stdout != "" || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and one line with %q", code, stdout, stderr, tt.code, tt.want)
			}
			if strings.Contains(stderr, "too old") {
				t.Errorf("stderr calls it an old terminal: %s", stderr)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s", took)
			}
			if _, err := os.Stat("data"); !errors.Is(err, fs.ErrNotExist) {
				entries, _ := filepath.Glob("data/*")
				t.Errorf("created ./data: %v", entries)
			}
		})
	}
	if n := sim.Stats().RowsServedTotal; n != 0 {
		t.Errorf("the terminal served %d rows to a process that could not write them", n)
	}
}

// TestConfigValidateProbesTheTerminalItIsGiven: config validate probes the
// terminal URL it is given and no other, refuses a URL that is not http(s)
// on its command line (exit 2), and through spx terminal-proxy presents
// thetadata.token; a wrong token is called that.
func TestConfigValidateProbesTheTerminalItIsGiven(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	global := []string{"--db", filepath.Join(dir, "spx.db"), "--output-dir", filepath.Join(dir, "out")}
	// A terminal on the default v3 address, when the port is free: the
	// check of another URL must not report it.
	if ln, err := net.Listen("tcp", "127.0.0.1:25503"); err == nil {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "CONNECTED") })}
		go srv.Serve(ln)
		defer srv.Close()
	}

	code, out, stderr := storeRunSPX(t, append(global, "--terminal", "ftp://127.0.0.1/x", "config", "validate")...)
	if code != 2 || out != "" || !strings.Contains(stderr, `thetadata.base_url "ftp://127.0.0.1/x" (from flag --terminal)`) {
		t.Errorf("--terminal ftp://: exit %d, stdout %q, stderr %q; want 2 and the reason", code, out, stderr)
	}
	t.Setenv("SPX_THETADATA_BASE_URL", "ftp://127.0.0.1/x")
	code, out, _ = storeRunSPX(t, append(global, "config", "validate", "--format", "table")...)
	if code != 1 || strings.Contains(out, "answered") || !strings.Contains(out, "terminal not checked") {
		t.Errorf("SPX_THETADATA_BASE_URL=ftp://: exit %d:\n%s\nwant 1, the terminal not checked", code, out)
	}
	t.Setenv("SPX_THETADATA_BASE_URL", "")

	sim := terminalsim.New(terminalsim.Config{Seed: 5, MaxExpirations: 1, MaxStrikes: 2})
	v3, _, stopSim, err := sim.Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	p, err := termproxy.New(termproxy.Config{Terminal: v3, Token: "tok-right"})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(p)
	defer proxy.Close()
	t.Setenv("SPX_PROXY_TOKEN", "tok-right")
	code, out, stderr = storeRunSPX(t, append(global, "--terminal", proxy.URL, "config", "validate", "--format", "table")...)
	if code != 0 || !strings.Contains(out, "terminal: v3 answered CONNECTED") {
		t.Errorf("through the proxy with its token: exit %d:\n%s%s", code, out, stderr)
	}
	t.Setenv("SPX_PROXY_TOKEN", "tok-wrong")
	code, out, _ = storeRunSPX(t, append(global, "--terminal", proxy.URL, "config", "validate", "--format", "table")...)
	if code != 1 || !strings.Contains(out, "401") || !strings.Contains(out, "thetadata.token") || strings.Contains(strings.ToLower(out), "java") || strings.Contains(out, "tok-wrong") {
		t.Errorf("through the proxy with a wrong token: exit %d:\n%s\nwant 1 saying the token is wrong (and not showing it)", code, out)
	}
}
