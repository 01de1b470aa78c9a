package faults

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// terminate sends SIGTERM and returns how long the process took to exit;
// it fails the test unless it exits 0 within limit.
func (p *proc) terminate(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %s of SIGTERM:\n%s", p.name, limit, tail(p.Log()))
	}
	if p.err != nil {
		t.Errorf("%s exited with %v after SIGTERM, want exit 0", p.name, p.err)
	}
	return time.Since(start)
}

// Scenario 12: SIGTERM to `spx run` mid-backfill. The fetches and the write
// in hand either finish (drain) or, past --drain-timeout, are handed back to
// the queue; the process exits 0 in bounded time; a restart finishes every
// job and each file equals a clean download.
func TestTerminateRunMidBackfill(t *testing.T) {
	for _, tc := range []struct {
		name    string
		latency string // the simulator's, before each history answer
		drain   string
		limit   time.Duration // SIGTERM to exit
		logged  *regexp.Regexp
	}{
		{"drained", "300ms", "30s", 15 * time.Second, regexp.MustCompile(`drained: every job in hand finished`)},
		{"handed-back", "4s", "500ms", 10 * time.Second, regexp.MustCompile(`stopping: job handed back unfinished`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, clusterOptions{simArgs: []string{"--latency", tc.latency}})
			run := c.run(nil, "--fetchers", "2", "--writers", "1", "--drain-timeout", tc.drain)
			if out, code := c.cli(time.Minute, "enqueue-gaps", "--start-date", "2024-03-04", "--end-date", "2024-03-05", "--nats", c.natsURL); code != 0 {
				t.Fatalf("enqueue-gaps exit %d:\n%s", code, out)
			}
			run.waitFor(t, regexp.MustCompile(`msg=staged`), time.Minute)
			time.Sleep(100 * time.Millisecond) // the next fetches are in hand
			took := run.terminate(t, tc.limit)
			if !tc.logged.MatchString(run.Log()) {
				t.Errorf("the log does not say %q:\n%s", tc.logged, tail(run.Log()))
			}
			if _, after, ok := strings.Cut(run.Log(), "spx: stopping"); !ok {
				t.Errorf("no stopping notice:\n%s", tail(run.Log()))
			} else if tc.name == "drained" && !strings.Contains(after, "msg=staged") && !strings.Contains(after, "msg=written") {
				t.Errorf("nothing in hand was finished after SIGTERM:\n%s", tail(after))
			}
			t.Logf("exited 0 %s after SIGTERM with %d files written", took.Round(time.Millisecond), countFiles(c.out))
			restarted := time.Now()
			run = c.run(nil, "--fetchers", "2", "--writers", "1")
			c.waitFinished(twoDays, 90*time.Second)
			t.Logf("restarted: every job finished %s later", time.Since(restarted).Round(time.Millisecond))
			run.terminate(t, 15*time.Second)
			jobs := c.check(twoDays, false)
			t.Logf("outcomes %v", countOutcomes(jobs))
			sameFiles(t, fileSums(t, c.out), c.reference("2024-03-04", "2024-03-05"))
		})
	}
}
