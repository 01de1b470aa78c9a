package spx

import (
	"context"
	"io"
)

// ArchiveStore is where the archive's files live: a local directory
// (archive.Dir, the default) or a bucket of an S3-compatible object store
// (s3store.Store). Names are slash-separated and relative to the archive's
// root, as JobKey.RelPath and DayDir give them.
type ArchiveStore interface {
	// Create starts writing the file name. Nothing is visible under name,
	// and what was there stays, until Commit returns; a write that is
	// aborted, fails, or dies with its process leaves nothing visible.
	Create(ctx context.Context, name string) (PendingFile, error)
	// Put writes a small file whole, atomically (a manifest).
	Put(ctx context.Context, name string, data []byte) error
	// Open opens name to read it. A missing file is an error that
	// matches fs.ErrNotExist.
	Open(ctx context.Context, name string) (ArchiveFile, error)
	// Remove deletes name; a file that is not there is not an error.
	Remove(ctx context.Context, name string) error
	// Dirs returns the base names of the directories directly inside dir
	// (none if dir does not exist).
	Dirs(ctx context.Context, dir string) ([]string, error)
	// Location is name as a person finds it: a path or an s3:// URL.
	Location(name string) string
	// Remote reports whether committed bytes crossed a network, so that a
	// written file is read back before it is called written.
	Remote() bool
}

// PendingFile is a file being written: its bytes are not visible under its
// name until Commit.
type PendingFile interface {
	io.Writer
	// Rewind discards everything written, to start again from nothing
	// (the converter restarts when its input turns out not to be sorted).
	Rewind() error
	// Commit makes the bytes written visible under the name, whole.
	Commit(ctx context.Context) error
	// Abort discards the write; after Commit it does nothing.
	Abort()
}

// ArchiveFile is an archive file opened for reading, sequentially or at
// offsets (a Parquet footer is read from the end).
type ArchiveFile interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	Size() int64
}
