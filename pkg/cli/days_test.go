package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// issueNow is the issue's clock: noon of Tuesday 2026-12-08, its session
// in progress.
var issueNow = time.Date(2026, 12, 8, 12, 0, 0, 0, spx.NewYork)

// spxAt runs the CLI with its clock at now and returns exit code, stdout
// and stderr.
func spxAt(ctx context.Context, now time.Time, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := execute(ctx, &Options{Stdout: &stdout, Stderr: &stderr, Now: func() time.Time { return now }}, args)
	return code, stdout.String(), stderr.String()
}

// Days that are not final, outside the calendar, or not sessions are
// refused by every command that plans days: exit 2, one line saying why
// (and when the day becomes final), and nothing created: no database, no
// ./data, no NATS store.
func TestCommandsRefuseDaysThatMayNotBeArchived(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the default ./data/spx.db and ./data/nats
	t.Setenv("SPX_NATS_LISTEN", "127.0.0.1:1")
	final := "2026-12-08 is not final yet: its data counts as final from 2026-12-08 18:00 EST (its 16:00 close plus follow.delay 2h); "
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"process", "2026-12-08"}, final + "ask again then"},
		{[]string{"process", "2030-01-02"}, "2030-01-02 is not final yet: its data counts as final from 2030-01-02 18:00 EST"},
		{[]string{"process", "2031-01-02"}, "2031-01-02 is outside the exchange calendar spx knows (2000-01-01 to 2030-12-31): pick a date in it"},
		{[]string{"process", "1995-01-03"}, "1995-01-03 is outside the exchange calendar spx knows"},
		{[]string{"process", "2026-10-10"}, "2026-10-10 is a Saturday, not a trading session (spx calendar lists the sessions)"},
		{[]string{"process", "2024-12-25"}, "2024-12-25 is not a trading session: the exchange is closed for Christmas Day"},
		{[]string{"process-range", "2026-12-01", "2026-12-08"}, final + "end the range at 2026-12-07 or ask again then"},
		{[]string{"process-range", "2026-10-10", "2026-10-11"}, "2026-10-10 to 2026-10-11 holds no trading session"},
		{[]string{"process-gaps", "--start-date", "2026-12-08"}, final + "ask again then"},
		{[]string{"process-gaps", "--start-date", "2026-12-01", "--end-date", "2031-01-02"}, "2031-01-02 is outside the exchange calendar"},
		{[]string{"enqueue-gaps", "--start-date", "2026-12-01", "--end-date", "2026-12-08"}, final + "end the range at 2026-12-07"},
		{[]string{"retry", "2026-10-10"}, "2026-10-10 is a Saturday, not a trading session"},
		{[]string{"retry", "2026-12-07", "2030-01-02"}, "2030-01-02 is not final yet"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append(tt.args, "--terminal", "http://127.0.0.1:1")
			code, stdout, stderr := spxAt(context.Background(), issueNow, args...)
			if code != 2 || stdout != "" || stderr != "spx: "+strings.TrimPrefix(stderr, "spx: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit 2 and one line containing %q", code, stdout, stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("./data exists after a refusal (%v)", err)
			}
		})
	}
}

