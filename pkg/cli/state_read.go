package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spx-archive/spx/pkg/statusdb"
)

// openStateForRead is openStoreForRead for the read-only commands (list,
// gap-analysis, status --calendar, config get, verify): when a running
// coordinator holds the database, the records are read through its control
// API instead of failing on the lock.
func openStateForRead(ctx context.Context, o *Options) (stateReader, func() error, error) {
	st, _, closeFn, err := openStoreForRead(ctx, o)
	if !errors.Is(err, statusdb.ErrLocked) {
		return st, closeFn, err
	}
	cl, cerr := connectCluster(ctx, o, quietLogger(o, o.Stderr), false)
	if cerr != nil {
		return nil, nil, fmt.Errorf("%w; and %w", err, cerr)
	}
	// The coordinator that answered must be the one holding this database,
	// not one of another archive on the same NATS address.
	rep, serr := cl.client.Status(ctx)
	if serr != nil {
		cl.Close()
		return nil, nil, fmt.Errorf("%w; and asking the coordinator: %w", err, serr)
	}
	path, _, _ := dbLocation(ctx, o)
	if abs, aerr := filepath.Abs(path); aerr == nil && rep.Database != "" && rep.Database != abs {
		cl.Close()
		return nil, nil, fmt.Errorf("%w; the coordinator reachable on NATS serves %s instead: point --nats at the coordinator of %s", err, rep.Database, abs)
	}
	return coordinatorState{cl.client}, func() error { cl.Close(); return nil }, nil
}
