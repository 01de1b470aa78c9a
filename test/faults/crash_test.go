package faults

import (
	"regexp"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

var twoDays = dates("2024-03-04", "2024-03-05")

// Baseline: no fault, separate processes; the common check holds.
func TestBaseline(t *testing.T) {
	c := newCluster(t, clusterOptions{})
	coord := c.coordinator()
	c.fetcher(2)
	c.writer(1)
	start := time.Now()
	out, code := c.process("2024-03-04", "2024-03-05", 2*time.Minute)
	if code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, out)
	}
	t.Logf("processed in %s", time.Since(start).Round(time.Millisecond))
	coord.stop(t)
	jobs := c.check(twoDays, false)
	t.Logf("outcomes %v", countOutcomes(jobs))
}

var pauseRe = regexp.MustCompile(`spx-test-pause: (\S+) pid=(\d+)`)

// Scenario 1: kill -9 of a fetcher in the middle of a streaming download;
// another fetcher finishes the job after AckWait.
func TestKillFetcherMidStream(t *testing.T) {
	jobs, h := killFetcherMidStream(t, nil)
	if h["200"] <= int64(len(jobs)) {
		t.Errorf("history 200s %v for %d jobs: the killed download was not redone", h, len(jobs))
	}
}

// Scenario 1b: kill -9 of a fetcher in the middle of a chain fetch (one
// expiration=* request staging several jobs): the chain is redelivered
// after AckWait and another fetcher stages every job of it, each file
// equal to what the simulator served for its expiration.
func TestKillFetcherMidChain(t *testing.T) {
	jobs, h := killFetcherMidStream(t, []string{"SPX_PROCESSING_DATASETS=quote"})
	// One request per root and day, and the killed one again.
	if h["200"] >= int64(len(jobs)) || h["200"] < 2 {
		t.Errorf("history 200s %v for %d jobs: want fewer requests than jobs (chains), and the killed one redone", h, len(jobs))
	}
}

// killFetcherMidStream processes one day with a fetcher that is killed
// after 1000 rows of a download, then starts another; every job must end
// written. It returns the jobs and the history answers by status.
func killFetcherMidStream(t *testing.T, env []string) ([]spx.JobRecord, map[string]int64) {
	t.Helper()
	c := newCluster(t, clusterOptions{env: env})
	coord := c.coordinator()
	c.writer(1)
	victim := c.fetcher(1, "SPX_TEST_PAUSE=fetcher.mid_stream")
	done := make(chan struct{})
	var out string
	var code int
	go func() {
		defer close(done)
		out, code = c.process("2024-03-04", "2024-03-04", 2*time.Minute)
	}()
	victim.waitFor(t, pauseRe, time.Minute)
	killed := time.Now()
	victim.kill(t)
	c.fetcher(2)
	<-done
	if code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, out)
	}
	t.Logf("recovered %s after the kill", time.Since(killed).Round(time.Millisecond))
	coord.stop(t)
	jobs := c.check(twoDays[:1], false)
	for _, j := range jobs {
		if j.Outcome != spx.JobWritten {
			t.Errorf("%s: %s", j.Key, j.Outcome)
		}
	}
	return jobs, c.stats().historyRequests()
}

// Scenario 2: kill -9 of a writer between writing and renaming, and between
// renaming and acking; another writer finishes the job after AckWait.
func TestKillWriter(t *testing.T) {
	for _, point := range []string{"writer.before_rename", "writer.before_ack"} {
		t.Run(point, func(t *testing.T) {
			c := newCluster(t, clusterOptions{})
			coord := c.coordinator()
			c.fetcher(2)
			victim := c.writer(1, "SPX_TEST_PAUSE="+point)
			done := make(chan struct{})
			var out string
			var code int
			go func() {
				defer close(done)
				out, code = c.process("2024-03-04", "2024-03-04", 2*time.Minute)
			}()
			victim.waitFor(t, pauseRe, time.Minute)
			killed := time.Now()
			victim.kill(t)
			c.writer(1)
			<-done
			if code != 0 {
				t.Fatalf("process-range exit %d:\n%s", code, out)
			}
			t.Logf("recovered %s after the kill", time.Since(killed).Round(time.Millisecond))
			coord.stop(t)
			jobs := c.check(twoDays[:1], false)
			for _, j := range jobs {
				if j.Outcome != spx.JobWritten {
					t.Errorf("%s: %s", j.Key, j.Outcome)
				}
			}
		})
	}
}
