package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// stages is where the time of one `spx process` run went, read from its
// JSON log (--log-level info --log-format json): every fetch job logs
// "staged" with took, every write job "written" with took.
type stages struct {
	start, end time.Time // the process's life
	phases     []phase
}

type phase struct {
	name        string
	jobs        int
	busy        time.Duration // sum of the jobs' own times
	first, last time.Time     // first job started, last job ended
	longest     time.Duration
}

// parseStages reads the log of a run that started at start and took wall.
func parseStages(log string, start time.Time, wall time.Duration) stages {
	st := stages{start: start, end: start.Add(wall)}
	byName := map[string]*phase{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e struct {
			Time time.Time       `json:"time"`
			Msg  string          `json:"msg"`
			Took json.RawMessage `json:"took"` // nanoseconds (JSON handler) or "1.5s"
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || len(e.Took) == 0 {
			continue
		}
		name := map[string]string{"staged": "fetch (terminal → NDJSON arrays → s2 → object store)", "written": "write (object store → Parquet)"}[e.Msg]
		if name == "" {
			continue
		}
		took, ok := parseTook(e.Took)
		if !ok {
			continue
		}
		p := byName[name]
		if p == nil {
			p = &phase{name: name, first: e.Time.Add(-took)}
			byName[name] = p
		}
		p.jobs++
		p.busy += took
		p.longest = max(p.longest, took)
		if b := e.Time.Add(-took); b.Before(p.first) {
			p.first = b
		}
		if e.Time.After(p.last) {
			p.last = e.Time
		}
	}
	for _, p := range byName {
		st.phases = append(st.phases, *p)
	}
	sort.Slice(st.phases, func(i, j int) bool { return st.phases[i].first.Before(st.phases[j].first) })
	return st
}

// markdown writes the breakdown as a table; offsets are seconds from the
// process start.
func (st stages) markdown(w io.Writer) {
	if len(st.phases) == 0 {
		fmt.Fprintln(w, "No stage timings (the run's log had no staged/written lines).")
		return
	}
	off := func(t time.Time) string { return fmt.Sprintf("%.1f", t.Sub(st.start).Seconds()) }
	fmt.Fprintln(w, "| stage | jobs | first job starts s | last job ends s | span s | sum of job times s | longest job s | mean busy workers |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, p := range st.phases {
		span := p.last.Sub(p.first)
		busy := 0.0
		if span > 0 {
			busy = p.busy.Seconds() / span.Seconds()
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.1f | %.1f | %.2f | %.2f |\n", p.name, p.jobs, off(p.first), off(p.last), span.Seconds(), p.busy.Seconds(), p.longest.Seconds(), busy)
	}
	last := st.phases[0].last
	for _, p := range st.phases {
		if p.last.After(last) {
			last = p.last
		}
	}
	fmt.Fprintf(w, "\nStart-up and planning (process start → first fetch): %.1f s; last write → process exit: %.1f s; whole run %.1f s.\n",
		st.phases[0].first.Sub(st.start).Seconds(), st.end.Sub(last).Seconds(), st.end.Sub(st.start).Seconds())
}

// parseTook reads slog's duration: a number of nanoseconds from the JSON
// handler, or a Go duration string.
func parseTook(raw json.RawMessage) (time.Duration, bool) {
	var ns int64
	if json.Unmarshal(raw, &ns) == nil {
		return time.Duration(ns), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}
