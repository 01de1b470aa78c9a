package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/spx"
)

func TestProgressLine(t *testing.T) {
	start := time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		prog []coordinator.DayProgress
		at   time.Duration
		want []string
	}{
		{"half way", []coordinator.DayProgress{{Jobs: 10, Done: 5, Rows: 1234567, Bytes: 20e6}}, 10 * time.Second,
			[]string{"days 0/1", "jobs 5/10", "rows 1,234,567", "2.0 MB/s", "ETA 10s"}},
		{"with failures", []coordinator.DayProgress{{Jobs: 4, Done: 2, Failed: 1, Finished: false}, {Jobs: 2, Done: 2, Finished: true}}, 6 * time.Second,
			[]string{"days 1/2", "jobs 4/6 (1 failed)", "ETA 1s"}},
		{"nothing done yet", []coordinator.DayProgress{{Jobs: 3}}, time.Second, []string{"jobs 0/3", "ETA ?"}},
		{"finished", []coordinator.DayProgress{{Jobs: 3, Done: 3, Finished: true}}, time.Second, []string{"days 1/1", "ETA 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := progressLine(tt.prog, start, start.Add(tt.at))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}

func TestSummaryReportsFailures(t *testing.T) {
	var buf bytes.Buffer
	d := spx.NewDate(2024, 1, 2)
	failed := writeSummary(&buf, []coordinator.DayProgress{
		{Day: spx.DayRecord{Date: d, Status: spx.DayPartial}, Jobs: 3, Done: 2, Failed: 1, Errors: []string{"greeks.SPXW.20240102.20240105 (failed): 471 PERMISSION"}},
		{Day: spx.DayRecord{Date: d + 1, Status: spx.DaySuccess}, Jobs: 2, Done: 2},
	})
	out := buf.String()
	if !failed || !strings.Contains(out, "partial") || !strings.Contains(out, "471 PERMISSION") || !strings.Contains(out, "spx retry") {
		t.Fatalf("failed=%v\n%s", failed, out)
	}
}
