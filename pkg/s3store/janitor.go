package s3store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// StaleUploadAge is how old an incomplete multipart upload under the
// archive's prefix must be before the janitor takes it as abandoned: far
// longer than any one upload takes. (A bucket lifecycle rule
// AbortIncompleteMultipartUpload does the same on the server side.)
const StaleUploadAge = 24 * time.Hour

// Sweep aborts the incomplete multipart uploads under the archive's prefix
// initiated more than olderThan ago, and removes the spool files in
// TempDir of processes that are no longer running (a writer killed while
// it wrote or uploaded). It returns what it cleaned up.
func (s *Store) Sweep(ctx context.Context, olderThan time.Duration) (uploads, spools int) {
	cutoff := time.Now().Add(-olderThan)
	uploads = s.abortUploads(ctx, s.prefix, func(m minio.ObjectMultipartInfo) bool { return m.Initiated.Before(cutoff) })
	return uploads, s.removeDeadSpools()
}

// RunJanitor sweeps at once and then every interval until ctx ends.
func (s *Store) RunJanitor(ctx context.Context, every time.Duration) error {
	for {
		if up, sp := s.Sweep(ctx, StaleUploadAge); up+sp > 0 {
			s.log.Info("cleaned up after interrupted uploads", "aborted_uploads", up, "removed_spool_files", sp)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

func (s *Store) removeDeadSpools() int {
	matches, _ := filepath.Glob(filepath.Join(s.tempDir, spoolPrefix+"*"))
	removed := 0
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), spoolPrefix)
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if os.Remove(m) == nil {
			removed++
		}
	}
	return removed
}
