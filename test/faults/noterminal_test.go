package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/thetadata"
)

// Scenario: the Theta Terminal is not there when spx starts, or goes away
// mid-day. spx run starts anyway, says the terminal is down, holds planning
// and fetching, and finishes by itself once the terminal answers: nothing
// failed, nothing lost.

// simArgsAt are the sim-terminal arguments of newCluster's simulator, on a
// fixed v3 address (so it can be started again where spx looks for it).
func simArgsAt(addr string, extra ...string) []string {
	return append([]string{"sim-terminal", "--v3-addr", addr, "--v2-addr", "", "--seed", "7", "--contracts-latency", "0",
		"--max-expirations", "2", "--max-strikes", "8"}, extra...)
}

// startRun starts `spx run` (embedded NATS, web page on a random port) and
// returns it and the page's base URL.
func (c *cluster) startRun(fetchers int) (*proc, string) {
	c.t.Helper()
	p := c.start("run", nil, "run", "--listen", "127.0.0.1:0", "--monitor=", "--http", "127.0.0.1:0",
		"--fetchers", fmt.Sprint(fetchers), "--writers", "2")
	c.natsURL = p.waitFor(c.t, natsRe, 30*time.Second)[1]
	web := p.waitFor(c.t, regexp.MustCompile(`web page on (http://[0-9.:]+)/`), 30*time.Second)[1]
	p.waitFor(c.t, regexp.MustCompile(`spx: running`), 30*time.Second)
	return p, web
}

// terminalState reads the terminal's state from /api/status.
func terminalState(t *testing.T, web string) spx.TerminalStatus {
	t.Helper()
	var rep struct {
		Terminal *spx.TerminalStatus `json:"terminal"`
		Days     map[string]int      `json:"days"`
	}
	getJSON(t, web+"/api/status", &rep)
	if rep.Terminal == nil {
		t.Fatalf("/api/status has no terminal state")
	}
	return *rep.Terminal
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", url, err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitTerminal waits until /api/status shows the terminal in state.
func waitTerminal(t *testing.T, web, state string, timeout time.Duration) spx.TerminalStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := terminalState(t, web)
		if st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal still %s (%s) after %s, want %s", st.State, st.LastError, timeout, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expectedRows counts the rows a terminal of the same seed serves for each
// written job (the simulator is deterministic), so files written before a
// terminal restart are checked as well as those written after.
func expectedRows(t *testing.T, simURL string, jobs []spx.JobRecord) {
	t.Helper()
	ctx := context.Background()
	c, err := thetadata.New(ctx, thetadata.Options{BaseURL: simURL, API: "v3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Outcome != spx.JobWritten {
			continue
		}
		req := spx.HistoryRequest{Dataset: j.Key.Dataset, Root: j.Key.Root, Date: j.Key.Date, Expiration: j.Key.Expiration}
		if j.Key.Dataset.Intraday() {
			req.Interval = time.Minute
		}
		rs, err := c.History(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", j.Key, err)
		}
		var n int64
		for rs.Next() {
			n++
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", j.Key, err)
		}
		rs.Close()
		if n != j.Rows {
			t.Errorf("%s: %d rows written, the terminal serves %d", j.Key, j.Rows, n)
		}
	}
}

// spx run with no terminal: it starts, the status and page say the terminal
// is down, a day asked for waits, and it is written once the terminal starts.
func TestRunStartsWithoutTerminal(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	addr := strings.TrimPrefix(c.simURL, "http://")
	c.procs[0].kill(t) // the terminal is not running when spx starts
	// A one-shot command with no coordinator to talk to says so at once.
	if out, code := c.cli(time.Minute, "process", "2024-03-05"); code == 0 || !strings.Contains(out, "reaching the Theta Terminal") {
		t.Errorf("spx process with no terminal and no coordinator: exit %d:\n%s", code, out)
	}
	run, web := c.startRun(2)

	st := waitTerminal(t, web, spx.TerminalDown, 20*time.Second)
	if !strings.Contains(st.LastError, "connection refused") || !strings.Contains(st.LastError, addr) {
		t.Errorf("down without the reason: %+v", st)
	}
	var live struct {
		Terminal *spx.TerminalStatus `json:"terminal"`
	}
	getJSON(t, web+"/api/live", &live)
	if live.Terminal == nil || live.Terminal.State != spx.TerminalDown {
		t.Errorf("/api/live (the page header) terminal = %+v, want down", live.Terminal)
	}
	if page := getText(t, web+"/"); !strings.Contains(page, `id="terminal-badge"`) {
		t.Error("the page has no terminal badge in its header")
	}
	if m := getText(t, web+"/metrics"); !strings.Contains(m, "spx_terminal_up 0") || !strings.Contains(m, `spx_terminal_state{state="down"} 1`) {
		t.Errorf("/metrics does not say the terminal is down:\n%s", m)
	}
	out, _ := c.cli(30*time.Second, "status", "--nats", c.natsURL, "--format", "table")
	if !regexp.MustCompile(`terminal\s+down since .*: planning and fetching wait for it`).MatchString(out) {
		t.Errorf("spx status does not say the terminal is down:\n%s", out)
	}
	if !strings.Contains(out, "Theta Terminal down") {
		t.Errorf("spx status's recent errors do not list the outage:\n%s", out)
	}

	day := dates("2024-03-05")
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, code := c.process("2024-03-05", "2024-03-05", 3*time.Minute)
		done <- result{out, code}
	}()
	// The day waits; nothing is marked failed while the terminal is down.
	time.Sleep(4 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("process-range ended while the terminal was down (exit %d):\n%s", r.code, r.out)
	default:
	}
	var rep struct {
		Days map[string]int `json:"days"`
	}
	getJSON(t, web+"/api/status", &rep)
	if rep.Days["failed"] > 0 || rep.Days["partial"] > 0 {
		t.Errorf("days failed while the terminal was down: %v", rep.Days)
	}

	c.start("sim-terminal", nil, simArgsAt(addr)...).waitFor(t, regexp.MustCompile(`v3=http`), 20*time.Second)
	up := waitTerminal(t, web, spx.TerminalUp, 20*time.Second)
	if up.API != "v3" {
		t.Errorf("terminal up as %q, want v3", up.API)
	}
	r := <-done
	if r.code != 0 {
		t.Fatalf("process-range exit %d:\n%s", r.code, r.out)
	}
	if m := getText(t, web+"/metrics"); !strings.Contains(m, "spx_terminal_up 1") {
		t.Errorf("/metrics does not say the terminal is up")
	}
	run.stop(t)
	jobs := c.check(day, false)
	for _, j := range jobs {
		if j.Attempts > 1 {
			t.Logf("%s: %d attempts", j.Key, j.Attempts)
		}
	}
	if st, _ := c.cli(30*time.Second, "list", "--from", "2024-03-05", "--to", "2024-03-05", "--format", "table"); !strings.Contains(st, "success") {
		t.Errorf("the day is not success:\n%s", st)
	}
}

