package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStages(t *testing.T) {
	start := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	log := strings.Join([]string{
		`not json`,
		`{"time":"2026-01-02T10:00:02Z","level":"INFO","msg":"staged","rows":10,"took":1000000000}`,
		`{"time":"2026-01-02T10:00:03Z","level":"INFO","msg":"staged","rows":10,"took":"1.5s"}`,
		`{"time":"2026-01-02T10:00:04Z","level":"INFO","msg":"written","rows":10,"took":"500ms"}`,
		`{"time":"2026-01-02T10:00:05Z","level":"INFO","msg":"fetchers started"}`,
	}, "\n")
	st := parseStages(log, start, 6*time.Second)
	if len(st.phases) != 2 {
		t.Fatalf("phases = %+v, want fetch and write", st.phases)
	}
	f, w := st.phases[0], st.phases[1]
	if f.jobs != 2 || f.busy != 2500*time.Millisecond || !f.first.Equal(start.Add(time.Second)) || !f.last.Equal(start.Add(3*time.Second)) || f.longest != 1500*time.Millisecond {
		t.Errorf("fetch phase = %+v", f)
	}
	if w.jobs != 1 || !w.first.Equal(start.Add(3500*time.Millisecond)) {
		t.Errorf("write phase = %+v", w)
	}
	var b bytes.Buffer
	st.markdown(&b)
	for _, want := range []string{"| fetch", "| 2 | 1.0 | 3.0 | 2.0 | 2.5 | 1.50 | 1.25 |", "first fetch): 1.0 s", "process exit: 2.0 s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}

func TestReadVmHWMOfThisProcess(t *testing.T) {
	v, ok := readVmHWM(os.Getpid())
	if !ok || v < 1<<20 {
		t.Fatalf("readVmHWM = %d, %v: want this process's peak RSS (over 1 MiB)", v, ok)
	}
	if _, ok := readVmHWM(-1); ok {
		t.Error("readVmHWM of no process succeeded")
	}
}
