package statusdb

import (
	"context"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// DeleteDay removes a record no job backs, and keeps a day that has jobs.
func TestDeleteDay(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	for _, d := range []spx.Date{d0102, d0103} {
		if err := s.PutDay(ctx, spx.DayRecord{Date: d, Status: spx.DayQueued}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutJobs(ctx, []spx.JobRecord{{Key: key(spx.Greeks, "SPXW", d0103, d0104), Outcome: spx.JobQueued, Generation: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		date    spx.Date
		removed bool
	}{{d0102, true}, {d0103, false}, {d0104, false}, {d0102, false}} {
		removed, err := s.DeleteDay(ctx, tt.date)
		if err != nil || removed != tt.removed {
			t.Errorf("DeleteDay(%s) = %v, %v; want %v", tt.date, removed, err, tt.removed)
		}
	}
	if _, ok, _ := s.Day(ctx, d0102); ok {
		t.Error("2024-01-02 (no jobs) still recorded")
	}
	if _, ok, _ := s.Day(ctx, d0103); !ok {
		t.Error("2024-01-03 (a job) lost its record")
	}
}
