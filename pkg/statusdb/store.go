package statusdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/spx-archive/spx/pkg/spx"
)

var _ spx.StatusStore = (*Store)(nil)

// Bucket names. Keys:
//
//	meta          "schema_version" → decimal integer
//	days          YYYYMMDD → JSON spx.DayRecord
//	jobs          JobKey string → JSON spx.JobRecord
//	jobs_by_date  YYYYMMDD "|" JobKey string → empty (index for JobsForDate)
//	config        config key → value
//	errors        8-byte big-endian unix nanos + 8-byte big-endian sequence → JSON spx.ErrorEntry
var (
	bucketMeta       = []byte("meta")
	bucketDays       = []byte("days")
	bucketJobs       = []byte("jobs")
	bucketJobsByDate = []byte("jobs_by_date")
	bucketConfig     = []byte("config")
	bucketErrors     = []byte("errors")

	keySchemaVersion = []byte("schema_version")
)

// knownBuckets are the buckets any schema version of spx has created; a file
// holding other top-level buckets and no meta bucket belongs to someone else.
var knownBuckets = [][]byte{bucketMeta, bucketDays, bucketJobs, bucketJobsByDate, bucketConfig, bucketErrors}

// migrations[i] takes a file from schema version i to i+1. They run in
// order, all in one write transaction, when a file older than SchemaVersion
// is opened for writing. Append to this list; never edit an entry.
var migrations = []func(tx *bolt.Tx) error{
	// 0 → 1: the initial layout.
	func(tx *bolt.Tx) error {
		for _, b := range knownBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("creating bucket %s: %w", b, err)
			}
		}
		return nil
	},
}

// SchemaVersion is the layout version this code writes.
var SchemaVersion = len(migrations)

// Options tunes Open.
type Options struct {
	// Timeout is how long Open waits for another process's lock on the
	// file before failing with ErrLocked. Default 1s.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock and refuses writes; the
	// file must exist and is never migrated.
	ReadOnly bool
	// CreateDir creates the file's parent directory (0700) when missing.
	// The CLI sets it only for the default location (./data); an explicit
	// path in a missing directory is an error, since it is usually a typo.
	CreateDir bool
	// Logger receives migration notices; nil discards them.
	Logger *slog.Logger
}

// Store is the bbolt status store.
type Store struct {
	db   *bolt.DB
	path string
	log  *slog.Logger
}

// Open opens (creating, unless read-only) the status database at path. The
// errors name the file and say what to do; test them with errors.Is against
// ErrLocked, ErrCorrupt, ErrNewerSchema, ErrPath and fs.ErrNotExist (a
// read-only open of a file that does not exist).
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, newError(ErrPath, "no path given: set database.path or --db")
	}
	if err := checkDir(path, opts); err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err == nil && info.Size() == 0 && opts.ReadOnly {
		// A file that was created but never initialised holds nothing: read
		// it as a database that does not exist yet rather than as corrupt.
		return nil, fmt.Errorf("opening status database %s: empty file: %w", path, fs.ErrNotExist)
	}
	if err == nil && info.IsDir() {
		return nil, newError(ErrPath, "%s is a directory, not a database file: choose a file path such as %s", path, filepath.Join(path, "spx.db"))
	}

	if err == nil && info.Size() > 0 && !opts.ReadOnly {
		// A read-write open reads the freelist at once; in a truncated file
		// that is past the end, a SIGBUS no recover catches. Check the
		// size through a read-only open first.
		ro := opts
		ro.ReadOnly = true
		db, err := openBolt(path, ro)
		if err != nil {
			return nil, err
		}
		err = (&Store{db: db, path: path}).checkSize()
		_ = db.Close()
		if err != nil {
			return nil, err
		}
	}
	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, log: log}
	if err := s.checkSize(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.migrate(opts.ReadOnly); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the file; bbolt panics on some damaged files (a freelist
// page that is not one), which is reported as ErrCorrupt instead of
// crashing. After such a panic the process may still hold the file's lock
// until it exits.
func openBolt(path string, opts Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, corruptError(path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		return nil, classifyOpenError(path, opts.ReadOnly, err)
	}
	return db, nil
}

func corruptError(path string, cause any) error {
	return newError(ErrCorrupt, "%s is damaged (%v): move it aside and restore a backup, or start a new database and rebuild with spx process-gaps", path, cause)
}

// checkSize refuses a truncated file: bbolt opens it as long as the pages it
// reads first are present, and would fail (or crash) later.
func (s *Store) checkSize() error {
	info, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("checking status database %s: %w", s.path, err)
	}
	var want int64
	if err := s.guard(false, func(tx *bolt.Tx) error { want = tx.Size(); return nil }); err != nil {
		return err
	}
	if info.Size() < want {
		return corruptError(s.path, fmt.Sprintf("truncated: %d bytes, its pages need %d", info.Size(), want))
	}
	return nil
}

// guard runs fn in a transaction like View/Update, but a panic of bbolt on a
// damaged page rolls the transaction back (nothing is written) and becomes
// ErrCorrupt.
func (s *Store) guard(writable bool, fn func(*bolt.Tx) error) (err error) {
	tx, err := s.db.Begin(writable)
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			err = corruptError(s.path, r)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if !writable {
		return tx.Rollback()
	}
	return tx.Commit()
}

func checkDir(path string, opts Options) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && opts.CreateDir && !opts.ReadOnly:
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return newError(ErrPath, "creating directory %s for %s: %v", dir, path, err)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if opts.ReadOnly {
			return fmt.Errorf("opening status database %s: %w", path, fs.ErrNotExist)
		}
		return newError(ErrPath, "status database %s: directory %s does not exist: create it or choose another database.path (--db)", path, dir)
	case errors.Is(err, syscall.ENOTDIR):
		return newError(ErrPath, "status database %s: %s is not a directory: choose another database.path (--db)", path, dir)
	case err != nil:
		return newError(ErrPath, "status database %s: checking directory %s: %v", path, dir, err)
	case !info.IsDir():
		return newError(ErrPath, "status database %s: %s is not a directory: choose another database.path (--db)", path, dir)
	}
	return nil
}

