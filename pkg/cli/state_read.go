package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// readState is where a read-only command's records come from: the status
// database on this machine, or a coordinator's control API.
type readState struct {
	st stateReader
	// database is what `spx status` shows as the database: the local path,
	// or the path the coordinator that answered holds.
	database string
	close    func() error
}

// openStateForRead opens the status records for the read-only commands
// (status, list, gap-analysis, status --calendar, verify):
//   - with nats.url set (--nats, the environment or stored), the
//     coordinator there answers; if it does not, that is the error: a
//     local file is never read instead;
//   - else the local database, or, when a running coordinator holds it,
//     the coordinator on nats.listen;
//   - a database that does not exist is an error, never an empty archive.
func openStateForRead(ctx context.Context, o *Options) (readState, error) {
	return openState(ctx, o, false)
}

// openConfigForRead is openStateForRead for spx config get: a database
// not created yet has nothing stored, which is no error.
func openConfigForRead(ctx context.Context, o *Options) (readState, error) {
	return openState(ctx, o, true)
}

func openState(ctx context.Context, o *Options, missingOK bool) (readState, error) {
	st, path, closeFn, err := openStoreForRead(ctx, o)
	var lockErr error // a running coordinator holds the database
	switch {
	case errors.Is(err, statusdb.ErrLocked):
		lockErr, st, closeFn = err, nil, func() error { return nil }
	case err != nil:
		return readState{}, err
	}
	var stored config.StoredConfig
	if st != nil {
		stored = st
	}
	natsFrom, err := natsURLOrigin(ctx, o, stored)
	if err != nil {
		_ = closeFn()
		return readState{}, err
	}
	if natsFrom != "" || lockErr != nil {
		cfg, err := resolveConfig(ctx, o, stored) // nats.url and its credentials
		_ = closeFn()
		if err != nil {
			return readState{}, err
		}
		return readThroughCoordinator(ctx, o, cfg, natsFrom, lockErr)
	}
	if _, none := st.(emptyState); none && !missingOK {
		_ = closeFn()
		return readState{}, noDatabaseError(ctx, o, path)
	}
	return readState{st: st, database: path, close: closeFn}, nil
}

// natsURLOrigin says where nats.url is set ("--nats", "SPX_NATS_URL",
// "stored"), or "" when it is not: then the cluster it names holds the
// records.
func natsURLOrigin(ctx context.Context, o *Options, stored config.StoredConfig) (string, error) {
	settings, err := config.Explain(ctx, explicitFlags(o), os.Getenv, stored)
	if err != nil {
		return "", configError(err)
	}
	for _, s := range settings {
		if s.Key != "nats.url" || s.Value == "" {
			continue
		}
		switch {
		case s.Source == config.FromFlag:
			return "--nats", nil
		case s.Origin != "":
			return s.Origin, nil
		}
		return string(s.Source), nil
	}
	return "", nil
}

// noDatabaseError says that the status database a read command was
// pointed at does not exist, and what to do.
func noDatabaseError(ctx context.Context, o *Options, path string) error {
	if _, isDefault, _ := dbLocation(ctx, o); !isDefault {
		return fmt.Errorf("no status database at %s: check the path (--db, database.path), or point --nats at a running coordinator", path)
	}
	return fmt.Errorf("no status database at %s: nothing was processed here yet; run spx process-gaps (or spx run) first, or point --db at your archive's database or --nats at its running coordinator", path)
}

// readThroughCoordinator reads the records through the control API of the
// coordinator at nats.url (natsFrom says where it is set), or, without it,
// on nats.listen because the local database is held (lockErr).
func readThroughCoordinator(ctx context.Context, o *Options, cfg config.Config, natsFrom string, lockErr error) (readState, error) {
	url := natsURL(cfg)
	cl, err := dialCoordinator(ctx, cfg, url)
	if err != nil {
		if natsFrom == "" {
			return readState{}, fmt.Errorf("%w; and %w: start one with spx run (or spx coordinator), or set nats.url / --nats", lockErr, err)
		}
		// Never the local file instead: it may be another archive's, or
		// none at all (every day a gap).
		return readState{}, fmt.Errorf("%w (nats.url from %s): start the coordinator there, or fix the address; with nats.url set, read commands ask its coordinator only", err, natsFrom)
	}
	rep, err := cl.client.Status(ctx)
	if err != nil {
		cl.Close()
		if lockErr != nil {
			return readState{}, fmt.Errorf("%w; and asking the coordinator: %w", lockErr, err)
		}
		return readState{}, fmt.Errorf("asking the coordinator at %s: %w", url, err)
	}
	// The coordinator that answered must hold the database this command
	// was pointed at, if it was pointed at one, not another archive's.
	path, isDefault, _ := dbLocation(ctx, o)
	if abs, aerr := filepath.Abs(path); aerr == nil && rep.Database != "" && rep.Database != abs && (lockErr != nil || !isDefault) {
		cl.Close()
		if lockErr != nil {
			return readState{}, fmt.Errorf("%w; the coordinator reachable on NATS serves %s instead: point --nats at the coordinator of %s", lockErr, rep.Database, abs)
		}
		return readState{}, fmt.Errorf("the coordinator at %s serves %s, not database.path %s: drop --db to read what it serves, or point --nats at the coordinator of %s", url, rep.Database, abs, abs)
	}
	database := rep.Database
	if database == "" {
		database = "the coordinator at " + url
	}
	return readState{st: coordinatorState{cl.client}, database: database, close: func() error { cl.Close(); return nil }}, nil
}

// dialCoordinator connects to NATS at url with cfg's credentials and
// checks that a coordinator answers there, within a few seconds. The
// connection does not reconnect: a read command is short.
func dialCoordinator(ctx context.Context, cfg config.Config, url string) (*cluster, error) {
	nc, err := pipeline.ConnectAuth(url, pipeline.NATSAuth(cfg), "spx-cli", nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // the NATS error, without ConnectAuth's advice
		}
		return nil, fmt.Errorf("no coordinator answered at %s: %w", url, err)
	}
	client := coordinator.NewClient(nc)
	if err := client.Ping(ctx, 2*time.Second); err != nil {
		nc.Close()
		if errors.Is(err, coordinator.ErrNoCoordinator) {
			return nil, fmt.Errorf("no coordinator answered at %s: NATS answers there, but no spx coordinator is connected to it", url)
		}
		return nil, fmt.Errorf("no coordinator answered at %s: %w", url, err)
	}
	return &cluster{client: client, nc: nc}, nil
}
