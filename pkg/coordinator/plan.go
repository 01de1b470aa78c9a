package coordinator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

// Planning: which days to plan, listing their contracts and recording and
// publishing their jobs.

// EndDate is the last day gap analysis looks at: the latest session whose
// data is final (its close plus follow.delay).
func (s *Service) EndDate() spx.Date {
	return calendar.LastFinalSession(s.cfg.Now(), s.cfg.Follow.Delay)
}

// CheckDay is calendar.CheckDay on this coordinator's clock and
// follow.delay: nil when d may be archived now, else a *spx.RefusedError
// saying why. Every way of planning a day asks it first.
func (s *Service) CheckDay(d spx.Date) error {
	return calendar.CheckDay(d, s.cfg.Now(), s.cfg.Follow.Delay)
}

// Gaps returns the sessions in [from, to] that are not complete. A zero from
// is the configured start date, a zero to the last final session.
func (s *Service) Gaps(ctx context.Context, from, to spx.Date) ([]spx.Date, error) {
	if from.IsZero() {
		from = s.planning().StartDate
	}
	if to.IsZero() || to > s.EndDate() {
		to = s.EndDate()
	}
	if from.IsZero() {
		return nil, errors.New("no start date: set processing.start_date or pass --start-date")
	}
	days, err := s.store.Days(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("reading day records: %w", err)
	}
	status := make(map[spx.Date]spx.DayStatus, len(days))
	for _, d := range days {
		status[d.Date] = d.Status
	}
	var sessions []spx.Date
	for _, ss := range calendar.Sessions(from, to) {
		sessions = append(sessions, ss.Date)
	}
	return spx.Gaps(sessions, func(d spx.Date) (spx.DayStatus, bool) { st, ok := status[d]; return st, ok }), nil
}

// resolveDates expands an enqueue request into the sessions to plan,
// refusing (a *spx.RefusedError) a range that may not be archived; named
// dates are Enqueue's to check.
func (s *Service) resolveDates(ctx context.Context, req EnqueueRequest) ([]spx.Date, error) {
	if len(req.Dates) > 0 {
		return req.Dates, nil
	}
	from := req.From
	if from.IsZero() && req.Gaps {
		if from = s.planning().StartDate; from.IsZero() {
			return nil, spx.Refusedf("no start date: set processing.start_date or pass --start-date")
		}
	}
	if from.IsZero() || (req.To.IsZero() && !req.Gaps) {
		return nil, spx.Refusedf("enqueue needs dates, a range from <= to, or gaps (got %s..%s)", req.From, req.To)
	}
	to, err := calendar.CheckDays(from, req.To, s.cfg.Now(), s.cfg.Follow.Delay)
	if err != nil {
		return nil, err
	}
	if req.Gaps {
		return s.Gaps(ctx, from, to)
	}
	var dates []spx.Date
	for _, ss := range calendar.Sessions(from, to) {
		dates = append(dates, ss.Date)
	}
	return dates, nil
}

// EnqueueResult says what Enqueue did.
type EnqueueResult struct {
	Days      []spx.Date `json:"days"`       // days with work queued
	Jobs      int        `json:"jobs"`       // jobs published
	Skipped   []spx.Date `json:"skipped"`    // already complete
	NoData    []spx.Date `json:"no_data"`    // no contracts listed at all
	NotListed []string   `json:"not_listed"` // days whose contracts could not be listed (error each)
	// Waiting are days recorded queued whose planning waits for the Theta
	// Terminal, which was not up when asked (Terminal says how it was): the
	// coordinator plans them by itself once it answers.
	Waiting  []spx.Date          `json:"waiting,omitempty"`
	Terminal *spx.TerminalStatus `json:"terminal,omitempty"`
}

