package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// checkEnqueue refuses (usage error, exit 2), before anything is opened or
// created, a request for days that may not be archived: calendar.CheckDay
// and CheckDays on this command's clock and follow.delay. The coordinator
// asks the same rule again on its own clock; its refusal comes back
// through refusal below. While a coordinator holds the database the check
// is its alone: it knows the stored follow.delay, and nothing is created
// here.
func checkEnqueue(ctx context.Context, o *Options, req coordinator.EnqueueRequest) error {
	st, _, closeFn, err := openStoreForRead(ctx, o)
	switch {
	case errors.Is(err, statusdb.ErrLocked):
		return nil
	case err != nil:
		return err
	}
	defer closeFn()
	cfg, err := resolveConfig(ctx, o, st)
	if err != nil {
		return err
	}
	now, delay := o.now(), cfg.FollowDelay
	if len(req.Dates) > 0 {
		for _, d := range req.Dates {
			if err := calendar.CheckDay(d, now, delay); err != nil {
				return Usage(err)
			}
		}
		return nil
	}
	from := req.From
	if from.IsZero() {
		from = cfg.StartDate
	}
	if _, err := calendar.CheckDays(from, req.To, now, delay); err != nil {
		return Usage(err)
	}
	return nil
}

// refusal turns the coordinator's refusal of a request (*spx.RefusedError:
// its one line, unchanged) into a usage error; other errors are wrapped
// with what was being done.
func refusal(doing string, err error) error {
	if spx.IsRefused(err) {
		return Usage(err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// reportWaiting says that days were recorded but their planning waits for
// the Theta Terminal, and when it resumes.
func reportWaiting(w io.Writer, days []spx.Date, st *spx.TerminalStatus) {
	if len(days) == 0 {
		return
	}
	what := "the Theta Terminal"
	if st != nil {
		what += " (" + st.State
		if !st.Since.IsZero() {
			what += " since " + shortTime(st.Since)
		}
		if st.LastError != "" {
			what += ": " + truncate(st.LastError, 160)
		}
		what += ")"
	}
	fmt.Fprintf(w, "recorded %d %s as queued (%s%s): planning waits for %s and resumes by itself as soon as it answers; spx status shows the terminal and the days\n",
		len(days), plural(len(days), "day", "days"), days[0], rangeTail(days), what)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func rangeTail(days []spx.Date) string {
	if len(days) == 1 {
		return ""
	}
	return " to " + days[len(days)-1].String()
}

// optionsClock is Options.Now as the coordinator's clock.
type optionsClock struct{ now func() time.Time }

func (c optionsClock) Now() time.Time                         { return c.now() }
func (c optionsClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
