package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/spx-archive/spx/pkg/cli"
	"github.com/spx-archive/spx/pkg/s3store/s3test"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// The suite's real input is the spx binary it builds; depending on its code
// makes go test's cache see every change to it.
var _ = cli.Main

// binDir holds the binaries TestMain built.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "spx-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/...")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: building the binaries failed: %v\n%s", err, out)
		return 1
	}
	binDir = dir
	defer s3test.StopShared()
	return m.Run()
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// full reports whether the full pass was asked for (SPX_FAULTS=full).
func full() bool { return os.Getenv("SPX_FAULTS") == "full" }

func needFull(t *testing.T) {
	t.Helper()
	if !full() {
		t.Skip("full pass only: run with SPX_FAULTS=full (make faults)")
	}
}

// proc is one running spx process; its stderr is kept and scanned.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitFor waits until a stderr line matches re and returns the match's
// submatches.
func (p *proc) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.Log()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.Log()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name, p.err, re, tail(p.Log()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %s:\n%s", p.name, re, timeout, tail(p.Log()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits (SIGKILL after 20 s).
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop on SIGTERM within 20s; killing it", p.name)
		p.kill(t)
	}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// peakRSS is the process's VmHWM in KiB (0 if unknown).
func (p *proc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// cluster is one scenario's world: directories, environment, processes.
type cluster struct {
	t       *testing.T
	dir     string
	out     string // processing.output_dir
	db      string
	env     []string
	simURL  string
	natsURL string
	listen  string // the coordinator's NATS client address (kept across restarts)

	mu    sync.Mutex
	procs []*proc
}

// simOptions are the sim-terminal flags of a scenario (beyond the small
// universe).
type clusterOptions struct {
	simArgs []string
	outDir  string // default <dir>/parquet
	env     []string
	// fullUniverse serves the realistic market instead of 2 expirations
	// of 8 strikes per root and day.
	fullUniverse bool
	// v2 serves and uses only the v2 protocol (paged answers).
	v2 bool
}

func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, out: o.outDir, db: filepath.Join(dir, "spx.db")}
	if c.out == "" {
		c.out = filepath.Join(dir, "parquet")
	}
	c.env = append(os.Environ(),
		"SPX_PROCESSING_OUTPUT_DIR="+c.out,
		"SPX_PROCESSING_TEMP_DIR="+filepath.Join(dir, "temp"),
		"SPX_DATABASE_PATH="+c.db,
		"SPX_NATS_STORE_DIR="+filepath.Join(dir, "nats"),
		"SPX_PROCESSING_START_DATE=2024-01-02",
		"SPX_TEST_ACK_WAIT=3s",
		"SPX_TEST_IN_PROGRESS=500ms",
		"SPX_TEST_NAK_BASE=200ms",
		"SPX_TEST_NAK_MAX=1s",
		"SPX_TEST_RETRY_BASE=50ms",
		"SPX_TEST_FETCH_RETRIES=2",
		"SPX_TEST_MAX_DELIVER=8",
		// Scenarios queue their own days; follow_test.go turns following on.
		"SPX_FOLLOW_ENABLED=false",
		// The CLI's default NATS address points nowhere, so a developer's
		// own `spx run` on 127.0.0.1:4222 never answers the suite.
		"SPX_NATS_LISTEN="+unusedAddr(t),
	)
	c.env = append(c.env, o.env...)
	t.Cleanup(c.killAll)
	v3, v2, api := "127.0.0.1:0", "", "v3"
	if o.v2 {
		v3, v2, api = "", "127.0.0.1:0", "v2"
	}
	c.env = append(c.env, "SPX_THETADATA_API="+api)
	simArgs := []string{"sim-terminal", "--v3-addr", v3, "--v2-addr", v2, "--seed", "7", "--contracts-latency", "0"}
	if !o.fullUniverse {
		simArgs = append(simArgs, "--max-expirations", "2", "--max-strikes", "8")
	}
	sim := c.start("sim-terminal", nil, append(simArgs, o.simArgs...)...)
	c.simURL = sim.waitFor(t, regexp.MustCompile(api+`=(http://127\.0\.0\.1:\d+)`), 20*time.Second)[1]
	c.env = append(c.env, "SPX_THETADATA_BASE_URL="+c.simURL)
	return c
}