// Enqueue plans and publishes the jobs of each date. A date that may not
// be archived (CheckDay) refuses the whole request before anything is
// recorded. Complete days are skipped; jobs already written or empty are
// not queued again; failed and dead jobs are retried with a new
// generation. While the terminal is not up the days are only recorded (as
// queued, being planned) and planned in the background once it answers,
// so the caller is not held.
func (s *Service) Enqueue(ctx context.Context, dates []spx.Date) (EnqueueResult, error) {
	var res EnqueueResult
	for _, d := range dates {
		if err := s.CheckDay(d); err != nil {
			return res, err
		}
	}
	// Every day asked for is recorded as being planned before the first is
	// listed: a crash part-way leaves the rest marked, and the coordinator
	// plans them when it starts again (reconcile.go).
	var todo []spx.Date
	for _, d := range dates {
		rec, ok, err := s.store.Day(ctx, d)
		if err != nil {
			return res, fmt.Errorf("reading day %s: %w", d, err)
		}
		if ok && rec.Status.Complete() {
			res.Skipped = append(res.Skipped, d)
			continue
		}
		if err := s.markPlanning(ctx, d, true, ""); err != nil {
			return res, err
		}
		todo = append(todo, d)
	}
	if st := s.terminalAway(); st != nil && len(todo) > 0 {
		s.planLater(todo)
		res.Waiting, res.Terminal = todo, st
		s.log.Info("days recorded; their planning waits for the Theta Terminal", "days", todo, "terminal", st.State)
		return res, nil
	}
	return res, s.planDays(ctx, todo, &res)
}

// planDays lists, records and publishes the jobs of days marked as being
// planned, adding what it did to res.
func (s *Service) planDays(ctx context.Context, todo []spx.Date, res *EnqueueResult) error {
	for _, d := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		keys, contracts, err := s.plan(ctx, d)
		if err != nil {
			res.NotListed = append(res.NotListed, fmt.Sprintf("%s: %v", d, err))
			s.appendError(ctx, spx.ErrorEntry{Type: string(spx.ClassOf(err)), Message: "listing contracts: " + err.Error(), Date: d})
			// A day with no job recorded (new, or planned again after a
			// crash) becomes failed with the reason rather than queued
			// with nothing queued.
			why := ""
			if jobs, jerr := s.store.JobsForDate(ctx, d); jerr == nil && len(jobs) == 0 {
				why = "listing contracts: " + err.Error()
			}
			if err := s.markPlanning(ctx, d, false, why); err != nil {
				return err
			}
			continue
		}
		n, err := s.enqueueDay(ctx, d, keys, contracts)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			res.NoData = append(res.NoData, d)
			continue
		}
		res.Days = append(res.Days, d)
		res.Jobs += n
	}
	return nil
}

