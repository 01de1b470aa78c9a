package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// RetryRequest selects failed and dead jobs to queue again.
type RetryRequest struct {
	Dates     []spx.Date `json:"dates,omitempty"`
	AllFailed bool       `json:"all_failed,omitempty"`
	LastN     int        `json:"last_n,omitempty"` // the N most recent days with failures
}

// RetryResult says what Retry did.
type RetryResult struct {
	Days []spx.Date `json:"days"`
	Jobs int        `json:"jobs"`
	// Waiting are failed days with no job (their listing failed) planned
	// again once the Theta Terminal answers (Terminal: how it was).
	Waiting  []spx.Date          `json:"waiting,omitempty"`
	Terminal *spx.TerminalStatus `json:"terminal,omitempty"`
}

// Retry queues failed and dead jobs again with a new generation, and plans
// again failed days that have no job (their listing failed). A named day
// that may not be archived (CheckDay) refuses the request before anything
// is recorded.
func (s *Service) Retry(ctx context.Context, req RetryRequest) (RetryResult, error) {
	for _, d := range req.Dates {
		if err := s.CheckDay(d); err != nil {
			return RetryResult{}, err
		}
	}
	jobs, err := s.store.Jobs(ctx, spx.JobFilter{Outcomes: []spx.JobOutcome{spx.JobFailed, spx.JobDead}})
	if err != nil {
		return RetryResult{}, fmt.Errorf("listing failed jobs: %w", err)
	}
	byDay := map[spx.Date][]spx.JobKey{}
	for _, j := range jobs {
		byDay[j.Key.Date] = append(byDay[j.Key.Date], j.Key)
	}
	unlisted, err := s.unlistedDays(ctx)
	if err != nil {
		return RetryResult{}, err
	}
	var days []spx.Date
	switch {
	case len(req.Dates) > 0:
		days = req.Dates
	case req.AllFailed, req.LastN > 0:
		for d := range byDay {
			days = append(days, d)
		}
		for d := range unlisted {
			days = append(days, d)
		}
		// Records an older spx made of days that may not be archived are
		// left alone.
		days = slices.DeleteFunc(days, func(d spx.Date) bool { return s.CheckDay(d) != nil })
		slices.Sort(days)
		if req.LastN > 0 && len(days) > req.LastN {
			days = days[len(days)-req.LastN:]
		}
	default:
		return RetryResult{}, spx.Refusedf("nothing to retry: give dates, all_failed or last_n")
	}
	if len(req.Dates) > 0 {
		// For named days, written files that are missing or no longer match
		// their recorded SHA-256 (spx verify's findings) are rewritten too.
		for _, d := range req.Dates {
			bad, err := s.damagedFiles(ctx, d)
			if err != nil {
				return RetryResult{}, err
			}
			byDay[d] = append(byDay[d], bad...)
		}
	}
	var res RetryResult
	var replan []spx.Date
	for _, d := range days {
		keys := byDay[d]
		if unlisted[d] {
			replan = append(replan, d)
			continue
		}
		if len(keys) == 0 {
			// Nothing to fetch again, but a day that failed only for its
			// manifest gets its status and manifests recomputed.
			s.mu.Lock()
			err := s.updateDayLocked(ctx, d)
			s.mu.Unlock()
			if err != nil {
				return res, err
			}
			continue
		}
		if err := s.retryDay(ctx, d, keys); err != nil {
			return res, err
		}
		res.Days = append(res.Days, d)
		res.Jobs += len(keys)
	}
	if len(replan) > 0 {
		er, err := s.Enqueue(ctx, replan)
		if err != nil {
			return res, err
		}
		res.Days = append(res.Days, append(er.Days, er.NoData...)...)
		res.Jobs += er.Jobs
		res.Waiting, res.Terminal = er.Waiting, er.Terminal
		for _, e := range er.NotListed {
			s.log.Warn("retry: a day still cannot be listed", "day", e)
		}
	}
	return res, nil
}

// unlistedDays returns the failed days that have no job: their listing
// failed, so only planning them again can help.
func (s *Service) unlistedDays(ctx context.Context) (map[spx.Date]bool, error) {
	days, err := s.store.Days(ctx, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("reading day records: %w", err)
	}
	out := map[spx.Date]bool{}
	for _, d := range days {
		if d.Status != spx.DayFailed || d.JobsTotal > 0 {
			continue
		}
		jobs, err := s.store.JobsForDate(ctx, d.Date)
		if err != nil {
			return nil, fmt.Errorf("reading jobs of %s: %w", d.Date, err)
		}
		if len(jobs) == 0 {
			out[d.Date] = true
		}
	}
	return out, nil
}

func (s *Service) retryDay(ctx context.Context, d spx.Date, keys []spx.JobKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if err := s.requeueLocked(ctx, k, "retry"); err != nil {
			return err
		}
	}
	now := s.cfg.Now()
	if _, err := s.store.UpdateDay(ctx, d, func(r *spx.DayRecord) error {
		r.RetryCount++
		r.Status, r.UpdatedAt, r.CompletedAt, r.ErrorMessage = spx.DayProcessing, now, time.Time{}, ""
		return nil
	}); err != nil {
		return fmt.Errorf("recording day %s: %w", d, err)
	}
	return s.updateDayLocked(ctx, d)
}

// damagedFiles returns the written jobs of d whose Parquet file is missing
// or does not hash to the recorded SHA-256. An archive it cannot read is an
// error, not a reason to rewrite the day.
func (s *Service) damagedFiles(ctx context.Context, d spx.Date) ([]spx.JobKey, error) {
	jobs, err := s.store.JobsForDate(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("reading jobs of %s: %w", d, err)
	}
	var bad []spx.JobKey
	for _, j := range jobs {
		if j.Outcome != spx.JobWritten || s.man == nil {
			continue
		}
		sum, err := s.man.FileSHA256(ctx, j.Key.RelPath())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Not a finding about the file (the archive is unreachable, say):
			// rewriting every file of the day would not help.
			return nil, fmt.Errorf("checking the files of %s: %w", d, err)
		}
		if err != nil || sum != j.SHA256 {
			bad = append(bad, j.Key)
		}
	}
	return bad, ctx.Err()
}