// start runs `spx args...` with the cluster's environment plus extra.
func (c *cluster) start(name string, extra []string, args ...string) *proc {
	c.t.Helper()
	return c.startIn("", name, extra, args...)
}

// startIn is start in the working directory dir ("" = the test's).
func (c *cluster) startIn(dir, name string, extra []string, args ...string) *proc {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "spx"), args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), c.env...), extra...)
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr, cmd.Stdout = pw, pw
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting %s: %v", name, err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.Write(sc.Bytes())
			p.log.WriteByte('\n')
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		pr.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p
}

func (c *cluster) killAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.running() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	if c.t.Failed() {
		for _, p := range c.procs {
			c.t.Logf("--- %s log:\n%s", p.name, tail(p.Log()))
		}
	}
}

var natsRe = regexp.MustCompile(`spx: NATS on (nats://[0-9.:]+)`)

// coordinator starts `spx coordinator` with its embedded NATS server; the
// first start picks a random port, a restart reuses it so workers reconnect.
func (c *cluster) coordinator() *proc {
	c.t.Helper()
	listen := c.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	p := c.start("coordinator", nil, "coordinator", "--listen", listen, "--monitor", "127.0.0.1:0", "--http=")
	c.natsURL = p.waitFor(c.t, natsRe, 30*time.Second)[1]
	c.listen = strings.TrimPrefix(c.natsURL, "nats://")
	p.waitFor(c.t, regexp.MustCompile(`spx: running`), 30*time.Second)
	return p
}

// fetcher starts `spx fetcher` with n workers; extra adds environment.
func (c *cluster) fetcher(n int, extra ...string) *proc {
	c.t.Helper()
	p := c.start("fetcher", extra, "fetcher", "--nats", c.natsURL, "--fetchers", fmt.Sprint(n))
	p.waitFor(c.t, regexp.MustCompile(`spx: running`), 30*time.Second)
	return p
}

// writer starts `spx writer` with n workers; extra adds environment.
func (c *cluster) writer(n int, extra ...string) *proc {
	c.t.Helper()
	p := c.start("writer", extra, "writer", "--nats", c.natsURL, "--writers", fmt.Sprint(n))
	p.waitFor(c.t, regexp.MustCompile(`spx: running`), 30*time.Second)
	return p
}

// cli runs a short spx command to completion and returns its combined
// output and exit code.
func (c *cluster) cli(timeout time.Duration, args ...string) (string, int) {
	c.t.Helper()
	return c.cliEnv(nil, timeout, args...)
}

// cliEnv is cli with extra environment.
func (c *cluster) cliEnv(extra []string, timeout time.Duration, args ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "spx"), args...)
	cmd.Env = append(append([]string(nil), c.env...), extra...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		c.t.Fatalf("spx %s did not finish within %s:\n%s", strings.Join(args, " "), timeout, tail(string(out)))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("spx %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

// process runs `spx process-range` against the running coordinator and
// waits for it to finish; it returns the exit code and output.
func (c *cluster) process(from, to string, timeout time.Duration) (string, int) {
	c.t.Helper()
	return c.cli(timeout, "process-range", from, to, "--nats", c.natsURL, "--log-level", "warn")
}

// simStats reads the simulator's /sim/stats.
type simStats struct {
	Requests   map[string]map[string]int64 `json:"requests"`
	RowsServed map[string]int64            `json:"rows_served"`
	Completed  map[string]int64            `json:"completed"` // job key → complete downloads
}

func (c *cluster) stats() simStats {
	c.t.Helper()
	resp, err := http.Get(c.simURL + "/sim/stats")
	if err != nil {
		c.t.Fatalf("reading sim stats: %v", err)
	}
	defer resp.Body.Close()
	var st simStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		c.t.Fatalf("decoding sim stats: %v", err)
	}
	return st
}

// historyRequests counts the simulator's history requests (v2 page
// continuations included) by status.
func (st simStats) historyRequests() map[string]int64 {
	out := map[string]int64{}
	for path, m := range st.Requests {
		if strings.Contains(path, "/list/") || strings.HasSuffix(path, "/status") || path == "unknown" {
			continue
		}
		for code, n := range m {
			out[code] += n
		}
	}
	return out
}

// jobs opens the status database read-only (the coordinator must be
// stopped) and returns the jobs of the dates.
func (c *cluster) jobs(dates ...spx.Date) []spx.JobRecord {
	c.t.Helper()
	st, err := statusdb.Open(c.db, statusdb.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		c.t.Fatalf("opening the status database: %v", err)
	}
	defer st.Close()
	var out []spx.JobRecord
	for _, d := range dates {
		js, err := st.JobsForDate(context.Background(), d)
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, js...)
	}
	return out
}

