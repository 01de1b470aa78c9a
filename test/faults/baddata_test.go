package faults

import (
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Scenario 8: bad data from the terminal. Every job is failed with the
// reason and a sample of the offending input in the error log; nothing is
// written for it.
func TestBadData(t *testing.T) {
	for _, kind := range []string{"header", "nan", "inf", "fields", "empty"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, clusterOptions{simArgs: []string{"--bad-data", kind}})
			coord := c.coordinator()
			c.fetcher(2)
			c.writer(1)
			out, code := c.process("2024-03-04", "2024-03-04", 2*time.Minute)
			if code != 1 {
				t.Errorf("process-range exit %d, want 1 (failed jobs):\n%s", code, out)
			}
			coord.stop(t)
			jobs := c.check(twoDays[:1], true)
			for _, j := range jobs {
				if j.Outcome != spx.JobFailed || j.ErrorClass != spx.ClassPermanent {
					t.Errorf("%s: %s (%s) %q, want failed (permanent)", j.Key, j.Outcome, j.ErrorClass, j.LastError)
				}
			}
			t.Logf("%s: %s", jobs[0].Key, jobs[0].LastError)
			details := map[string]string{}
			for _, e := range c.errorLog() {
				if e.Job != "" {
					details[e.Job] = e.Detail
				}
			}
			for _, j := range jobs {
				d, ok := details[j.Key.String()]
				switch {
				case !ok:
					t.Errorf("%s: not in the error log", j.Key)
				case kind != "empty" && d == "":
					t.Errorf("%s: the error log has no sample of the offending input", j.Key)
				case kind == "header" && !strings.Contains(d, "unexpected_column"),
					kind == "nan" && !strings.Contains(d, "NaN"),
					kind == "inf" && !strings.Contains(d, "Inf"):
					t.Errorf("%s: sample %q does not show the offending input", j.Key, d)
				}
			}
			t.Logf("sample: %q", details[jobs[0].Key.String()])
		})
	}
}
