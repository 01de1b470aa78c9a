package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spx-archive/spx/pkg/spx"
)

// Dir is the archive in a local directory (processing.output_dir). Files
// are written as <name>.tmp beside their final name, fsynced, renamed into
// place and the directory fsynced; directories are 0700, files 0600.
type Dir struct {
	Root   string
	noSync bool // tests: skip fsync (the protocol is the same otherwise)
}

// NewDir returns the archive rooted at the directory root.
func NewDir(root string) *Dir { return &Dir{Root: root} }

var _ spx.ArchiveStore = (*Dir)(nil)

func (d *Dir) path(name string) string { return filepath.Join(d.Root, filepath.FromSlash(name)) }

// Location implements spx.ArchiveStore.
func (d *Dir) Location(name string) string { return d.path(name) }

// Remote implements spx.ArchiveStore: a local file is trusted once fsynced.
func (d *Dir) Remote() bool { return false }

// Create implements spx.ArchiveStore: it opens <name>.tmp.
func (d *Dir) Create(_ context.Context, name string) (spx.PendingFile, error) {
	path := d.path(name)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating output directory: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", tmp, err)
	}
	return &dirPending{f: f, path: path, tmp: tmp, dir: dir, noSync: d.noSync}, nil
}

type dirPending struct {
	f              *os.File
	path, tmp, dir string
	noSync         bool
	done           bool
}

func (p *dirPending) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *dirPending) Rewind() error {
	if err := p.f.Truncate(0); err != nil {
		return err
	}
	_, err := p.f.Seek(0, io.SeekStart)
	return err
}

func (p *dirPending) Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !p.noSync {
		if err := p.f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", p.tmp, err)
		}
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", p.tmp, err)
	}
	spx.PauseForTest("writer.before_rename")
	if err := os.Rename(p.tmp, p.path); err != nil {
		return fmt.Errorf("moving %s into place: %w", p.tmp, err)
	}
	p.done = true
	if !p.noSync {
		return syncDir(p.dir)
	}
	return nil
}

func (p *dirPending) Abort() {
	if p.done {
		return
	}
	p.done = true
	p.f.Close()
	os.Remove(p.tmp)
}

// Put implements spx.ArchiveStore: tmp, fsync, rename, fsync the directory.
func (d *Dir) Put(_ context.Context, name string, data []byte) error {
	path := d.path(name)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating directory %s: %w", dir, err)
	}
	tmp := path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("moving %s into place: %w", tmp, err)
	}
	return syncDir(dir)
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// Open implements spx.ArchiveStore.
func (d *Dir) Open(_ context.Context, name string) (spx.ArchiveFile, error) {
	f, err := os.Open(d.path(name))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &localObject{File: f, size: st.Size()}, nil
}

type localObject struct {
	*os.File
	size int64
}

func (o *localObject) Size() int64 { return o.size }

// Remove implements spx.ArchiveStore.
func (d *Dir) Remove(_ context.Context, name string) error {
	if err := os.Remove(d.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Dirs implements spx.ArchiveStore.
func (d *Dir) Dirs(_ context.Context, dir string) ([]string, error) {
	ents, err := os.ReadDir(d.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// ReadAll returns the whole file name of st (a manifest).
func ReadAll(ctx context.Context, st spx.ArchiveStore, name string) ([]byte, error) {
	obj, err := st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

// HashFile returns the hex SHA-256 and size of the file name of st.
func HashFile(ctx context.Context, st spx.ArchiveStore, name string) (string, int64, error) {
	obj, err := st.Open(ctx, name)
	if err != nil {
		return "", 0, fmt.Errorf("opening %s to hash it: %w", st.Location(name), err)
	}
	defer obj.Close()
	return hashReader(obj, st.Location(name))
}
