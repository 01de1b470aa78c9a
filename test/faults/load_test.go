package faults

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// Scenario 10: load. Five full simulated 2024 days (the realistic universe,
// over 20 million rows) through 4 fetchers and 2 writers, each its own
// process. Peak memory (VmHWM) of every process is read after the first day
// and at the end: it must stay flat, and nothing may be lost (check).
// SPX_FAULTS_LOAD_DAYS changes the number of days.
func TestLoad(t *testing.T) {
	needFull(t)
	n := 5
	if v, err := strconv.Atoi(os.Getenv("SPX_FAULTS_LOAD_DAYS")); err == nil && v > 0 {
		n = v
	}
	all := dates("2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12", "2024-03-13", "2024-03-14", "2024-03-15")
	days := all[:min(n, len(all))]
	c := newCluster(t, clusterOptions{fullUniverse: true, env: []string{"SPX_TEST_ACK_WAIT=60s", "SPX_TEST_IN_PROGRESS=5s"}})
	coord := c.coordinator()
	fetchers := []*proc{c.fetcher(1), c.fetcher(1), c.fetcher(1), c.fetcher(1)}
	writers := []*proc{c.writer(1), c.writer(1)}
	procs := append(append([]*proc{coord}, fetchers...), writers...)
	start := time.Now()
	done := make(chan struct{})
	var out string
	var code int
	go func() {
		defer close(done)
		out, code = c.process(days[0].String(), days[len(days)-1].String(), 2*time.Hour)
	}()
	first := map[*proc]int64{}
	firstDay := time.Duration(0)
	for {
		select {
		case <-done:
		case <-time.After(time.Second):
			if firstDay == 0 && countFiles(c.out) > 0 {
				if c.dayFinished(days[0]) {
					firstDay = time.Since(start)
					for _, p := range procs {
						first[p] = p.peakRSS()
					}
				}
			}
			continue
		}
		break
	}
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, tail(out))
	}
	peaks := map[*proc]int64{}
	for _, p := range procs {
		peaks[p] = p.peakRSS()
	}
	for i, p := range procs {
		name := p.name + fmt.Sprint(i)
		t.Logf("%-13s VmHWM after day 1: %4d MiB, at the end: %4d MiB", name, first[p]>>10, peaks[p]>>10)
		if first[p] > 0 && peaks[p] > first[p]*3/2+64<<10 {
			t.Errorf("%s: peak memory grew from %d MiB after the first day to %d MiB", name, first[p]>>10, peaks[p]>>10)
		}
	}
	coord.stop(t)
	jobs := c.check(days, false)
	var rows int64
	for _, j := range jobs {
		rows += j.Rows
	}
	t.Logf("%d days, %d jobs, %d rows in %s (first day %s): %.0f rows/s", len(days), len(jobs), rows, took.Round(time.Second),
		firstDay.Round(time.Second), float64(rows)/took.Seconds())
	if len(days) >= 5 && rows < 20_000_000 {
		t.Errorf("%d rows: the load scenario wants at least 20 million", rows)
	}
}
