package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckDirs checks the directories the configuration names, without
// creating anything: the output and temporary directories must be
// directories (or creatable: their nearest existing ancestor is a writable
// directory) and writable; the database file's directory must exist and be
// writable. An s3:// output directory is not local: reaching its bucket is
// checked by whoever opens it. It returns every problem, each saying what
// to do.
func CheckDirs(c Config) []error {
	var errs []error
	for _, d := range []struct{ key, path string }{
		{"processing.output_dir", c.OutputDir},
		{"processing.temp_dir", c.TempDir},
	} {
		if _, _, s3 := c.S3Archive(); s3 && d.key == "processing.output_dir" {
			continue
		}
		if err := CheckDir(d.key, d.path); err != nil {
			errs = append(errs, err)
		}
	}
	if err := CheckDBDir(c.DBPath); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// CheckDir checks that path (the value of key) is a writable directory or
// can be created as one.
func CheckDir(key, path string) error {
	if path == "" {
		return fmt.Errorf("%s is empty: give a directory path", key)
	}
	info, err := os.Stat(path)
	switch {
	case err == nil && !info.IsDir():
		return fmt.Errorf("%s %s is a file, not a directory: choose another path", key, path)
	case err == nil:
		if err := probeWritable(path); err != nil {
			return fmt.Errorf("%s %s is not writable: %v: fix its permissions or choose another path", key, path, err)
		}
		return nil
	case !missing(err):
		return fmt.Errorf("%s %s: %v: choose another path", key, path, err)
	}
	// Missing: it will be created, so its nearest existing ancestor must be
	// a writable directory.
	anc := filepath.Dir(filepath.Clean(path))
	for {
		info, err := os.Stat(anc)
		if err == nil {
			if !info.IsDir() {
				return fmt.Errorf("%s %s cannot be created: %s is a file, not a directory: choose another path", key, path, anc)
			}
			if err := probeWritable(anc); err != nil {
				return fmt.Errorf("%s %s cannot be created: %s is not writable: %v", key, path, anc, err)
			}
			return nil
		}
		if !missing(err) {
			return fmt.Errorf("%s %s cannot be created: %v: choose another path", key, path, err)
		}
		next := filepath.Dir(anc)
		if next == anc {
			return fmt.Errorf("%s %s cannot be created: no existing parent directory", key, path)
		}
		anc = next
	}
}

// CheckDBDir checks that the database file's directory exists and is
// writable (spx creates only the default ./data itself), and that the path
// is not a directory.
func CheckDBDir(path string) error {
	if path == "" {
		return errors.New("database.path is empty: give a file path such as ./data/spx.db")
	}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return fmt.Errorf("database.path %s is a directory: give a file path such as %s", path, filepath.Join(path, "spx.db"))
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && path == Default().DBPath:
		return CheckDir("database.path directory", dir)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("database.path %s: directory %s does not exist: create it or choose another --db", path, dir)
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("database.path %s: %s is not a directory: choose another --db", path, dir)
	case err != nil:
		return fmt.Errorf("database.path %s: %v: choose another --db", path, err)
	case !info.IsDir():
		return fmt.Errorf("database.path %s: %s is not a directory: choose another --db", path, dir)
	}
	if err := probeWritable(dir); err != nil {
		return fmt.Errorf("database.path %s: directory %s is not writable: %v: fix its permissions or choose another --db", path, dir, err)
	}
	return nil
}

// missing reports whether a Stat error means the path does not exist
// (ENOTDIR: some ancestor is a file, found by walking up).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// probeWritable creates and removes a temporary file in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".spx-write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}
