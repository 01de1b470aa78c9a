package faults

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/spx"
)

// parquetFiles lists the Parquet files under dir, relative to it.
func parquetFiles(dir string) map[string]bool {
	out := map[string]bool{}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") {
			rel, _ := filepath.Rel(dir, path)
			out[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	return out
}

func countFiles(dir string) int { return len(parquetFiles(dir)) }

// waitForFiles waits until at least n Parquet files are under dir, looking
// every poll (a short poll lands a kill closer to the nth file), and fails
// the test after a minute.
func waitForFiles(t *testing.T, dir string, n int, poll time.Duration) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for countFiles(dir) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d files written within a minute", n)
		}
		time.Sleep(poll)
	}
}

// waitFinished polls the coordinator's progress until every day is
// finished.
func (c *cluster) waitFinished(days []spx.Date, timeout time.Duration) []coordinator.DayProgress {
	t := c.t
	t.Helper()
	nc, err := nats.Connect(c.natsURL, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	client := coordinator.NewClient(nc)
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		prog, err := client.Progress(ctx, days)
		cancel()
		done := err == nil
		for _, p := range prog {
			done = done && p.Finished
		}
		if done {
			return prog
		}
		if time.Now().After(deadline) {
			t.Fatalf("days not finished within %s: %+v (%v)", timeout, prog, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Scenario 3: kill -9 of the process holding the coordinator and the
// embedded NATS server mid-run, then a restart: the run resumes, and what
// was written is not downloaded again (the simulator's request count).
func TestKillCoordinatorAndRestart(t *testing.T) {
	needFull(t)
	days := dates("2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08")
	c := newCluster(t, clusterOptions{simArgs: []string{"--latency", "300ms"}})
	coord := c.coordinator()
	c.fetcher(4)
	c.writer(2)
	if out, code := c.cli(time.Minute, "enqueue-gaps", "--start-date", "2024-03-04", "--end-date", "2024-03-08", "--nats", c.natsURL); code != 0 {
		t.Fatalf("enqueue-gaps exit %d:\n%s", code, out)
	}
	waitForFiles(t, c.out, 6, 10*time.Millisecond)
	coord.kill(t)
	killed := time.Now()
	atKill := parquetFiles(c.out)
	written := len(atKill)
	before := c.stats().historyRequests()["200"]
	time.Sleep(2 * time.Second) // workers notice and start reconnecting
	coord = c.coordinator()
	c.waitFinished(days, time.Minute)
	t.Logf("killed with %d files written and %d downloads done; finished %s after the kill", written, before, time.Since(killed).Round(time.Millisecond))
	coord.stop(t)
	jobs := c.check(days, false)
	st := c.stats()
	for _, j := range jobs {
		if atKill[j.Key.RelPath()] && st.Completed[j.Key.String()] != 1 {
			t.Errorf("%s was written before the kill and downloaded %d times", j.Key, st.Completed[j.Key.String()])
		}
	}
	t.Logf("%d complete downloads after the kill for %d jobs not yet written (in flight at the kill: downloaded again)",
		st.historyRequests()["200"]-before, len(jobs)-written)
}

// dayFinished asks the running coordinator whether the day is finished.
func (c *cluster) dayFinished(day spx.Date) bool {
	nc, err := nats.Connect(c.natsURL)
	if err != nil {
		return false
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	prog, err := coordinator.NewClient(nc).Progress(ctx, []spx.Date{day})
	return err == nil && len(prog) == 1 && prog[0].Finished
}
