package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

func TestVerifyFile(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 10, 391, 11)
	path, fi := convertFile(t, ndjson(rows), Options{})
	ctx := context.Background()
	if err := VerifyFile(ctx, path, fi.Rows, fi.SHA256); err != nil {
		t.Fatalf("good file: %v", err)
	}
	orig, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
		rows   int64
		sha    string
	}{
		{"wrong row count", nil, fi.Rows + 1, fi.SHA256},
		{"wrong row count, no sha", nil, fi.Rows - 1, ""},
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, fi.Rows, fi.SHA256},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, fi.Rows, ""},
		{"truncated to the footer", func(b []byte) []byte { return append(b[:4:4], b[len(b)/2:]...) }, fi.Rows, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f.parquet")
			data := append([]byte(nil), orig...)
			if tc.mutate != nil {
				data = tc.mutate(data)
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			err := VerifyFile(ctx, p, tc.rows, tc.sha)
			if !errors.Is(err, ErrCorrupt) || spx.ClassOf(err) != spx.ClassPermanent {
				t.Fatalf("error %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestManifestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), spx.DayDir(spx.Greeks, "SPXW", spx.NewDate(2024, 3, 15)))
	fetched := time.Date(2024, 3, 16, 1, 2, 3, 0, time.UTC)
	m := Manifest{Dataset: spx.Greeks, Root: "SPXW", Date: spx.NewDate(2024, 3, 15), Files: []ManifestFile{
		{File: "exp=2024-03-18.parquet", Expiration: spx.NewDate(2024, 3, 18), Rows: 20, Bytes: 300, SHA256: "bb", Source: "http://x", FetchedAt: fetched},
		{File: "exp=2024-03-15.parquet", Expiration: spx.NewDate(2024, 3, 15), Rows: 10, Bytes: 200, SHA256: "aa"},
	}}
	sum1, err := WriteManifest(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := m
	want.SchemaVersion = SchemaVersion
	want.Files = []ManifestFile{m.Files[1], m.Files[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Order of input files does not matter: same bytes, same checksum.
	m.Files[0], m.Files[1] = m.Files[1], m.Files[0]
	sum2, err := WriteManifest(dir, m)
	if err != nil || sum1 != sum2 || len(sum1) != 64 {
		t.Fatalf("checksums %s %s, %v", sum1, sum2, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("day directory holds %v, want only the manifest", ents)
	}
	if _, err := WriteManifest(dir, Manifest{Files: []ManifestFile{{File: "../x"}}}); err == nil {
		t.Fatal("path in file name accepted")
	}
	if _, err := ReadManifest(t.TempDir()); err == nil {
		t.Fatal("missing manifest read without error")
	}
}