// freeAddr returns a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Against `spx run` whose terminal is down, on the coordinator's clock
// (SPX_TEST_CLOCK) of the issue: enqueue-gaps records the day and returns
// at once saying planning waits for the terminal; the coordinator's own
// refusals reach the CLI as usage errors with their one line (it holds the
// database, so the decision is its own; the CLI's clock is a day later
// besides, for which those days are final); the page's
// retry of a Saturday or of 2030 is a 400 that records nothing; no phantom
// day is counted; once the terminal answers, the waiting day is archived.
func TestRunWithTheTerminalDown(t *testing.T) {
	dir := t.TempDir()
	termAddr := freeAddr(t)
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_THETADATA_API", "v3")
	t.Setenv("SPX_TEST_CLOCK", issueNow.Format(time.RFC3339)) // spx run's coordinator
	global := []string{"--db", filepath.Join(dir, "spx.db"), "--output-dir", filepath.Join(dir, "parquet"), "--terminal", "http://" + termAddr}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	var runErr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(runCtx, append([]string{"run", "--follow=false", "--listen", "127.0.0.1:0", "--monitor", "", "--http", "127.0.0.1:0", "--fetchers", "2", "--writers", "1"}, global...), io.Discard, &runErr)
	}()
	defer func() {
		stopRun()
		if code := <-done; code != 0 {
			t.Errorf("spx run exit %d:\n%s", code, runErr.String())
		}
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
	client := append([]string{"--nats", natsURL}, global...)
	later := issueNow.Add(24 * time.Hour) // the CLI's clock: 2026-12-08 is final for it
	status := func() statusOutput {
		t.Helper()
		code, stdout, stderr := spxAt(ctx, later, append([]string{"status", "--format", "json"}, client...)...)
		if code != 0 {
			t.Fatalf("status: exit %d: %s", code, stderr)
		}
		var st statusOutput
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			t.Fatalf("status JSON: %v\n%s", err, stdout)
		}
		return st
	}
	for st := status(); st.Terminal == nil || st.Terminal.State != spx.TerminalDown; st = status() {
		if ctx.Err() != nil {
			t.Fatalf("the terminal is not reported down: %+v", st.Terminal)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// enqueue-gaps returns at once (a short deadline, not a measurement).
	ectx, ecancel := context.WithTimeout(ctx, 20*time.Second)
	code, stdout, stderr := spxAt(ectx, later, append([]string{"enqueue-gaps", "--start-date", "2024-03-11", "--end-date", "2024-03-11"}, client...)...)
	ecancel()
	t.Logf("enqueue-gaps: %s", stdout)
	if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "recorded 1 day as queued (2024-03-11): planning waits for the Theta Terminal (down since ") ||
		!strings.Contains(stdout, "resumes by itself as soon as it answers") {
		t.Fatalf("enqueue-gaps with the terminal down: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	// The coordinator refuses what its clock says is not final; the CLI
	// exits 2 with the coordinator's one line.
	for _, args := range [][]string{{"process", "2026-12-08"}, {"retry", "2026-12-08"}, {"enqueue-gaps", "--start-date", "2026-12-01", "--end-date", "2026-12-08"}} {
		code, stdout, stderr := spxAt(ctx, later, append(args, client...)...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "spx: 2026-12-08 is not final yet: its data counts as final from 2026-12-08 18:00 EST (its 16:00 close plus follow.delay 2h); ") {
			t.Errorf("%v refused by the coordinator: exit %d\nstdout %q\nstderr %q", args, code, stdout, stderr)
		}
	}

	// The page's retry of a Saturday and of 2030: 400 with the reason.
	for date, want := range map[string]string{"2026-10-10": "is a Saturday, not a trading session", "2030-01-02": "is not final yet"} {
		resp, err := http.Post(webURL+"/api/retry", "application/json", strings.NewReader(`{"date":"`+date+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("POST /api/retry %s: %d %s, want 400 saying %q", date, resp.StatusCode, body, want)
		}
	}
	// Only the day enqueue-gaps recorded is counted.
	if st := status(); len(st.Days) != 1 || st.Days[spx.DayQueued] != 1 {
		t.Errorf("days after the refusals: %v, want only 2024-03-11 queued", st.Days)
	}

	// The terminal starts: the waiting day is planned and archived.
	sim := terminalsim.New(terminalsim.Config{Seed: 5, Concurrency: 4, MaxExpirations: 2, MaxStrikes: 3})
	_, _, stopSim, err := sim.Listen(termAddr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	for st := status(); st.Days[spx.DaySuccess] != 1; st = status() {
		if ctx.Err() != nil {
			t.Fatalf("the waiting day was not archived once the terminal answered: %v\n%s", st.Days, runErr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
