package s3store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/spx-archive/spx/pkg/spx"
)

// spoolPrefix starts the names of spool files,
// spx-upload-<pid>-<random><ext>, so the janitor can tell whose they are.
const spoolPrefix = "spx-upload-"

// partUploads is how many parts of one file are sent at once.
const partUploads = 4

// Create implements spx.ArchiveStore: the bytes go to a spool file in
// TempDir; Commit uploads it.
func (s *Store) Create(_ context.Context, name string) (spx.PendingFile, error) {
	if err := os.MkdirAll(s.tempDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating processing.temp_dir %s for the upload spool: %w", s.tempDir, err)
	}
	f, err := os.CreateTemp(s.tempDir, fmt.Sprintf("%s%d-*%s", spoolPrefix, os.Getpid(), path.Ext(name)))
	if err != nil {
		return nil, fmt.Errorf("creating an upload spool file in processing.temp_dir %s: %w", s.tempDir, err)
	}
	return &upload{s: s, name: name, f: f}, nil
}

type upload struct {
	s    *Store
	name string
	f    *os.File // nil once discarded
}

func (u *upload) Write(b []byte) (int, error) {
	n, err := u.f.Write(b)
	if err != nil {
		err = fmt.Errorf("spooling %s in processing.temp_dir: %w", u.s.Location(u.name), err)
	}
	return n, err
}

func (u *upload) Rewind() error {
	if err := u.f.Truncate(0); err != nil {
		return err
	}
	_, err := u.f.Seek(0, io.SeekStart)
	return err
}

// Commit uploads the spool file: one PUT up to a part's size, else a
// multipart upload completed once every part is in. Either way S3 shows
// the object only whole, and a failed upload is aborted.
func (u *upload) Commit(ctx context.Context) error {
	defer u.discard()
	st, err := u.f.Stat()
	if err != nil {
		return fmt.Errorf("checking the upload spool of %s: %w", u.s.Location(u.name), err)
	}
	key, size := u.s.key(u.name), st.Size()
	var keep string
	if size <= u.s.partSize {
		err = u.s.putSingle(ctx, key, u.f, size)
	} else {
		keep, err = u.s.putMultipart(ctx, key, u.f, size)
	}
	if err != nil {
		return err
	}
	// Uploads of this file a writer left behind (killed mid-upload, its
	// job then redelivered here) are of no use now.
	u.s.abortUploads(ctx, key, func(m minio.ObjectMultipartInfo) bool { return m.Key == key && m.UploadID != keep })
	return nil
}

func (u *upload) Abort() { u.discard() }

func (u *upload) discard() {
	if u.f != nil {
		u.f.Close()
		os.Remove(u.f.Name())
		u.f = nil
	}
}

// transferTimeout bounds sending n bytes: two minutes plus a second per MiB.
func transferTimeout(n int64) time.Duration { return opTimeout + time.Duration(n>>20)*time.Second }

func (s *Store) putSingle(ctx context.Context, key string, f *os.File, size int64) error {
	ctx, cancel := context.WithTimeout(ctx, transferTimeout(size))
	defer cancel()
	body := &pauseHalfway{r: io.NewSectionReader(f, 0, size), half: size / 2}
	_, err := s.core.PutObject(ctx, s.bucket, key, body, size, "", "", minio.PutObjectOptions{ContentType: contentType(key)})
	return s.wrap("uploading", "s3://"+s.bucket+"/"+key, err)
}

// putMultipart sends f in parts, partUploads at a time, each streamed from
// its section of the file, and completes the upload; on failure it aborts
// it. It returns the upload's id.
func (s *Store) putMultipart(ctx context.Context, key string, f *os.File, size int64) (string, error) {
	loc := "s3://" + s.bucket + "/" + key
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	id, err := s.core.NewMultipartUpload(octx, s.bucket, key, minio.PutObjectOptions{ContentType: contentType(key)})
	cancel()
	if err != nil {
		return "", s.wrap("starting the upload of", loc, err)
	}
	n := int((size + s.partSize - 1) / s.partSize)
	parts := make([]minio.CompletePart, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(partUploads)
	for i := range n {
		off := int64(i) * s.partSize
		length := min(s.partSize, size-off)
		g.Go(func() error {
			pctx, cancel := context.WithTimeout(gctx, transferTimeout(length))
			defer cancel()
			p, err := s.core.PutObjectPart(pctx, s.bucket, key, id, i+1, io.NewSectionReader(f, off, length), length, minio.PutObjectPartOptions{})
			if err != nil {
				return s.wrap(fmt.Sprintf("uploading part %d of %d of", i+1, n), loc, err)
			}
			parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: p.ETag}
			if i == 0 {
				// Fault suite: a part is stored, the upload is not complete.
				spx.PauseForTest("writer.mid_upload")
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		s.abort(ctx, key, id)
		return "", err
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := s.core.CompleteMultipartUpload(cctx, s.bucket, key, id, parts, minio.PutObjectOptions{ContentType: contentType(key)}); err != nil {
		s.abort(ctx, key, id)
		return "", s.wrap("completing the upload of", loc, err)
	}
	return id, nil
}

// abort aborts one multipart upload, even when ctx has ended; a failure is
// only logged (the janitor retries later).
func (s *Store) abort(ctx context.Context, key, id string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if err := s.core.AbortMultipartUpload(actx, s.bucket, key, id); err != nil {
		s.log.Warn("aborting a failed upload failed; the janitor removes it later", "key", key, "err", s.wrap("aborting", key, err))
	}
}

// abortUploads aborts the incomplete uploads under prefix that match;
// failures are logged, not returned. It returns how many it aborted.
func (s *Store) abortUploads(ctx context.Context, prefix string, match func(minio.ObjectMultipartInfo) bool) int {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	aborted := 0
	for m := range s.core.ListIncompleteUploads(lctx, s.bucket, prefix, true) {
		if m.Err != nil {
			s.log.Warn("listing incomplete uploads failed", "prefix", prefix, "err", s.wrap("listing uploads under", prefix, m.Err))
			break
		}
		if !match(m) {
			continue
		}
		if err := s.core.AbortMultipartUpload(lctx, s.bucket, m.Key, m.UploadID); err != nil {
			s.log.Warn("aborting a stale upload failed", "key", m.Key, "err", s.wrap("aborting", m.Key, err))
			continue
		}
		aborted++
		s.log.Info("aborted an abandoned upload", "key", m.Key, "initiated", m.Initiated)
	}
	return aborted
}

// pauseHalfway passes a single PUT's body through and offers the fault
// suite's writer.mid_upload point once half of it is sent. Seek keeps the
// library's retries working.
type pauseHalfway struct {
	r      *io.SectionReader
	half   int64
	read   int64
	paused bool
}

func (p *pauseHalfway) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	if !p.paused && p.read >= p.half && p.half > 0 {
		p.paused = true
		spx.PauseForTest("writer.mid_upload")
	}
	return n, err
}

func (p *pauseHalfway) Seek(off int64, whence int) (int64, error) {
	n, err := p.r.Seek(off, whence)
	if err == nil {
		p.read = n
	}
	return n, err
}
