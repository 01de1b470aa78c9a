package pipeline

import (
	"context"
	"log/slog"
	"strings"

	"github.com/spx-archive/spx/pkg/spx"
)

// outageRecorder returns what the terminal watcher tells of an outage: in
// the coordinator's process, recordOutage into its status store; elsewhere
// nothing (nil), as fetchers have no error log.
func outageRecorder(o Options, log *slog.Logger) func(context.Context, spx.TerminalStatus) {
	if !o.Coordinator || o.Store == nil {
		return nil
	}
	return func(ctx context.Context, st spx.TerminalStatus) { recordOutage(ctx, o.Store, st, log) }
}

// recordOutage writes the start of a terminal outage into the error log:
// no job fails while the terminal is away (planning and fetching wait for
// it), so without this entry `spx status` and the page's recent errors would
// say nothing of it.
func recordOutage(ctx context.Context, store spx.StatusStore, st spx.TerminalStatus, log *slog.Logger) {
	msg := "Theta Terminal " + st.State
	if st.URL != "" && !strings.Contains(st.LastError, st.URL) {
		msg += " at " + st.URL
	}
	if st.LastError != "" {
		msg += ": " + st.LastError
	}
	msg += "; planning and fetching wait for it"
	e := spx.ErrorEntry{Time: st.Since, Type: spx.ErrorTypeTerminal, Message: msg}
	if err := store.AppendError(ctx, e); err != nil {
		log.Warn("recording a terminal outage in the error log failed", "err", err)
	}
}
