package faults

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// run starts the all-in-one `spx run` (embedded NATS with JetStream on disk,
// coordinator, fetchers, writers) as a service would; the first start picks a
// random port, a restart reuses it and the same database, store and archive.
func (c *cluster) run(extra []string, args ...string) *proc {
	c.t.Helper()
	listen := c.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	p := c.start("run", extra, append([]string{"run", "--listen", listen, "--monitor", "127.0.0.1:0", "--http="}, args...)...)
	c.natsURL = p.waitFor(c.t, natsRe, 30*time.Second)[1]
	c.listen = strings.TrimPrefix(c.natsURL, "nats://")
	p.waitFor(c.t, regexp.MustCompile(`spx: running`), 30*time.Second)
	return p
}

// reference downloads days from the scenario's simulator with a clean,
// private `spx process-range` into its own directory and returns the
// SHA-256 of every Parquet file, relative to that directory.
func (c *cluster) reference(from, to string) map[string]string {
	c.t.Helper()
	dir := filepath.Join(c.dir, "reference")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	out, code := c.cliEnv([]string{
		"SPX_PROCESSING_OUTPUT_DIR=" + filepath.Join(dir, "parquet"),
		"SPX_PROCESSING_TEMP_DIR=" + filepath.Join(dir, "temp"),
		"SPX_DATABASE_PATH=" + filepath.Join(dir, "spx.db"),
		"SPX_NATS_STORE_DIR=" + filepath.Join(dir, "nats"),
	}, 2*time.Minute, "process-range", from, to, "--log-level", "warn")
	if code != 0 {
		c.t.Fatalf("reference process-range exit %d:\n%s", code, out)
	}
	return fileSums(c.t, filepath.Join(dir, "parquet"))
}

// fileSums is the SHA-256 of every Parquet file under dir.
func fileSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for rel := range parquetFiles(dir) {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sums[rel] = hex.EncodeToString(h.Sum(nil))
	}
	return sums
}

// sameFiles fails the test unless got holds exactly the files of want with
// the same bytes.
func sameFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the reference run wrote no files")
	}
	for rel, sum := range want {
		switch g, ok := got[rel]; {
		case !ok:
			t.Errorf("%s: in the clean download, missing here", rel)
		case g != sum:
			t.Errorf("%s: SHA-256 %s, the clean download's %s", rel, g, sum)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: not in the clean download", rel)
		}
	}
}

// Scenario 11: the whole `spx run` process (embedded NATS, coordinator,
// fetchers, writers) killed with SIGKILL a few files into a two-day
// backfill, then started again with the same database, JetStream store and
// archive, and nothing else done: every job finishes by itself, and every
// file equals a clean download.
func TestKillRunAndRestart(t *testing.T) {
	c := newCluster(t, clusterOptions{simArgs: []string{"--latency", "150ms"}})
	run := c.run(nil, "--fetchers", "2", "--writers", "1")
	if out, code := c.cli(time.Minute, "enqueue-gaps", "--start-date", "2024-03-04", "--end-date", "2024-03-05", "--nats", c.natsURL); code != 0 {
		t.Fatalf("enqueue-gaps exit %d:\n%s", code, out)
	}
	waitForFiles(t, c.out, 2, 5*time.Millisecond)
	run.kill(t)
	killed := time.Now()
	atKill := countFiles(c.out)
	run = c.run(nil, "--fetchers", "2", "--writers", "1")
	c.waitFinished(twoDays, 90*time.Second)
	t.Logf("killed with %d files written; every job finished %s after the kill", atKill, time.Since(killed).Round(time.Millisecond))
	run.stop(t)
	jobs := c.check(twoDays, false)
	t.Logf("outcomes %v", countOutcomes(jobs))
	sameFiles(t, fileSums(t, c.out), c.reference("2024-03-04", "2024-03-05"))
}

// Scenario 11b: the whole `spx run` process killed while it plans the
// backfill (a day's second job recorded queued, its message not yet
// published, the rest of that day and the next day not planned) while the
// first job is being fetched and written. Restarted with nothing else done,
// both days finish by themselves, every file equal to a clean download.
func TestKillRunMidPlan(t *testing.T) {
	c := newCluster(t, clusterOptions{simArgs: []string{"--latency", "150ms"}})
	run := c.run([]string{"SPX_TEST_PAUSE=coordinator.before_publish"}, "--fetchers", "2", "--writers", "1")
	enq := make(chan struct{})
	go func() {
		defer close(enq)
		// Killed with the coordinator: its answer never comes.
		c.cli(time.Minute, "enqueue-gaps", "--start-date", "2024-03-04", "--end-date", "2024-03-05", "--nats", c.natsURL)
	}()
	run.waitFor(t, pauseRe, time.Minute)
	waitForFiles(t, c.out, 1, 5*time.Millisecond)
	run.kill(t)
	<-enq
	killed := time.Now()
	run = c.run(nil, "--fetchers", "2", "--writers", "1")
	c.waitFinished(twoDays, 90*time.Second)
	t.Logf("every job finished %s after the kill", time.Since(killed).Round(time.Millisecond))
	t.Logf("%s", regexp.MustCompile(`(?m)^.*(queued again|planning again|recovered from an unclean stop).*$`).FindAllString(run.Log(), -1))
	run.stop(t)
	jobs := c.check(twoDays, false)
	t.Logf("outcomes %v", countOutcomes(jobs))
	sameFiles(t, fileSums(t, c.out), c.reference("2024-03-04", "2024-03-05"))
}

// Scenario 11c (full pass): scenario 11 on the realistic universe with the
// production timings (AckWait 20 s, InProgress every 5 s): planning a day
// records its jobs one by one while the first files are already written, so
// a kill a few files in usually lands mid-plan. Before the reconcile, day 1 stayed at the jobs
// recorded by then (45 of 46 done) and day 2 was never planned.
func TestKillRunRealisticBackfill(t *testing.T) {
	needFull(t)
	c := newCluster(t, clusterOptions{fullUniverse: true})
	extra := []string{"SPX_TEST_ACK_WAIT=20s", "SPX_TEST_IN_PROGRESS=5s"}
	run := c.run(extra)
	go c.cli(time.Minute, "enqueue-gaps", "--start-date", "2024-03-04", "--end-date", "2024-03-05", "--nats", c.natsURL)
	waitForFiles(t, c.out, 3, 2*time.Millisecond)
	run.kill(t)
	killed := time.Now()
	atKill := countFiles(c.out)
	run = c.run(extra)
	c.waitFinished(twoDays, 5*time.Minute)
	t.Logf("killed with %d files written; every job finished %s after the kill", atKill, time.Since(killed).Round(time.Millisecond))
	run.stop(t)
	jobs := c.check(twoDays, false)
	t.Logf("outcomes %v", countOutcomes(jobs))
	sameFiles(t, fileSums(t, c.out), c.reference("2024-03-04", "2024-03-05"))
}