// markPlanning sets or clears a day's Planning mark. A day first recorded by
// this request is queued while it is planned; failed non-empty makes it
// failed with that reason (a gap for spx process-gaps and spx retry).
func (s *Service) markPlanning(ctx context.Context, d spx.Date, planning bool, failed string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	_, err := s.store.UpdateDay(ctx, d, func(r *spx.DayRecord) error {
		r.Planning, r.UpdatedAt = planning, now
		if r.Status == "" {
			r.Status, r.StartedAt = spx.DayQueued, now
		}
		if failed != "" {
			r.Status, r.ErrorMessage, r.CompletedAt = spx.DayFailed, failed, now
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording day %s: %w", d, err)
	}
	return nil
}

// plan lists the day's contracts and returns one job key per (dataset, root,
// expiration), and the number of contracts listed per root (what sizes a
// chain fetch).
func (s *Service) plan(ctx context.Context, d spx.Date) ([]spx.JobKey, map[string]int, error) {
	pl := s.planning()
	var contracts []spx.Contract
	err := queue.RetryTransientFor(ctx, s.cfg.ListRetryFor, s.cfg.RetryBase, 15*time.Second, func(ctx context.Context) error {
		var err error
		contracts, err = s.src.Contracts(ctx, d, pl.Roots)
		return err
	})
	if spx.ClassOf(err) == spx.ClassEmpty {
		err, contracts = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	type re struct {
		root string
		exp  spx.Date
	}
	seen := map[re]bool{}
	perRoot := map[string]int{}
	for _, c := range contracts {
		if c.Expiration < d || !slices.Contains(pl.Roots, c.Root) {
			continue
		}
		seen[re{c.Root, c.Expiration}] = true
		perRoot[c.Root]++
	}
	var keys []spx.JobKey
	for _, ds := range pl.Datasets {
		for x := range seen {
			keys = append(keys, spx.JobKey{Dataset: ds, Root: x.root, Date: d, Expiration: x.exp})
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys, perRoot, nil
}

// chainMaxRows bounds the rows a chain fetch may ask for at once (about
// 100–150 MB of CSV): a bigger day is fetched one expiration at a time.
// One request must finish inside thetadata.timeout (5m by default) and a
// failed one is redone whole, so a whole SPXW day of one-minute quotes
// (≈ 10 million rows) is not asked in one go; eod and open_interest (one
// row per contract) always fit.
const chainMaxRows = 1_000_000

// chainFits reports whether the chain fetch of ds for a root with n
// contracts listed on the day stays within chainMaxRows at interval.
func chainFits(ds spx.Dataset, n int, interval time.Duration) bool {
	rows := int64(n)
	if ds.Intraday() {
		// 09:30 to 16:00, both ends.
		rows *= int64((6*time.Hour+30*time.Minute)/max(interval, time.Second)) + 1
	}
	return rows <= chainMaxRows
}

// enqueueDay records and publishes the day's jobs (contracts: listed per
// root, from plan).
func (s *Service) enqueueDay(ctx context.Context, d spx.Date, keys []spx.JobKey, contracts map[string]int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if len(keys) == 0 {
		_, err := s.store.UpdateDay(ctx, d, func(r *spx.DayRecord) error {
			r.Status, r.StartedAt, r.CompletedAt, r.UpdatedAt = spx.DayNoData, now, now, now
			r.JobsTotal, r.JobsDone, r.Planning, r.ErrorMessage = 0, 0, false, ""
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("recording day %s: %w", d, err)
		}
		s.log.Info("no contracts listed", "date", d)
		return 0, nil
	}
	published := 0
	pl := s.planning()
	// Fresh jobs go out in messages: each on its own, or, for a dataset
	// whose endpoint takes expiration=*, as one chain fetch per (dataset,
	// root): one terminal request for the day's chain instead of one per
	// expiration (docs/thetadata.md). Keyed by the message's key.
	messages := map[spx.JobKey][]queue.ChainJob{}
	for _, k := range keys {
		rec, ok, err := s.store.Job(ctx, k)
		if err != nil {
			return published, fmt.Errorf("reading job %s: %w", k, err)
		}
		switch {
		case ok && (rec.Outcome.Done() || rec.Outcome == spx.JobFetching || rec.Outcome == spx.JobStaged):
			continue // finished, or in flight: its events will follow
		case ok && (rec.Outcome == spx.JobFailed || rec.Outcome == spx.JobDead):
			if err := s.requeueLocked(ctx, k, "enqueue"); err != nil {
				return published, err
			}
		default:
			gen := max(rec.Generation, 1)
			if !ok {
				rec = spx.JobRecord{Key: k, QueuedAt: now}
			}
			rec.Outcome, rec.Generation, rec.UpdatedAt = spx.JobQueued, gen, now
			if err := s.store.PutJobs(ctx, []spx.JobRecord{rec}); err != nil {
				return published, fmt.Errorf("recording job %s: %w", k, err)
			}
			mk := k
			if !pl.PerExpiration && k.Dataset.AllExpirations() && chainFits(k.Dataset, contracts[k.Root], pl.Interval) {
				mk = k.ChainKey()
			}
			messages[mk] = append(messages[mk], queue.ChainJob{Key: k, Generation: gen})
		}
		published++
	}
	order := slices.SortedFunc(maps.Keys(messages), func(a, b spx.JobKey) int { return strings.Compare(a.String(), b.String()) })
	for i, mk := range order {
		if i > 0 {
			// A crash here leaves a job recorded queued with no message
			// and the rest of the day unplanned (reconcile.go).
			spx.PauseForTest("coordinator.before_publish")
		}
		var err error
		if jobs := messages[mk]; len(jobs) == 1 {
			// A chain of one expiration is the same request as its own.
			err = s.publishLocked(ctx, jobs[0])
		} else {
			err = s.publishChainLocked(ctx, jobs)
		}
		if err != nil {
			return published, err
		}
	}
	_, err := s.store.UpdateDay(ctx, d, func(r *spx.DayRecord) error {
		if r.StartedAt.IsZero() || r.Status.Complete() || r.Status == spx.DayFailed || r.Status == spx.DayPartial {
			r.StartedAt = now
		}
		r.Status, r.UpdatedAt, r.CompletedAt, r.Planning = spx.DayQueued, now, time.Time{}, false
		r.ErrorMessage = ""
		return nil
	})
	if err != nil {
		return published, fmt.Errorf("recording day %s: %w", d, err)
	}
	if err := s.updateDayLocked(ctx, d); err != nil {
		return published, err
	}
	s.log.Info("day queued", "date", d, "jobs", published)
	return published, nil
}
