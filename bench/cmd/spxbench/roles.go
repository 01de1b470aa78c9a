package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spx-archive/spx/bench/proc"
	"github.com/spx-archive/spx/bench/report"
	"github.com/spx-archive/spx/pkg/spx"
)

// roleResult is the peak RSS of one long-running role process.
type roleResult struct {
	Role    string
	PeakRSS int64
	CPU     time.Duration
}

// runRoles runs target 3's per-process memory bound on the pipeline: the
// simulated day through separate role processes (spx coordinator with its
// embedded NATS, spx fetcher, spx writer), driven by spx process --nats.
// Each role's peak RSS is its VmHWM read just before it is stopped.
func runRoles(ctx context.Context, cfg config, spxBin, work string, logf func(string, ...any)) ([]roleResult, time.Duration, report.Verdict) {
	v := report.Verdict{Target: "3c worker processes peak RSS", Want: "spx fetcher and spx writer each ≤ 256 MiB on a simulated day"}
	fail := func(err error) ([]roleResult, time.Duration, report.Verdict) {
		v.Status, v.Got = "FAIL", err.Error()
		return nil, 0, v
	}
	date, err := spx.ParseDate(cfg.e2eDate)
	if err != nil {
		return fail(fmt.Errorf("-e2e-date: %w", err))
	}
	sim, base, err := startSim(ctx, spxBin, cfg.e2eConcurrency)
	if err != nil {
		return fail(err)
	}
	defer sim.stop()
	dir := filepath.Join(work, "roles")
	out, db := filepath.Join(dir, "parquet"), filepath.Join(dir, "spx.db")
	for _, d := range []string{out, filepath.Join(dir, "nats"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(fmt.Errorf("creating %s: %w", d, err))
		}
	}
	env := []string{"SPX_NATS_STORE_DIR=" + filepath.Join(dir, "nats"), "SPX_PROCESSING_TEMP_DIR=" + filepath.Join(dir, "tmp"),
		"SPX_THETADATA_CONCURRENCY=" + strconv.Itoa(cfg.e2eConcurrency)}
	common := []string{"--terminal", base, "--db", db, "--output-dir", out, "--log-format", "json"}

	coord, err := startRole(ctx, env, spxBin, append([]string{"coordinator", "--listen", "127.0.0.1:0", "--monitor", "", "--http", ""}, common...))
	if err != nil {
		return fail(err)
	}
	defer coord.stop()
	url, err := coord.waitFor(`"embedded NATS started"`, "url", 30*time.Second)
	if err != nil {
		return fail(fmt.Errorf("coordinator: %w", err))
	}
	cn := append([]string{"--nats", url}, common...)
	fetch, err := startRole(ctx, env, spxBin, append([]string{"fetcher", "--fetchers", strconv.Itoa(cfg.e2eConcurrency)}, cn...))
	if err != nil {
		return fail(err)
	}
	defer fetch.stop()
	write, err := startRole(ctx, env, spxBin, append([]string{"writer", "--writers", "2"}, cn...))
	if err != nil {
		return fail(err)
	}
	defer write.stop()

	logf("roles: spx process %s --nats %s (coordinator, fetcher, writer in their own processes)", date, url)
	r, err := proc.Run(ctx, env, spxBin, append([]string{"process", date.String()}, cn...)...)
	if err != nil {
		return fail(err)
	}
	var res []roleResult
	for _, p := range []*roleProc{coord, fetch, write} {
		res = append(res, roleResult{Role: p.args[0], PeakRSS: p.peak(), CPU: p.cpu()})
	}
	var parts []string
	v.Status = "PASS"
	for _, rr := range res {
		parts = append(parts, fmt.Sprintf("%s %.0f MiB", rr.Role, float64(rr.PeakRSS)/report.MiB))
		if (rr.Role == "fetcher" || rr.Role == "writer") && rr.PeakRSS > 256<<20 {
			v.Status = "FAIL"
		}
	}
	v.Got = strings.Join(parts, ", ") + fmt.Sprintf(" (day in %.1fs)", r.Wall.Seconds())
	return res, r.Wall, v
}

// roleProc is a long-running spx role started by the harness.
type roleProc struct {
	cmd   *exec.Cmd
	args  []string
	lines chan string
	done  chan struct{}
}

func startRole(ctx context.Context, env []string, bin string, args []string) (*roleProc, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("starting spx %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting spx %s: %w", args[0], err)
	}
	p := &roleProc{cmd: cmd, args: args, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting: drop
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitFor returns the string field key of the first JSON log line
// containing marker.
func (p *roleProc) waitFor(marker, key string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if !strings.Contains(l, marker) {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				return "", fmt.Errorf("reading %q: %w", l, err)
			}
			if s, ok := m[key].(string); ok && s != "" {
				return s, nil
			}
			return "", fmt.Errorf("log line %q has no %s", l, key)
		case <-p.done:
			return "", errors.New("exited before logging " + marker)
		case <-deadline:
			return "", fmt.Errorf("no %s log line within %v", marker, timeout)
		}
	}
}

func (p *roleProc) peak() int64 {
	v, _ := readVmHWM(p.cmd.Process.Pid)
	return v
}

// cpu is the process's user + system time so far, from /proc/<pid>/stat.
func (p *roleProc) cpu() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func (p *roleProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func readVmHWM(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
