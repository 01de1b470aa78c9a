package faults

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

var threeDays = dates("2024-03-04", "2024-03-05", "2024-03-06")

// Scenario 4: terminal faults. Transient faults end written; nothing is
// silently short (check compares every file with the rows the simulator
// served in its last complete answer for that job).
func TestTerminalFaults(t *testing.T) {
	tests := []struct {
		name    string
		full    bool
		simArgs []string
		env     []string
		midRun  string // POST /sim/faults?<midRun> after the first file
		v2      bool
		fetch   int
	}{
		{name: "codes-and-bodies", simArgs: []string{"--fault-rate", "429=0.05,470=0.05,474=0.05,477=0.05,500=0.05,571=0.05,572=0.05",
			"--reset-rate", "0.15", "--truncate-rate", "0.15"}, fetch: 4},
		// Chain fetches (quote and eod take expiration=*): a chain hit
		// by a fault is split into one job per expiration; every file
		// still equals what the simulator served for its expiration.
		{name: "chain-codes-and-bodies", simArgs: []string{"--fault-rate", "429=0.05,474=0.05,500=0.05,572=0.05",
			"--reset-rate", "0.1", "--truncate-rate", "0.1"}, env: []string{"SPX_PROCESSING_DATASETS=quote,eod"}, fetch: 4},
		// The v2 protocol: answers paged by 2000 rows, 20 % of page
		// continuations expired (477: restart from page 1), codes and cut
		// bodies on top.
		{name: "v2-pages-expire", v2: true, simArgs: []string{"--tick-limit", "2000", "--expire-rate", "0.2",
			"--fault-rate", "474=0.05,572=0.05", "--reset-rate", "0.05", "--truncate-rate", "0.05"}, fetch: 4},
		// A 30-second 474 burst: the redelivery back-off must outlast it.
		// Started mid-run (after the first file), once the days are planned.
		{name: "disconnect-30s", full: true, simArgs: []string{"--latency", "300ms"}, midRun: "disconnect=30s",
			env: []string{"SPX_TEST_NAK_BASE=2s", "SPX_TEST_NAK_MAX=8s"}, fetch: 4},
		// The same burst from the start: planning the days must outlast it
		// too (the coordinator retries listing for up to two minutes).
		{name: "disconnect-30s-while-planning", full: true, simArgs: []string{"--disconnect", "30s"},
			env: []string{"SPX_TEST_NAK_BASE=2s", "SPX_TEST_NAK_MAX=8s"}, fetch: 4},
		{name: "startup-571-15s", full: true, simArgs: []string{"--latency", "300ms"}, midRun: "startup=15s",
			env: []string{"SPX_TEST_NAK_BASE=2s", "SPX_TEST_NAK_MAX=8s"}, fetch: 4},
		// Stalled bodies end at the client's 30 s idle timeout.
		{name: "stall", full: true, simArgs: []string{"--stall-rate", "0.1"}, env: []string{"SPX_TEST_ACK_WAIT=10s"}, fetch: 4},
		// One slot and a one-request queue for 8 fetch workers: 429s.
		{name: "queue-overflow-429", full: true, simArgs: []string{"--concurrency", "1", "--queue-size", "1", "--latency", "300ms"},
			// Planning competes for the slot: the production retry base
			// (1s) lets it through the overflow.
			env: []string{"SPX_THETADATA_CONCURRENCY=8", "SPX_TEST_RETRY_BASE=1s"}, fetch: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.full {
				needFull(t)
			}
			t.Parallel()
			c := newCluster(t, clusterOptions{simArgs: tt.simArgs, env: tt.env, v2: tt.v2})
			coord := c.coordinator()
			c.fetcher(tt.fetch)
			c.writer(2)
			start := time.Now()
			var out string
			var code int
			done := make(chan struct{})
			go func() {
				defer close(done)
				out, code = c.process("2024-03-04", "2024-03-06", 5*time.Minute)
			}()
			if tt.midRun != "" {
				for deadline := time.Now().Add(time.Minute); countFiles(c.out) == 0; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("no file written within a minute")
					}
				}
				resp, err := http.Post(c.simURL+"/sim/faults?"+tt.midRun, "", nil)
				if err != nil || resp.StatusCode != http.StatusNoContent {
					t.Fatalf("injecting %s: %v %v", tt.midRun, err, resp)
				}
				resp.Body.Close()
				t.Logf("%s injected after %d files", tt.midRun, countFiles(c.out))
			}
			<-done
			if code != 0 {
				t.Errorf("process-range exit %d:\n%s", code, out)
			}
			took := time.Since(start)
			coord.stop(t)
			jobs := c.check(threeDays, false)
			for _, j := range jobs {
				if j.Outcome != spx.JobWritten {
					t.Errorf("%s: %s", j.Key, j.Outcome)
				}
			}
			st := c.stats()
			h := st.historyRequests()
			injected := int64(0)
			for code, n := range h {
				if code != "200" {
					injected += n
				}
			}
			// A burst from the start hits the planner's contract listing.
			injected += st.Requests["/v3/option/list/contracts/quote"]["474"]
			t.Logf("%d jobs written in %s; history answers by status %v", len(jobs), took.Round(time.Millisecond), h)
			// A terminal whose status says DISCONNECTED or UNVERIFIED is
			// waited for without a request, so a burst may hit nothing.
			waited := strings.Contains(coord.Log(), "theta terminal not up")
			if injected == 0 && h["200"] == int64(len(jobs)) && !waited {
				t.Errorf("no fault was injected: %v", h)
			}
			t.Logf("waited for the terminal: %v", waited)
		})
	}
}
