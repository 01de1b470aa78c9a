package coordinator

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/spx-archive/spx/pkg/spx"
)

// Planning that waits for the terminal. Listing a day's contracts waits
// (in the terminal watcher) while the Theta Terminal is not up, which could
// be hours; a request to plan days then must not hold its caller (spx
// enqueue-gaps, the follower, Reconcile) that long. Enqueue records such
// days as queued and being planned (DayRecord.Planning) and hands them
// here; planWaiting plans them once the terminal answers. A stop before
// that leaves the mark, and the next start plans them (Reconcile).

// waitingDays are the days handed over, and a wake-up for planWaiting.
type waitingDays struct {
	mu   sync.Mutex
	days map[spx.Date]bool
	kick chan struct{} // capacity 1
}

func newWaitingDays() *waitingDays {
	return &waitingDays{days: map[spx.Date]bool{}, kick: make(chan struct{}, 1)}
}

// terminalAway returns the terminal's state when planning would have to
// wait for it: known not to be up. Nil when it is up, not checked yet, or
// not watched here (then a listing simply runs).
func (s *Service) terminalAway() *spx.TerminalStatus {
	if s.cfg.Terminal == nil {
		return nil
	}
	st := s.cfg.Terminal()
	if st == nil || st.State == spx.TerminalUp || st.State == spx.TerminalUnknown {
		return nil
	}
	return st
}

// planLater hands days marked as being planned to planWaiting.
func (s *Service) planLater(days []spx.Date) {
	s.waiting.mu.Lock()
	for _, d := range days {
		s.waiting.days[d] = true
	}
	s.waiting.mu.Unlock()
	select {
	case s.waiting.kick <- struct{}{}:
	default:
	}
}

// planWaiting plans the days handed to planLater, in date order, until ctx
// ends. A day someone else planned meanwhile (its mark cleared) is left.
func (s *Service) planWaiting(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.waiting.kick:
		}
		for ctx.Err() == nil {
			s.waiting.mu.Lock()
			days := slices.Sorted(maps.Keys(s.waiting.days))
			clear(s.waiting.days)
			s.waiting.mu.Unlock()
			if len(days) == 0 {
				break
			}
			todo := days[:0]
			for _, d := range days {
				if rec, ok, err := s.store.Day(ctx, d); err != nil || (ok && rec.Planning) {
					todo = append(todo, d)
				}
			}
			var res EnqueueResult
			err := s.planDays(ctx, todo, &res)
			if err != nil && ctx.Err() == nil {
				// Still marked: the next start plans them.
				s.log.Error("planning days that waited for the terminal failed", "days", todo, "err", err)
			}
			if len(res.Days)+len(res.NoData)+len(res.NotListed) > 0 {
				s.log.Info("planned days that waited for the terminal", "days", res.Days, "jobs", res.Jobs, "no_data", res.NoData)
			}
			for _, e := range res.NotListed {
				s.log.Error("a day that waited for the terminal could not be listed; it stays a gap", "day", e)
			}
		}
	}
}
