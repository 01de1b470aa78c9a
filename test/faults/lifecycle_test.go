package faults

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
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
		twice   bool // a second SIGTERM right after the first
	}{
		{"drained", "300ms", "30s", 15 * time.Second, regexp.MustCompile(`drained: every job in hand finished`), false},
		{"handed-back", "2s", "300ms", 10 * time.Second, regexp.MustCompile(`stopping: job handed back unfinished`), false},
		{"second-signal", "2s", "30s", 10 * time.Second, regexp.MustCompile(`(?s)second signal: stopping now.*stopping: job handed back unfinished`), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, clusterOptions{simArgs: []string{"--latency", tc.latency}})
			run := c.run(nil, "--fetchers", "2", "--writers", "1", "--drain-timeout", tc.drain)
			if out, code := c.cli(time.Minute, "enqueue-gaps", "--start-date", "2024-03-04", "--end-date", "2024-03-05", "--nats", c.natsURL); code != 0 {
				t.Fatalf("enqueue-gaps exit %d:\n%s", code, out)
			}
			run.waitFor(t, regexp.MustCompile(`msg=staged`), time.Minute)
			time.Sleep(100 * time.Millisecond) // the next fetches are in hand
			if tc.twice {
				go func() {
					time.Sleep(300 * time.Millisecond)
					_ = run.cmd.Process.Signal(syscall.SIGTERM)
				}()
			}
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

// notifySocket listens where a service manager would (NOTIFY_SOCKET) and
// collects every state datagram.
func notifySocket(t *testing.T) (path string, states func() []string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "spx-notify-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	return path, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
}

func waitState(t *testing.T, states func() []string, prefix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(states(), func(s string) bool { return strings.HasPrefix(s, prefix) }) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q notification; got %q", prefix, states())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Scenario 13: `spx run` as a systemd Type=notify service: READY=1 once it
// serves, SIGHUP applies a changed thetadata.concurrency live (the fetch
// consumer's cap) and names a changed key that needs a restart, STOPPING=1
// and exit 0 on SIGTERM.
func TestRunServiceLifecycle(t *testing.T) {
	sock, states := notifySocket(t)
	c := newCluster(t, clusterOptions{})
	run := c.run([]string{"NOTIFY_SOCKET=" + sock})
	waitState(t, states, "READY=1")

	nc, err := nats.Connect(c.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// spx config set reaches the coordinator that holds the database.
	for k, v := range map[string]string{"thetadata.concurrency": "1", "thetadata.timeout": "2m"} {
		out, code := c.cli(30*time.Second, "config", "set", k, v, "--nats", c.natsURL)
		if code != 0 || !strings.Contains(out, "stored by the running coordinator") {
			t.Fatalf("config set %s %s while spx run holds the database: exit %d:\n%s", k, v, code, out)
		}
		if k == "thetadata.concurrency" && !strings.Contains(out, "SIGHUP") {
			t.Errorf("config set of a live key does not say how to apply it:\n%s", out)
		}
	}
	_ = run.cmd.Process.Signal(syscall.SIGHUP)
	run.waitFor(t, regexp.MustCompile(`SIGHUP: applied without a restart.*thetadata.concurrency=1`), 10*time.Second)
	// Only the stored change needs a restart: --listen and --monitor set
	// nats.listen and nats.monitor on the command line, not in the store.
	if m := run.waitFor(t, regexp.MustCompile(`SIGHUP: these keys .* after a restart.*keys="?\[([^\]]*)\]`), 10*time.Second); m[1] != "thetadata.timeout" {
		t.Errorf("SIGHUP names %q as needing a restart, want only thetadata.timeout", m[1])
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, queue.StreamFetch, queue.ConsumerFetchers)
	if err != nil {
		t.Fatal(err)
	}
	if n := cons.CachedInfo().Config.MaxAckPending; n != 1 {
		t.Errorf("fetch consumer MaxAckPending %d after SIGHUP, want 1", n)
	}
	// A second SIGHUP with nothing changed since says so.
	_ = run.cmd.Process.Signal(syscall.SIGHUP)
	run.waitFor(t, regexp.MustCompile(`SIGHUP: configuration re-read; nothing changed|SIGHUP: these keys`), 10*time.Second)

	// The process still works after the reloads.
	if out, code := c.process("2024-03-04", "2024-03-04", 2*time.Minute); code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, out)
	}
	run.terminate(t, 15*time.Second)
	waitState(t, states, "STOPPING=1")
	c.check(twoDays[:1], false)
}
