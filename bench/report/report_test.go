package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	ms := []Measurement{
		{Name: "spx convert", Input: "day", Rows: 1_000_000, InputBytes: 300e6, Wall: 2 * time.Second, CPU: 3 * time.Second, PeakRSS: 100 * MiB, OutputBytes: 90 * MiB},
		{Name: "duckdb 2 threads", Input: "day", Rows: 1_000_000, InputBytes: 300e6, Wall: 3 * time.Second, PeakRSS: 300 * MiB, OutputBytes: 100 * MiB},
		{Name: "spx convert", Input: "other", Rows: 10, Wall: time.Second, OutputBytes: 1},
		{Name: "broken", Input: "day", Err: errors.New("exit status 1: no | pipes")},
	}
	var b bytes.Buffer
	Table(&b, ms, []string{"duckdb 2 threads"})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range []string{
		"| day | spx convert | 1000000 | 2.00 | 0.50M | 150 | 3.00 | 100 | 90.0 | 1.50× | 0.900× |",
		"| day | duckdb 2 threads | 1000000 | 3.00 | 0.33M | 100 | 0.00 | 300 | 100.0 | 1.00× | 1.000× |",
		"| other | spx convert | 10 | 1.00 | 0.00M | – | 0.00 | 0 | 0.0 | – | – |",
	} {
		if lines[2+i] != want {
			t.Errorf("row %d:\n got %s\nwant %s", i, lines[2+i], want)
		}
	}
	if !strings.Contains(lines[5], "failed: exit status 1: no / pipes") || strings.Count(lines[5], "|") != strings.Count(lines[0], "|") {
		t.Errorf("failure row %q does not keep the table shape", lines[5])
	}
}

func TestJudge(t *testing.T) {
	base := Measurement{Name: "duckdb 2 threads", Wall: 4 * time.Second, OutputBytes: 100 * MiB}
	small := Measurement{Input: "small", PeakRSS: 100 * MiB}
	tests := []struct {
		name   string
		spx    Measurement
		base   Measurement
		small  Measurement
		large  Measurement
		status []string // targets 1, 2, 3a, 3b
	}{
		{"all pass", Measurement{Wall: 2 * time.Second, OutputBytes: 99 * MiB, PeakRSS: 200 * MiB}, base, small, Measurement{Input: "large", PeakRSS: 119 * MiB}, []string{"PASS", "PASS", "PASS", "PASS"}},
		{"slower, larger, heavier, growing", Measurement{Wall: 5 * time.Second, OutputBytes: 101 * MiB, PeakRSS: 300 * MiB}, base, small, Measurement{Input: "large", PeakRSS: 121 * MiB}, []string{"FAIL", "FAIL", "FAIL", "FAIL"}},
		{"flat but over the cap", Measurement{Wall: 4 * time.Second, OutputBytes: 100 * MiB, PeakRSS: 100 * MiB}, base, Measurement{Input: "small", PeakRSS: 250 * MiB}, Measurement{Input: "large", PeakRSS: 260 * MiB}, []string{"PASS", "PASS", "PASS", "FAIL"}},
		{"spx missing", Measurement{Err: errors.New("no convert")}, base, Measurement{}, Measurement{}, []string{"SKIP", "SKIP", "SKIP", "SKIP"}},
		{"baseline failed", Measurement{Wall: time.Second, PeakRSS: MiB}, Measurement{Name: "d", Err: errors.New("x")}, small, Measurement{Input: "large", Err: errors.New("x")}, []string{"SKIP", "SKIP", "PASS", "SKIP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := Judge(IssueLimits, tt.spx, tt.base, tt.small, tt.large)
			var got []string
			for _, v := range vs {
				got = append(got, v.Status)
			}
			if strings.Join(got, " ") != strings.Join(tt.status, " ") {
				t.Fatalf("statuses %v, want %v (%+v)", got, tt.status, vs)
			}
			if Failed(vs) != strings.Contains(strings.Join(tt.status, " "), "FAIL") {
				t.Fatalf("Failed = %v", Failed(vs))
			}
		})
	}
	vs := Judge(IssueLimits, Measurement{Wall: 2 * time.Second, OutputBytes: MiB, PeakRSS: MiB}, base, Measurement{}, Measurement{})
	if !strings.Contains(vs[0].Got, "stretch met") {
		t.Errorf("2.0× speed-up does not say the stretch goal is met: %q", vs[0].Got)
	}
}
