package faults

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

// `spx run --follow` (follow.from 2024-03-01) on a clock that starts on
// Friday 2024-03-01 at 17:00 New York and runs 36,000 times faster than
// real time (10 hours a second): nobody enqueues anything, yet Friday is
// queued once final (18:00: close + follow.delay 2h) and Monday 2024-03-04
// after its 18:00, both archived in full; the weekend between gets
// nothing; every day queued is a session, in order from Friday on; spx
// status says what comes next. (The exact minute each day is queued is
// pkg/coordinator's TestFollowEnqueuesEachSessionAfterItsClose.)
func TestFollowEnqueuesSessionsByItself(t *testing.T) {
	c := newCluster(t, clusterOptions{})
	run := c.start("spx run --follow", []string{"SPX_TEST_CLOCK=2024-03-01T17:00:00-05:00*36000", "SPX_FOLLOW_DELAY=2h", "SPX_FOLLOW_FROM=2024-03-01"},
		"run", "--follow", "--listen", "127.0.0.1:0", "--monitor", "", "--http=", "--fetchers", "2", "--writers", "1")
	c.natsURL = run.waitFor(t, natsRe, 30*time.Second)[1]
	run.waitFor(t, regexp.MustCompile(`spx: running`), 30*time.Second)
	fri, mon := spx.NewDate(2024, 3, 1), spx.NewDate(2024, 3, 4)

	var st struct {
		Days   map[spx.DayStatus]int `json:"days"`
		Follow *spx.FollowStatus     `json:"follow"`
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, code := c.cli(30*time.Second, "status", "--format", "json", "--nats", c.natsURL)
		if code != 0 {
			t.Fatalf("spx status exit %d:\n%s", code, out)
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("spx status --format json: %v\n%s", err, out)
		}
		if st.Days[spx.DaySuccess] >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two followed days not archived within 90s: %+v follow %+v\n%s", st.Days, st.Follow, tail(run.Log()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	run.stop(t)
	if st.Follow == nil || !st.Follow.Enabled || st.Follow.NextDate <= mon || st.Follow.NextAt.IsZero() {
		t.Errorf("spx status follow: %+v, want the next session after %s with its time", st.Follow, mon)
	}

	var queued []spx.Date
	for d := spx.NewDate(2024, 2, 26); d <= spx.NewDate(2024, 3, 31); d++ {
		if len(c.jobs(d)) > 0 {
			queued = append(queued, d)
		}
	}
	if len(queued) < 2 || queued[0] != fri || queued[1] != mon {
		t.Fatalf("days queued %v, want 2024-03-01, 2024-03-04, … (nothing before Friday, nothing on the weekend)", queued)
	}
	for i, d := range queued {
		if !calendar.IsSession(d) {
			t.Errorf("%s was queued but is no trading day", d)
		}
		if i > 0 && calendar.NextSession(queued[i-1]) != d {
			t.Errorf("queued %v: a session was skipped before %s", queued, d)
		}
	}
	// The two days the status counted as success are whole: every job
	// written, rows equal what the simulator served and what the files
	// hold, and spx verify passes over them. (Days after Monday may still
	// be in flight when the run stops; the clock does not wait.)
	served := c.stats().RowsServed
	jobs := c.jobs(fri, mon)
	if len(jobs) == 0 {
		t.Fatal("no jobs for the followed days")
	}
	for _, j := range jobs {
		if j.Outcome != spx.JobWritten {
			t.Errorf("%s: %s (%s)", j.Key, j.Outcome, j.LastError)
			continue
		}
		if served[j.Key.String()] != j.Rows {
			t.Errorf("%s: %d rows written, the simulator served %d", j.Key, j.Rows, served[j.Key.String()])
		}
		if n := parquetRows(t, filepath.Join(c.out, filepath.FromSlash(j.Key.RelPath()))); n != j.Rows {
			t.Errorf("%s: %d rows in the file, %d recorded", j.Key, n, j.Rows)
		}
	}
	if out, code := c.cli(time.Minute, "verify", "--from", fri.String(), "--to", mon.String()); code != 0 {
		t.Errorf("spx verify exit %d:\n%s", code, out)
	}
}