func classifyOpenError(path string, readOnly bool, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return newError(ErrLocked, "%s is in use by another spx process (is a coordinator or 'spx run' running?): stop it or use its control API", path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
		errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrInvalidMapping):
		return newError(ErrCorrupt, "%s is not an spx database or is corrupt: %v; move it aside or restore a backup", path, err)
	case errors.Is(err, fs.ErrNotExist) && readOnly:
		return fmt.Errorf("opening status database %s: %w", path, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return newError(ErrPath, "cannot open or create status database %s: %v: fix the directory's permissions or choose another database.path (--db)", path, err)
	}
	// bbolt reports a too-short or unreadable header as a plain read error.
	return newError(ErrCorrupt, "%s is not an spx database or is corrupt: %v; move it aside or restore a backup", path, err)
}

// migrate checks the schema version and brings an older file up to date.
func (s *Store) migrate(readOnly bool) error {
	var version int
	err := s.guard(false, func(tx *bolt.Tx) error {
		v, err := schemaVersion(tx)
		version = v
		return err
	})
	if errors.Is(err, ErrCorrupt) {
		return err // already names the file
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	switch {
	case version > SchemaVersion:
		return newError(ErrNewerSchema, "%s was written by a newer spx (schema version %d; this spx knows up to %d): upgrade spx", s.path, version, SchemaVersion)
	case version == SchemaVersion || readOnly:
		// A read-only open of an older file reads what is there; missing
		// buckets read as empty.
		return nil
	}
	err = s.guard(true, func(tx *bolt.Tx) error {
		for v := version; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrating schema %d to %d: %w", v, v+1, err)
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("upgrading status database %s: %w", s.path, err)
	}
	logf := s.log.Info
	if version == 0 {
		logf = s.log.Debug // a new file, or one from before versioning
	}
	logf("status database schema upgraded", "file", s.path, "from", version, "to", SchemaVersion)
	return nil
}

func schemaVersion(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		var foreign []byte
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if !slices.ContainsFunc(knownBuckets, func(k []byte) bool { return bytes.Equal(k, name) }) {
				foreign = name
			}
			return nil
		})
		if foreign != nil {
			return 0, newError(ErrCorrupt, "a bbolt file of another program (bucket %q): move it aside or choose another database.path", foreign)
		}
		return 0, nil
	}
	raw := meta.Get(keySchemaVersion)
	if raw == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 0 {
		return 0, newError(ErrCorrupt, "schema_version %q is not a number; move it aside or restore a backup", raw)
	}
	return v, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// SchemaVersion returns the schema version recorded in the file.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		v, err = schemaVersion(tx)
		return err
	})
	return v, err
}

// Close releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.guard(false, fn)
}

func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.guard(true, fn)
}

// bucket returns a bucket for writing, failing clearly on a file that was
// opened read-only before its migration.
func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing: reopen the database for writing to upgrade it", name)
	}
	return b, nil
}

func dayKey(d spx.Date) []byte { return []byte(d.Compact()) }

func indexKey(k spx.JobKey) []byte { return []byte(k.Date.Compact() + "|" + k.String()) }

func validKey(k spx.JobKey) error {
	if k.Dataset == "" || k.Root == "" || k.Date.IsZero() || k.Expiration.IsZero() {
		return fmt.Errorf("incomplete job key %q: dataset, root, date and expiration are required", k.String())
	}
	return nil
}

