package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
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
	return PutManifest(context.Background(), NewDir(dayDir), ".", m)
}

// PutManifest writes dayDir/_manifest.json into st (whole, atomically)
// with files sorted by name and indented JSON, and returns the SHA-256 of
// the bytes written (the day's checksum). A zero SchemaVersion is filled
// in.
func PutManifest(ctx context.Context, st spx.ArchiveStore, dayDir string, m Manifest) (string, error) {
	data, err := encodeManifest(m)
	if err != nil {
		return "", err
	}
	if err := st.Put(ctx, path.Join(dayDir, ManifestName), data); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func encodeManifest(m Manifest) ([]byte, error) {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = SchemaVersion
	}
	m.Files = slices.Clone(m.Files)
	for _, f := range m.Files {
		if f.File == "" || strings.ContainsAny(f.File, `/\`) {
			return nil, fmt.Errorf("writing manifest: file name %q must be a base name", f.File)
		}
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.File, b.File) })
	if m.Files == nil {
		m.Files = []ManifestFile{}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return append(data, '\n'), nil
}

// ReadManifest reads dayDir/_manifest.json.
func ReadManifest(dayDir string) (Manifest, error) {
	return GetManifest(context.Background(), NewDir(dayDir), ".")
}

// GetManifest reads dayDir/_manifest.json from st. A missing manifest is
// an error that matches fs.ErrNotExist.
func GetManifest(ctx context.Context, st spx.ArchiveStore, dayDir string) (Manifest, error) {
	name := path.Join(dayDir, ManifestName)
	data, err := ReadAll(ctx, st, name)
	if err != nil {
		return Manifest{}, fmt.Errorf("reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("decoding manifest %s (delete it and re-run the day to rebuild it): %w", st.Location(name), err)
	}
	if m.SchemaVersion > SchemaVersion {
		return Manifest{}, fmt.Errorf("manifest %s has schema version %d, newer than this spx (%d): upgrade spx", st.Location(name), m.SchemaVersion, SchemaVersion)
	}
	return m, nil
}
