package web

import (
	"context"
	"fmt"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// StatusReport is what `spx status --format json` prints and /api/status
// serves (docs/cli-json.md). The pipeline's live queue figures go in Queues.
type StatusReport struct {
	Database     string                 `json:"database"`
	Days         map[spx.DayStatus]int  `json:"days"` // trade days by status
	DaysTotal    int                    `json:"days_total"`
	FirstDate    *spx.Date              `json:"first_date,omitempty"`
	LastDate     *spx.Date              `json:"last_date,omitempty"`
	Jobs         map[spx.JobOutcome]int `json:"jobs"` // jobs by outcome
	Rows         int64                  `json:"rows"`
	Bytes        int64                  `json:"bytes"`
	LastActivity time.Time              `json:"last_activity,omitzero"`
	RecentErrors []spx.ErrorEntry       `json:"recent_errors"`
	// Queues holds per-stage queue depth from a running cluster; empty
	// when none is reachable.
	Queues []QueueStats `json:"queues,omitempty"`
	// Terminal is the Theta Terminal as the running pipeline sees it; nil
	// when nothing here watches it.
	Terminal *spx.TerminalStatus `json:"terminal,omitempty"`
	// NATSStore says whether the NATS store has room for staged objects;
	// nil when nothing here watches it.
	NATSStore *spx.NATSStore `json:"nats_store,omitempty"`
	// Follow says when the coordinator enqueues the next session by
	// itself; nil when it does not follow the calendar or is not running.
	Follow *spx.FollowStatus `json:"follow,omitempty"`
}

// QueueStats is one pipeline stage's queue depth (fetch, write).
type QueueStats struct {
	Stage    string `json:"stage"`
	Pending  int64  `json:"pending"`
	InFlight int64  `json:"in_flight"`
	Dead     int64  `json:"dead"`
}

// StatusReader is what BuildStatusReport needs from the status store.
type StatusReader interface {
	Days(ctx context.Context, from, to spx.Date) ([]spx.DayRecord, error)
	Jobs(ctx context.Context, f spx.JobFilter) ([]spx.JobRecord, error)
	Errors(ctx context.Context, limit int) ([]spx.ErrorEntry, error)
}

// BuildStatusReport reads the figures of `spx status` from the store: path
// is the database shown to the user, errorsN how many recent errors to
// include.
func BuildStatusReport(ctx context.Context, st StatusReader, path string, errorsN int) (StatusReport, error) {
	rep := StatusReport{
		Database:     path,
		Days:         map[spx.DayStatus]int{},
		Jobs:         map[spx.JobOutcome]int{},
		RecentErrors: []spx.ErrorEntry{},
	}
	days, err := st.Days(ctx, 0, 0)
	if err != nil {
		return rep, fmt.Errorf("reading day records: %w", err)
	}
	for _, d := range days {
		rep.Days[d.Status]++
		rep.Rows += d.RecordCount
		rep.Bytes += d.FileSizeBytes
		rep.LastActivity = latest(rep.LastActivity, d.UpdatedAt, d.StartedAt, d.CompletedAt)
	}
	rep.DaysTotal = len(days)
	if len(days) > 0 {
		first, last := days[0].Date, days[len(days)-1].Date
		rep.FirstDate, rep.LastDate = &first, &last
	}
	jobs, err := st.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		return rep, fmt.Errorf("reading job records: %w", err)
	}
	for _, j := range jobs {
		rep.Jobs[j.Outcome]++
		rep.LastActivity = latest(rep.LastActivity, j.UpdatedAt)
	}
	if errorsN > 0 {
		errs, err := st.Errors(ctx, errorsN)
		if err != nil {
			return rep, fmt.Errorf("reading the error log: %w", err)
		}
		rep.RecentErrors = append(rep.RecentErrors, errs...)
	}
	if len(rep.RecentErrors) > 0 {
		rep.LastActivity = latest(rep.LastActivity, rep.RecentErrors[0].Time)
	}
	return rep, nil
}

func latest(t time.Time, more ...time.Time) time.Time {
	for _, m := range more {
		if m.After(t) {
			t = m
		}
	}
	return t
}