func (c *cluster) errorLog() []spx.ErrorEntry {
	c.t.Helper()
	st, err := statusdb.Open(c.db, statusdb.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		c.t.Fatalf("opening the status database: %v", err)
	}
	defer st.Close()
	es, err := st.Errors(context.Background(), 0)
	if err != nil {
		c.t.Fatal(err)
	}
	return es
}

// checkOutcomes checks the outcome of every job planned for dates: written
// with the rows the simulator served, or empty; failed or dead (with a
// reason) only if allowFailed. It calls written with each written job and
// returns the jobs.
func (c *cluster) checkOutcomes(dates []spx.Date, allowFailed bool, written func(spx.JobRecord)) []spx.JobRecord {
	t := c.t
	t.Helper()
	jobs := c.jobs(dates...)
	if len(jobs) == 0 {
		t.Fatalf("no jobs planned for %v", dates)
	}
	st := c.stats()
	for _, j := range jobs {
		switch j.Outcome {
		case spx.JobWritten:
			written(j)
			if served := st.RowsServed[j.Key.String()]; served != j.Rows {
				t.Errorf("%s: %d rows written, the simulator served %d", j.Key, j.Rows, served)
			}
		case spx.JobEmpty:
		case spx.JobFailed, spx.JobDead:
			if !allowFailed {
				t.Errorf("%s: %s: %s", j.Key, j.Outcome, j.LastError)
			} else if j.LastError == "" {
				t.Errorf("%s: %s without a reason", j.Key, j.Outcome)
			}
		default:
			t.Errorf("%s: still %s", j.Key, j.Outcome)
		}
	}
	return jobs
}

// check is the check every scenario ends with; the coordinator must be
// stopped. allowFailed lists job outcomes besides written/empty that are
// acceptable (each must carry a reason). It returns the jobs.
func (c *cluster) check(dates []spx.Date, allowFailed bool) []spx.JobRecord {
	t := c.t
	t.Helper()
	written := map[string]spx.JobRecord{}
	jobs := c.checkOutcomes(dates, allowFailed, func(j spx.JobRecord) { written[filepath.FromSlash(j.Key.RelPath())] = j })
	// Files on disk: exactly the written jobs, rows as recorded, no .tmp.
	seen := map[string]bool{}
	_ = filepath.WalkDir(c.out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(c.out, path)
		switch {
		case strings.HasSuffix(path, ".tmp"):
			t.Errorf("leftover temp file %s", rel)
		case strings.HasSuffix(path, ".parquet"):
			j, ok := written[rel]
			if !ok {
				t.Errorf("%s on disk belongs to no written job", rel)
				return nil
			}
			seen[rel] = true
			if n := parquetRows(t, path); n != j.Rows {
				t.Errorf("%s: %d rows in the file, %d recorded", rel, n, j.Rows)
			}
		}
		return nil
	})
	for rel := range written {
		if !seen[rel] {
			t.Errorf("%s: recorded written, missing on disk", rel)
		}
	}
	if !allowFailed {
		out, code := c.cli(time.Minute, "verify", "--from", dates[0].String(), "--to", dates[len(dates)-1].String())
		if code != 0 {
			t.Errorf("spx verify exit %d:\n%s", code, out)
		}
	}
	return jobs
}

func parquetRows(t *testing.T, path string) int64 {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return -1
	}
	defer r.Close()
	return r.NumRows()
}

// countOutcomes summarises jobs for logs.
func countOutcomes(jobs []spx.JobRecord) map[spx.JobOutcome]int {
	m := map[spx.JobOutcome]int{}
	for _, j := range jobs {
		m[j.Outcome]++
	}
	return m
}

func dates(ss ...string) []spx.Date {
	var out []spx.Date
	for _, s := range ss {
		d, err := spx.ParseDate(s)
		if err != nil {
			panic(err)
		}
		out = append(out, d)
	}
	return out
}

// unusedAddr returns a loopback address nothing listens on.
func unusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
