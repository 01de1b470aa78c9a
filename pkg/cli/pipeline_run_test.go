package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// TestRunServesPageMetricsAndStatus starts `spx run` with NATS credentials
// and the web server on random ports, processes a day through it with
// `spx process`, and checks the page, /metrics, `spx status` (queues,
// workers, throughput) and that the password shows nowhere.
func TestRunServesPageMetricsAndStatus(t *testing.T) {
	const password = "pw-f00-secret"
	sim := terminalsim.New(terminalsim.Config{Seed: 3, Concurrency: 4, MaxExpirations: 2, MaxStrikes: 3})
	v3, _, stopSim, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	dir := t.TempDir()
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_THETADATA_API", "v3")
	t.Setenv("SPX_NATS_USER", "spx")
	t.Setenv("SPX_NATS_PASSWORD", password)
	global := []string{"--db", filepath.Join(dir, "spx.db"), "--output-dir", filepath.Join(dir, "parquet"), "--terminal", v3, "--log-level", "debug"}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	var runErr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(runCtx, append([]string{"run", "--listen", "127.0.0.1:0", "--monitor", "", "--http", "127.0.0.1:0", "--fetchers", "2", "--writers", "1"}, global...), io.Discard, &runErr)
	}()
	natsRE := regexp.MustCompile(`NATS on (nats://[^\s,]+)`)
	webRE := regexp.MustCompile(`web page on (http://\S+)/,`)
	var natsURL, webURL string
	for natsURL == "" || webURL == "" {
		select {
		case code := <-done:
			t.Fatalf("spx run exited %d: %s", code, runErr.String())
		case <-ctx.Done():
			t.Fatalf("spx run did not start: %s", runErr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := natsRE.FindStringSubmatch(runErr.String()); m != nil {
			natsURL = m[1]
		}
		if m := webRE.FindStringSubmatch(runErr.String()); m != nil {
			webURL = m[1]
		}
	}
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(webURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if page := get("/"); !strings.Contains(page, "<html") {
		t.Errorf("/ is not the page: %.200s", page)
	}
	if m := get("/metrics"); !strings.Contains(m, "spx_queue_depth_up 1\n") {
		t.Errorf("/metrics before work:\n%s", m)
	}

	client := append([]string{"--nats", natsURL}, global...)
	var out, errb bytes.Buffer
	if code := Main(ctx, append([]string{"process", "2024-03-14"}, client...), &out, &errb); code != 0 {
		t.Fatalf("process through the running coordinator: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	// Workers announce themselves at start; wait for the first heartbeat.
	var st statusOutput
	for {
		out.Reset()
		errb.Reset()
		if code := Main(ctx, append([]string{"status", "--format", "json"}, client...), &out, &errb); code != 0 {
			t.Fatalf("status: exit %d: %s", code, errb.String())
		}
		st = statusOutput{}
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("status JSON: %v\n%s", err, out.String())
		}
		if len(st.Workers) == 2 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(st.Queues) != 2 || st.NATS != natsURL || st.LiveError != "" {
		t.Errorf("status queues = %+v, nats %q, live error %q", st.Queues, st.NATS, st.LiveError)
	}
	jobs := int64(0)
	for _, w := range st.Workers {
		if !w.Connected || w.Host == "" {
			t.Errorf("worker %+v not connected", w)
		}
		jobs += w.JobsDone
	}
	if len(st.Workers) != 2 || jobs == 0 || st.Throughput == nil || st.Throughput.RowsPerSec <= 0 {
		t.Errorf("status workers = %+v, throughput %+v", st.Workers, st.Throughput)
	}
	out.Reset()
	if code := Main(ctx, append([]string{"status", "--format", "table"}, client...), &out, &errb); code != 0 || !strings.Contains(out.String(), "queue fetch") || !strings.Contains(out.String(), "JOBS DONE") {
		t.Errorf("status table: exit %d\n%s", code, out.String())
	}
	if m := get("/metrics"); !regexp.MustCompile(`spx_rows_written_total [1-9]`).MatchString(m) || !strings.Contains(m, `spx_jobs_total{outcome="written"}`) {
		t.Errorf("/metrics after a day:\n%s", m)
	}

	// The read-only commands read through the coordinator while it holds
	// the database.
	for _, args := range [][]string{
		{"list", "--format", "json"},
		{"gap-analysis", "--start-date", "2024-03-14", "--end-date", "2024-03-14", "--format", "json"},
		{"status", "--calendar", "--year", "2024", "--format", "json"},
		{"verify", "--format", "json"},
		{"config", "get", "processing.roots", "--format", "json"},
	} {
		out.Reset()
		errb.Reset()
		if code := Main(ctx, append(args, client...), &out, &errb); code != 0 {
			t.Errorf("%v while spx run holds the database: exit %d: %s", args, code, errb.String())
		}
		if args[0] == "list" && !strings.Contains(out.String(), `"date":"2024-03-14","status":"success"`) {
			t.Errorf("list through the coordinator: %s", out.String())
		}
		if args[0] == "gap-analysis" && !strings.Contains(out.String(), `"gaps":[]`) {
			t.Errorf("gap-analysis through the coordinator: %s", out.String())
		}
	}
	// A database held by another process is not confused with the one this
	// coordinator serves.
	other := filepath.Join(t.TempDir(), "other.db")
	holder, err := statusdb.Open(other, statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	code := Main(ctx, []string{"list", "--db", other, "--nats", natsURL}, io.Discard, &errb)
	holder.Close()
	if code != 1 || !strings.Contains(errb.String(), "serves") {
		t.Errorf("list of a database another process holds: exit %d, %s; want 1 saying the coordinator serves another database", code, errb.String())
	}

	// Data directories 0700, files 0600 (spx run sets umask 077).
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile (temporary files)
		}
		if perm := info.Mode().Perm(); d.IsDir() && perm&0o077 != 0 || !d.IsDir() && perm&0o177 != 0 {
			t.Errorf("%s has mode %v, want 0700 directories and 0600 files", path, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A wrong password gets no live figures, and says nothing secret.
	t.Setenv("SPX_NATS_PASSWORD", "wrong-pw-123")
	out.Reset()
	errb.Reset()
	if code := Main(ctx, append([]string{"status", "--format", "json"}, client...), &out, &errb); code != 1 {
		// The database is held by the coordinator, so the status needs it.
		t.Errorf("status with a wrong password: exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	if strings.Contains(errb.String()+out.String(), "wrong-pw-123") {
		t.Errorf("the wrong password shows: %s", errb.String())
	}
	stopRun()
	if code := <-done; code != 0 {
		t.Errorf("spx run exit %d: %s", code, runErr.String())
	}
	if strings.Contains(runErr.String(), password) {
		t.Errorf("spx run's log shows the password:\n%s", runErr.String())
	}
}

func TestRunRefusesOpenListenWithoutCredentials(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"run", "--listen", "0.0.0.0:0", "--http", "", "--db", filepath.Join(dir, "spx.db"), "--terminal", "http://127.0.0.1:1"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "refusing") || !strings.Contains(errb.String(), "nats.user") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
}

func TestConfigGetRedactsSecrets(t *testing.T) {
	secrets := map[string]string{
		"SPX_NATS_PASSWORD": "pw-aaa111", "SPX_NATS_TOKEN": "tok-bbb222",
		"SPX_PROXY_TOKEN": "tok-ccc333", "SPX_NATS_CREDENTIALS": "/etc/spx/user.creds",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	for _, format := range []string{"table", "json"} {
		code, out, errOut := storeRunSPX(t, "--db", filepath.Join(t.TempDir(), "spx.db"), "config", "get", "--format", format)
		if code != 0 {
			t.Fatalf("config get: exit %d: %s", code, errOut)
		}
		for _, v := range secrets {
			if strings.Contains(out+errOut, v) {
				t.Errorf("config get --format %s shows %q:\n%s", format, v, out)
			}
		}
		for _, k := range []string{"nats.password", "nats.token", "thetadata.token", "nats.tls_verify_clients", "nats.replicas"} {
			if !strings.Contains(out, k) {
				t.Errorf("config get --format %s lacks %s", format, k)
			}
		}
	}
}
