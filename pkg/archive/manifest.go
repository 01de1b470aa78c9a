package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// ManifestName is the file name of a day directory's manifest.
const ManifestName = "_manifest.json"

// Manifest lists the Parquet files of one (dataset, root, trade date)
// directory.
type Manifest struct {
	SchemaVersion int            `json:"schema_version"`
	Dataset       spx.Dataset    `json:"dataset"`
	Root          string         `json:"root"`
	Date          spx.Date       `json:"date"`
	Files         []ManifestFile `json:"files"`
}

// ManifestFile is one Parquet file of a day.
type ManifestFile struct {
	File       string    `json:"file"` // base name, e.g. exp=2024-01-05.parquet
	Expiration spx.Date  `json:"expiration"`
	Rows       int64     `json:"rows"`
	Bytes      int64     `json:"bytes"`
	SHA256     string    `json:"sha256"`
	Source     string    `json:"source,omitempty"` // request URL
	FetchedAt  time.Time `json:"fetched_at,omitzero"`
}

// WriteManifest writes dayDir/_manifest.json atomically (tmp, fsync,
// rename, fsync dir) with files sorted by name and indented JSON, and
// returns the SHA-256 of the bytes written (the day's checksum). A zero
// SchemaVersion is filled in.
func WriteManifest(dayDir string, m Manifest) (string, error) {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = SchemaVersion
	}
	m.Files = slices.Clone(m.Files)
	for _, f := range m.Files {
		if f.File == "" || strings.ContainsAny(f.File, `/\`) {
			return "", fmt.Errorf("writing manifest: file name %q must be a base name", f.File)
		}
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.File, b.File) })
	if m.Files == nil {
		m.Files = []ManifestFile{}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding manifest: %w", err)
	}
	data = append(data, '\n')
	if err := os.MkdirAll(dayDir, 0o700); err != nil {
		return "", fmt.Errorf("creating day directory: %w", err)
	}
	path := filepath.Join(dayDir, ManifestName)
	tmp := path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("moving manifest into place: %w", err)
	}
	if err := syncDir(dayDir); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
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

// ReadManifest reads dayDir/_manifest.json.
func ReadManifest(dayDir string) (Manifest, error) {
	path := filepath.Join(dayDir, ManifestName)
	data, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("decoding manifest %s (delete it and re-run the day to rebuild it): %w", path, err)
	}
	if m.SchemaVersion > SchemaVersion {
		return Manifest{}, fmt.Errorf("manifest %s has schema version %d, newer than this spx (%d): upgrade spx", path, m.SchemaVersion, SchemaVersion)
	}
	return m, nil
}
