package faults

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Scenario 17: the NATS store's disk is too small (nats.store_dir on a
// 20 MiB tmpfs; the realistic universe, 77 jobs a day, staged objects of
// 1–9 MB, fetchers and writers in their own processes). spx says the store
// is full (spx status), hands no job back for it (every job stays at its
// first delivery, none dead), and once the file system is grown the
// store's limit is raised and the day is written by itself, leaving
// nothing in the staging bucket. Before, the day stalled on "nats: timeout
// waiting for ack" with jobs at delivery 7 of 8, status said "recent
// errors: none", and growing the file system did not help (the store's
// limit was fixed at start) until spx was restarted.
func TestFullNATSStore(t *testing.T) {
	needFull(t)
	dir := filepath.Join(t.TempDir(), "small-store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot mount a small tmpfs for the full-store scenario (need root): %v %s", err, b)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	c := newCluster(t, clusterOptions{fullUniverse: true, env: []string{"SPX_NATS_STORE_DIR=" + filepath.Join(dir, "nats")}})
	coord := c.coordinator()
	c.fetcher(4)
	c.writer(2)
	day := dates("2024-03-04")
	run := c.start("process-range", nil, "process-range", "2024-03-04", "2024-03-04", "--nats", c.natsURL, "--log-level", "warn")

	var st statusJSON
	deadline := time.Now().Add(2 * time.Minute)
	for st = c.statusJSON(); st.NATSStore == nil || !st.NATSStore.Full; st = c.statusJSON() {
		if time.Now().After(deadline) {
			t.Fatalf("the store never said it was full on a 20 MiB disk: %+v", st.NATSStore)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(20 * time.Second) // nothing is used up meanwhile
	out, _ := c.cli(time.Minute, "status", "--format", "table", "--nats", c.natsURL)
	line := ""
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "nats store") {
			line = strings.TrimSpace(l)
		}
	}
	if !strings.Contains(line, "FULL since") || !strings.Contains(line, "fetchers take no job") {
		t.Errorf("spx status on a full store says %q:\n%s", line, out)
	}
	t.Logf("while full: %s", line)
	st = c.statusJSON()
	for _, q := range st.Queues {
		if q.Dead != 0 {
			t.Errorf("queue %s: %d dead while the store was full", q.Stage, q.Dead)
		}
	}

	if b, err := exec.Command("mount", "-o", "remount,size=256m", dir).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v %s", err, b)
	}
	grown := time.Now()
	select {
	case <-run.done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("the day was not written within 5 minutes of growing the store's disk; status: %+v", c.statusJSON().NATSStore)
	}
	if run.err != nil {
		t.Fatalf("process-range: %v\n%s", run.err, tail(run.Log()))
	}
	t.Logf("day written %s after the tmpfs was grown", time.Since(grown).Round(time.Second))
	deadline = time.Now().Add(30 * time.Second)
	for st = c.statusJSON(); st.NATSStore == nil || st.NATSStore.Full || st.NATSStore.Staged != 0; st = c.statusJSON() {
		if time.Now().After(deadline) {
			t.Fatalf("after the run the store says %+v; want room and nothing staged", st.NATSStore)
		}
		time.Sleep(500 * time.Millisecond)
	}
	coord.stop(t)
	for _, j := range c.check(day, false) {
		if j.Attempts > 1 {
			t.Errorf("%s: %d deliveries; the full store used some up", j.Key, j.Attempts)
		}
	}
}

// statusJSON is the part of `spx status --format json` these scenarios read.
type statusJSON struct {
	NATSStore *spx.NATSStore `json:"nats_store"`
	Queues    []struct {
		Stage string `json:"stage"`
		Dead  int64  `json:"dead"`
	} `json:"queues"`
}

func (c *cluster) statusJSON() statusJSON {
	c.t.Helper()
	out, code := c.cli(time.Minute, "status", "--format", "json", "--nats", c.natsURL)
	var st statusJSON
	if code != 0 {
		c.t.Fatalf("spx status: exit %d:\n%s", code, out)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		c.t.Fatalf("reading spx status --format json: %v\n%s", err, out)
	}
	return st
}
