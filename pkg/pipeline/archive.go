package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/s3store"
	"github.com/spx-archive/spx/pkg/spx"
)

// OpenArchive returns the archive processing.output_dir names: a local
// directory, or for s3://bucket/prefix a bucket of an S3-compatible store
// (uploads spooled in processing.temp_dir). It contacts nothing: see
// CheckArchive.
func OpenArchive(cfg config.Config, log *slog.Logger) (spx.ArchiveStore, error) {
	bucket, prefix, ok := cfg.S3Archive()
	if !ok {
		return archive.NewDir(cfg.OutputDir), nil
	}
	partSize, err := testPartSize()
	if err != nil {
		return nil, err
	}
	st, err := s3store.Open(s3store.Config{
		Bucket: bucket, Prefix: prefix, Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, PathStyle: cfg.S3PathStyle,
		AccessKeyID: cfg.S3AccessKeyID, SecretAccessKey: cfg.S3SecretAccessKey, SessionToken: cfg.S3SessionToken,
		TempDir: cfg.TempDir, PartSize: partSize, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the archive %s: %w", cfg.OutputDir, err)
	}
	return st, nil
}

// CheckArchive makes sure a remote archive can be used before work is
// taken: credentials, the bucket, and with write a probe write. A local
// directory is not checked here (its writers create it; spx config
// validate checks it).
func CheckArchive(ctx context.Context, st spx.ArchiveStore, write bool) error {
	c, ok := st.(interface {
		Check(ctx context.Context, write bool) error
	})
	if !ok {
		return nil
	}
	return c.Check(ctx, write)
}

// startArchive opens the archive for the roles that write to it and checks
// a remote one. Refused credentials or a missing bucket fail the start (the
// configuration is wrong: nothing would ever be written); an endpoint that
// does not answer only warns, since writes are retried until it does.
func startArchive(ctx context.Context, o Options, log *slog.Logger) (spx.ArchiveStore, error) {
	if o.Archive != nil {
		return o.Archive, nil
	}
	st, err := OpenArchive(o.Config, log)
	if err != nil {
		return nil, err
	}
	if err := CheckArchive(ctx, st, true); err != nil {
		if spx.ClassOf(err) != spx.ClassTransient || ctx.Err() != nil {
			return nil, fmt.Errorf("the archive %s cannot be used: %w", o.Config.OutputDir, err)
		}
		log.Warn("the archive does not answer yet; writes are retried until it does", "archive", o.Config.OutputDir, "err", err)
	}
	if d, ok := st.(interface{ Describe() []any }); ok {
		log.Info("archive on object storage", d.Describe()...)
	}
	return st, nil
}

// janitorEvery is how often a writer process sweeps a remote archive for
// abandoned uploads and its spool for dead processes' files.
const janitorEvery = time.Hour

// janitor returns the remote archive's cleanup loop, or nil.
func janitor(st spx.ArchiveStore) func(context.Context) error {
	j, ok := st.(interface {
		RunJanitor(ctx context.Context, every time.Duration) error
	})
	if !ok {
		return nil
	}
	return func(ctx context.Context) error { return j.RunJanitor(ctx, janitorEvery) }
}

// testPartSize is SPX_TEST_S3_PART_SIZE, else the default. The fault
// suite sets it (in bytes, down to 64 KiB) for a writer it kills in the
// middle of a multipart upload of a small file; S3 would refuse to
// complete uploads with parts that small, so nothing else may set it.
func testPartSize() (int64, error) {
	v := os.Getenv("SPX_TEST_S3_PART_SIZE")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 64<<10 {
		return 0, fmt.Errorf("invalid SPX_TEST_S3_PART_SIZE=%q: a test knob, give a number of bytes (at least 65536), or unset it", v)
	}
	return n, nil
}