// The terminal killed mid-day and started again: spx waits for it and
// every job ends written, each file equal to the terminal's answer.
func TestTerminalRestartMidDay(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{simArgs: []string{"--latency", "300ms"}})
	addr := strings.TrimPrefix(c.simURL, "http://")
	run, web := c.startRun(2)
	waitTerminal(t, web, spx.TerminalUp, 20*time.Second)

	days := dates("2024-03-04", "2024-03-05")
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, code := c.process("2024-03-04", "2024-03-05", 4*time.Minute)
		done <- result{out, code}
	}()
	for deadline := time.Now().Add(time.Minute); countFiles(c.out) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no file written within a minute")
		}
	}
	c.procs[0].kill(t)
	t.Logf("terminal killed after %d files", countFiles(c.out))
	waitTerminal(t, web, spx.TerminalDown, 20*time.Second)
	time.Sleep(3 * time.Second) // fetchers keep waiting, nothing fails
	var rep struct {
		Jobs map[string]int `json:"jobs"`
	}
	getJSON(t, web+"/api/status", &rep)
	if rep.Jobs["failed"] > 0 || rep.Jobs["dead"] > 0 {
		t.Errorf("jobs failed while the terminal was down: %v", rep.Jobs)
	}
	c.start("sim-terminal-2", nil, simArgsAt(addr, "--latency", "300ms")...).waitFor(t, regexp.MustCompile(`v3=http`), 20*time.Second)
	r := <-done
	if r.code != 0 {
		t.Fatalf("process-range exit %d:\n%s", r.code, r.out)
	}
	run.stop(t)
	jobs := c.jobs(days...)
	if len(jobs) == 0 {
		t.Fatal("no jobs planned")
	}
	for _, j := range jobs {
		if j.Outcome != spx.JobWritten && j.Outcome != spx.JobEmpty {
			t.Errorf("%s: %s: %s", j.Key, j.Outcome, j.LastError)
		}
	}
	expectedRows(t, c.simURL, jobs)
	if out, code := c.cli(time.Minute, "verify", "--from", "2024-03-04", "--to", "2024-03-05"); code != 0 {
		t.Errorf("spx verify exit %d:\n%s", code, out)
	}
	t.Logf("outcomes %v", countOutcomes(jobs))
}

// Separate processes: spx coordinator and spx fetcher start with no
// terminal, wait for it, and finish the day once it starts.
func TestRolesWaitForTerminal(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	addr := strings.TrimPrefix(c.simURL, "http://")
	c.procs[0].kill(t)
	coord := c.coordinator()
	fetch := c.fetcher(2)
	c.writer(1)
	done := make(chan int, 1)
	go func() {
		_, code := c.process("2024-03-06", "2024-03-06", 3*time.Minute)
		done <- code
	}()
	fetch.waitFor(t, regexp.MustCompile(`theta terminal not up; planning and fetching wait for it`), 20*time.Second)
	out, _ := c.cli(30*time.Second, "status", "--nats", c.natsURL, "--format", "table")
	if !regexp.MustCompile(`terminal\s+down`).MatchString(out) {
		t.Errorf("spx status does not say the terminal is down:\n%s", out)
	}
	time.Sleep(3 * time.Second)
	select {
	case code := <-done:
		t.Fatalf("process-range ended (exit %d) while the terminal was down", code)
	default:
	}
	c.start("sim-terminal-2", nil, simArgsAt(addr)...).waitFor(t, regexp.MustCompile(`v3=http`), 20*time.Second)
	if code := <-done; code != 0 {
		t.Fatalf("process-range exit %d", code)
	}
	fetch.waitFor(t, regexp.MustCompile(`theta terminal up; planning and fetching run`), time.Second)
	coord.stop(t)
	c.check(dates("2024-03-06"), false)
}
