package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// globalFlagKeys maps the global flags to the configuration keys they set.
func globalFlagKeys() map[string]string {
	return map[string]string{
		"db":         "database.path",
		"output-dir": "processing.output_dir",
		"terminal":   "thetadata.base_url",
		"nats":       "nats.url",
	}
}

// explicitFlags returns the global flags set on the command line, keyed by
// configuration key, for config.Resolve.
func explicitFlags(o *Options) map[string]string {
	values := map[string]string{"db": o.DB, "output-dir": o.OutputDir, "terminal": o.Terminal, "nats": o.NATS}
	out := map[string]string{}
	for flag, key := range globalFlagKeys() {
		if o.Flags[flag] {
			out[key] = values[flag]
		}
	}
	return out
}

// stateReader is what the read-only commands need from the status store.
type stateReader interface {
	Days(ctx context.Context, from, to spx.Date) ([]spx.DayRecord, error)
	Jobs(ctx context.Context, f spx.JobFilter) ([]spx.JobRecord, error)
	Errors(ctx context.Context, limit int) ([]spx.ErrorEntry, error)
	AllConfig(ctx context.Context) (map[string]string, error)
}

// emptyState stands in for a status database that does not exist yet:
// nothing has been processed and nothing is stored.
type emptyState struct{}

func (emptyState) Days(context.Context, spx.Date, spx.Date) ([]spx.DayRecord, error) {
	return nil, nil
}
func (emptyState) Jobs(context.Context, spx.JobFilter) ([]spx.JobRecord, error) { return nil, nil }
func (emptyState) Errors(context.Context, int) ([]spx.ErrorEntry, error)        { return nil, nil }
func (emptyState) AllConfig(context.Context) (map[string]string, error) {
	return map[string]string{}, nil
}

// dbLocation resolves database.path (flag > environment > default; it is
// never stored) and reports whether it is the default location.
func dbLocation(ctx context.Context, o *Options) (path string, isDefault bool, err error) {
	settings, err := config.Explain(ctx, explicitFlags(o), os.Getenv, nil)
	if err != nil {
		return "", false, Usage(err)
	}
	for _, s := range settings {
		if s.Key != "database.path" {
			continue
		}
		if s.Err != nil {
			return "", false, Usage(&config.ValueError{Key: s.Key, Value: s.Value, Source: s.Source, Origin: s.Origin, Err: s.Err})
		}
		return s.Value, s.Source == config.FromDefault, nil
	}
	return config.Default().DBPath, true, nil
}

// openStoreForWrite opens the status database for changes, creating it
// (and, for the default location only, its ./data directory).
func openStoreForWrite(ctx context.Context, o *Options) (*statusdb.Store, error) {
	path, isDefault, err := dbLocation(ctx, o)
	if err != nil {
		return nil, err
	}
	s, err := statusdb.Open(path, statusdb.Options{CreateDir: isDefault, Logger: o.Logger()})
	if err != nil {
		return nil, storeError(err)
	}
	return s, nil
}

// openStoreForRead opens the status database read-only (a shared lock, no
// write access needed). A database that does not exist yet reads as empty;
// close is never nil.
func openStoreForRead(ctx context.Context, o *Options) (st stateReader, path string, closeFn func() error, err error) {
	path, isDefault, err := dbLocation(ctx, o)
	if err != nil {
		return nil, "", nil, err
	}
	s, err := statusdb.Open(path, statusdb.Options{ReadOnly: true, Logger: o.Logger()})
	switch {
	case err == nil:
		return s, path, s.Close, nil
	case errors.Is(err, fs.ErrNotExist):
		// Nothing processed yet, unless the path itself is wrong.
		if dir := filepath.Dir(path); !isDefault {
			if info, serr := os.Stat(dir); serr != nil || !info.IsDir() {
				return nil, "", nil, Usagef("database.path %s: directory %s does not exist or is not a directory: create it or choose another --db", path, dir)
			}
		}
		return emptyState{}, path, func() error { return nil }, nil
	}
	return nil, "", nil, storeError(err)
}

// storeError maps a statusdb.Open error to the CLI's exit codes: a bad path
// is the user's input (2); a locked, corrupt or newer file is a failure (1).
func storeError(err error) error {
	if errors.Is(err, statusdb.ErrPath) {
		return Usage(err)
	}
	return err
}

// resolveConfig resolves the configuration from the global flags, the
// environment and the stored values. Invalid values are usage errors.
func resolveConfig(ctx context.Context, o *Options, stored config.StoredConfig) (config.Config, error) {
	c, err := config.Resolve(ctx, explicitFlags(o), os.Getenv, stored)
	if err != nil {
		return config.Config{}, configError(err)
	}
	return c, nil
}

// configError marks invalid configuration as a usage error (exit 2).
func configError(err error) error {
	var ve *config.ValueError
	var uk *config.UnknownKeyError
	if errors.As(err, &ve) || errors.As(err, &uk) {
		return Usage(err)
	}
	return fmt.Errorf("resolving configuration: %w", err)
}