func putJob(tx *bolt.Tx, rec spx.JobRecord) error {
	if err := validKey(rec.Key); err != nil {
		return err
	}
	jobs, err := bucket(tx, bucketJobs)
	if err != nil {
		return err
	}
	idx, err := bucket(tx, bucketJobsByDate)
	if err != nil {
		return err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding job %s: %w", rec.Key, err)
	}
	if err := jobs.Put([]byte(rec.Key.String()), v); err != nil {
		return fmt.Errorf("storing job %s: %w", rec.Key, err)
	}
	return idx.Put(indexKey(rec.Key), nil)
}

func getJob(tx *bolt.Tx, key []byte) (spx.JobRecord, bool, error) {
	var rec spx.JobRecord
	b := tx.Bucket(bucketJobs)
	if b == nil {
		return rec, false, nil
	}
	v := b.Get(key)
	if v == nil {
		return rec, false, nil
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, false, fmt.Errorf("decoding job %s: %w", key, err)
	}
	return rec, true, nil
}

// PutJobs inserts or replaces job records in one transaction.
func (s *Store) PutJobs(ctx context.Context, recs []spx.JobRecord) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		for _, r := range recs {
			if err := putJob(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateJob applies fn to the job's record (a zero record with the key set
// if none exists) and stores the result.
func (s *Store) UpdateJob(ctx context.Context, key spx.JobKey, fn func(*spx.JobRecord) error) (spx.JobRecord, error) {
	if err := validKey(key); err != nil {
		return spx.JobRecord{}, err
	}
	var out spx.JobRecord
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, ok, err := getJob(tx, []byte(key.String()))
		if err != nil {
			return err
		}
		if !ok {
			rec = spx.JobRecord{Key: key}
		}
		if err := fn(&rec); err != nil {
			return err
		}
		rec.Key = key // the key is the record's identity; fn cannot move it
		out = rec
		return putJob(tx, rec)
	})
	if err != nil {
		return spx.JobRecord{}, err
	}
	return out, nil
}

// Job returns one job's record.
func (s *Store) Job(ctx context.Context, key spx.JobKey) (rec spx.JobRecord, ok bool, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		rec, ok, err = getJob(tx, []byte(key.String()))
		return err
	})
	return rec, ok, err
}

// Jobs lists jobs matching f, ordered by key.
func (s *Store) Jobs(ctx context.Context, f spx.JobFilter) ([]spx.JobRecord, error) {
	var out []spx.JobRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		if b == nil {
			return nil
		}
		var prefix []byte
		if f.Dataset != "" {
			prefix = []byte(string(f.Dataset) + ".")
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec spx.JobRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decoding job %s: %w", k, err)
			}
			if !f.From.IsZero() && rec.Key.Date < f.From || !f.To.IsZero() && rec.Key.Date > f.To {
				continue
			}
			if len(f.Outcomes) > 0 && !slices.Contains(f.Outcomes, rec.Outcome) {
				continue
			}
			out = append(out, rec)
			if f.Limit > 0 && len(out) >= f.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// JobsForDate lists every job of one trade date, ordered by key.
func (s *Store) JobsForDate(ctx context.Context, date spx.Date) ([]spx.JobRecord, error) {
	var out []spx.JobRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketJobsByDate)
		if idx == nil {
			return nil
		}
		prefix := []byte(date.Compact() + "|")
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rec, ok, err := getJob(tx, k[len(prefix):])
			if err != nil {
				return err
			}
			if ok {
				out = append(out, rec)
			}
		}
		return nil
	})
	return out, err
}

// AppendError adds an entry to the error log. Entries are keyed by time
// (then a sequence number), so the log reads back in time order even when
// several entries share a timestamp. A zero Time is set to now.
func (s *Store) AppendError(ctx context.Context, e spx.ErrorEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketErrors)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		key := make([]byte, 16)
		binary.BigEndian.PutUint64(key, uint64(e.Time.UnixNano()))
		binary.BigEndian.PutUint64(key[8:], seq)
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding error entry: %w", err)
		}
		return b.Put(key, v)
	})
}

// Errors returns the newest entries first, at most limit (0 = all).
func (s *Store) Errors(ctx context.Context, limit int) ([]spx.ErrorEntry, error) {
	var out []spx.ErrorEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketErrors)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e spx.ErrorEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding error entry: %w", err)
			}
			out = append(out, e)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// Config returns a stored configuration value.
func (s *Store) Config(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketConfig); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				value, ok = string(v), true
			}
		}
		return nil
	})
	return value, ok, err
}

// SetConfig stores a configuration value. The store does not validate keys
// or values: pkg/config does, before calling it.
func (s *Store) SetConfig(ctx context.Context, key, value string) error {
	if key == "" {
		return errors.New("empty config key")
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketConfig)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte(value))
	})
}

// DeleteConfig removes a stored configuration value (no error if unset).
func (s *Store) DeleteConfig(ctx context.Context, key string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketConfig)
		if err != nil {
			return err
		}
		return b.Delete([]byte(key))
	})
}

// AllConfig returns every stored configuration value.
func (s *Store) AllConfig(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConfig)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}
